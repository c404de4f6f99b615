// fixsim rtl: softmax over the channels of every position through an exp table and an
// inverse table, as hls4ml 1.3.0's nnet::softmax_latency / nnet::softmax_stable compute
// it (nnet_activation.h; docs/datapath.md, "Lookup-table activations").
//
// Stream order in and out: positions, channels innermost ((h, w, c), (l, c) or the
// features of a vector), so each softmax reads `channels` consecutive values:
//   latency: e_c = accum_t(exp_table[top bits of x_c])
//   stable:  e_c = accum_t(exp_table[top bits of inp_norm_t(max - x_c)])  (table of e^-v)
//   s = inv_inp_t(tree sum of the e_c in accum_t)       (hls4ml's balanced nnet::reduce)
//   y_c = result_t(e_c * inv_table[top bits of s])
#ifndef FIXSIM_SOFTMAX_H_
#define FIXSIM_SOFTMAX_H_

#include <cmath>

#include "fixsim_common.h"

namespace fixsim {

enum softmax_impl {
    SOFTMAX_LATENCY = 0,  // exp table addressed by the input
    SOFTMAX_STABLE = 1    // exp table addressed by max - input (hls4ml's default)
};

// The largest power of two <= x (x >= 1): hls4ml's pow2(floorlog2(x)).
constexpr int pow2_floor(int x) { return x < 2 ? 1 : 2 * pow2_floor(x / 2); }

// hls4ml's balanced tree reduce (nnet::reduce): the first pow2_floor(N - 1) values on the
// left, the rest on the right, each pair combined by op (which converts to T).
template <class T, int N, class Op>
struct tree {
    static T reduce(const T* x, Op op) {
#pragma HLS INLINE
        return op(tree<T, pow2_floor(N - 1), Op>::reduce(x, op),
                  tree<T, N - pow2_floor(N - 1), Op>::reduce(x + pow2_floor(N - 1), op));
    }
};

template <class T, class Op>
struct tree<T, 1, Op> {
    static T reduce(const T* x, Op op) {
#pragma HLS INLINE
        return x[0];
    }
};

template <class T>
struct op_add {
    T operator()(T a, T b) { return a + b; }
};

template <class T>
struct op_max {
    T operator()(T a, T b) { return a >= b ? a : b; }
};

// The value of data_T whose top BITS bits are i (the others zero), as a float.
template <class data_T, int BITS>
float table_point(unsigned i) {
    data_T x(0);
    x(x.width - 1, x.width - BITS) = i;
    return (float)x;
}

// The table index of x: its top BITS bits.
template <class data_T, int BITS>
unsigned table_index(data_T x) {
#pragma HLS INLINE
    ap_uint<BITS> y = x(x.width - 1, x.width - BITS);
    return (unsigned)y(BITS - 1, 0);
}

// The exp table's index type: the input (latency) or inp_norm_t (stable).
template <class CONFIG_T, int IMPL>
struct softmax_exp;

template <class CONFIG_T>
struct softmax_exp<CONFIG_T, SOFTMAX_LATENCY> {
    typedef typename CONFIG_T::input_t index_t;
    static const bool negative = false;
    static void indices(const typename CONFIG_T::input_t data[CONFIG_T::channels],
                        unsigned idx[CONFIG_T::channels]) {
#pragma HLS INLINE
        for (unsigned c = 0; c < CONFIG_T::channels; c++) {
#pragma HLS UNROLL
            idx[c] = table_index<index_t, CONFIG_T::exp_index_bits>(data[c]);
        }
    }
};

template <class CONFIG_T>
struct softmax_exp<CONFIG_T, SOFTMAX_STABLE> {
    typedef typename CONFIG_T::inp_norm_t index_t;
    static const bool negative = true;
    static void indices(const typename CONFIG_T::input_t data[CONFIG_T::channels],
                        unsigned idx[CONFIG_T::channels]) {
#pragma HLS INLINE
        typedef typename CONFIG_T::input_t input_t;
        input_t x_max = tree<input_t, CONFIG_T::channels, op_max<input_t> >::reduce(
            data, op_max<input_t>());
        for (unsigned c = 0; c < CONFIG_T::channels; c++) {
#pragma HLS UNROLL
            index_t d = x_max - data[c];
            idx[c] = table_index<index_t, CONFIG_T::exp_index_bits>(d);
        }
    }
};

// hls4ml's init_exp_table: exp(+-float(x_i) * exp_scale) in single precision.
template <class CONFIG_T>
void init_exp_table(typename CONFIG_T::exp_table_t table_out[CONFIG_T::exp_table_size]) {
    typedef softmax_exp<CONFIG_T, CONFIG_T::implementation> E;
    for (unsigned i = 0; i < CONFIG_T::exp_table_size; i++) {
        float x = table_point<typename E::index_t, CONFIG_T::exp_index_bits>(i) * CONFIG_T::exp_scale;
        if (E::negative) x = -x;
        typename CONFIG_T::exp_table_t exp_x = std::exp(x);
        table_out[i] = exp_x;
    }
}

// hls4ml's init_invert_table: 1 / float(x_i) in single precision (1/0 = inf).
template <class CONFIG_T>
void init_inv_table(typename CONFIG_T::inv_table_t table_out[CONFIG_T::inv_table_size]) {
    for (unsigned i = 0; i < CONFIG_T::inv_table_size; i++) {
        float x = table_point<typename CONFIG_T::inv_inp_t, CONFIG_T::inv_index_bits>(i);
        typename CONFIG_T::inv_table_t inv_x = 1 / x;
        table_out[i] = inv_x;
    }
}

template <class CONFIG_T>
void softmax(hls::stream<typename CONFIG_T::input_t>& in,
             hls::stream<typename CONFIG_T::result_t>& out) {
    typedef typename CONFIG_T::input_t input_t;
    typedef typename CONFIG_T::result_t result_t;
    typedef typename CONFIG_T::accum_t accum_t;
    typedef typename CONFIG_T::exp_table_t exp_table_t;
    typedef typename CONFIG_T::inv_table_t inv_table_t;
    typedef typename CONFIG_T::inv_inp_t inv_inp_t;
#ifdef __HLS_SYN__
    bool initialized = false;
    exp_table_t exp_table[CONFIG_T::exp_table_size];
    inv_table_t inv_table[CONFIG_T::inv_table_size];
#else
    static bool initialized = false;
    static exp_table_t exp_table[CONFIG_T::exp_table_size];
    static inv_table_t inv_table[CONFIG_T::inv_table_size];
#endif
    if (!initialized) {
        init_exp_table<CONFIG_T>(exp_table);
        init_inv_table<CONFIG_T>(inv_table);
        initialized = true;
    }
Pos:
    for (unsigned p = 0; p < CONFIG_T::positions; p++) {
#pragma HLS PIPELINE II = CONFIG_T::channels
        input_t data[CONFIG_T::channels];
#pragma HLS ARRAY_PARTITION variable = data complete
        for (unsigned c = 0; c < CONFIG_T::channels; c++) data[c] = in.read();
        unsigned idx[CONFIG_T::channels];
        softmax_exp<CONFIG_T, CONFIG_T::implementation>::indices(data, idx);
        accum_t exp_res[CONFIG_T::channels];
#pragma HLS ARRAY_PARTITION variable = exp_res complete
        for (unsigned c = 0; c < CONFIG_T::channels; c++) exp_res[c] = exp_table[idx[c]];
        inv_inp_t exp_sum = tree<accum_t, CONFIG_T::channels, op_add<accum_t> >::reduce(
            exp_res, op_add<accum_t>());
        inv_table_t inv_exp_sum =
            inv_table[table_index<inv_inp_t, CONFIG_T::inv_index_bits>(exp_sum)];
        for (unsigned c = 0; c < CONFIG_T::channels; c++) {
            result_t y = exp_res[c] * inv_exp_sum;
            out.write(y);
        }
    }
}

}  // namespace fixsim

#endif  // FIXSIM_SOFTMAX_H_
