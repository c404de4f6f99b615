// fixsim rtl: sigmoid and tanh through one lookup table, elementwise; the stream order is
// kept. The table and the index are hls4ml 1.3.0's (nnet_activation.h, nnet::sigmoid and
// nnet::tanh), with the table size, the input range R and the table format as parameters
// (docs/datapath.md, "Lookup-table activations"):
//
//   table[i] = table_t(f(float(2 * R * (i - N/2.0) / N)))       f in float: expf / tanhf
//   q = int(x * N / (2R))     the ap_fixed quotient keeps x's LSB and is cut toward zero
//                             there, then to an int toward zero (hls4ml); or the exact floor
//   y = result_t(table[clamp(q + N/2, 0, N - 1)])
#ifndef FIXSIM_LUT_ACTIVATION_H_
#define FIXSIM_LUT_ACTIVATION_H_

#include <cmath>

#include "fixsim_common.h"

namespace fixsim {

// The tabulated function.
enum lut_function {
    LUT_SIGMOID = 0,  // 1 / (1 + e^-x)
    LUT_TANH = 1      // tanh(x)
};

// How x * N / (2R) becomes an integer.
enum lut_index {
    LUT_INDEX_TRUNC = 0,  // toward zero (hls4ml: the quotient assigned to an int)
    LUT_INDEX_FLOOR = 1   // toward -inf
};

// One table value in single precision, written as hls4ml writes it.
template <int FUNCTION>
struct lut_fn;

template <>
struct lut_fn<LUT_SIGMOID> {
    static float apply(float x) { return 1.0 / (1 + std::exp(-x)); }
};

template <>
struct lut_fn<LUT_TANH> {
    static float apply(float x) { return std::tanh(x); }
};

// hls4ml's init_sigmoid_table / init_tanh_table with R = CONFIG_T::range (8 and 4 there).
template <class CONFIG_T>
void init_lut(typename CONFIG_T::table_t table_out[CONFIG_T::table_size]) {
    for (int ii = 0; ii < (int)CONFIG_T::table_size; ii++) {
        // the sample point of entry ii: double arithmetic, stored as a float
        float in_val = 2 * (double)CONFIG_T::range * (ii - float(CONFIG_T::table_size) / 2.0) /
                       float(CONFIG_T::table_size);
        typename CONFIG_T::table_t real_val = lut_fn<CONFIG_T::function>::apply(in_val);
        table_out[ii] = real_val;
    }
}

template <class CONFIG_T, int INDEX>
struct lut_round;

template <class CONFIG_T>
struct lut_round<CONFIG_T, LUT_INDEX_TRUNC> {
    static int apply(typename CONFIG_T::input_t x) {
#pragma HLS INLINE
        int data_round = x * CONFIG_T::table_size / CONFIG_T::index_divisor;
        return data_round;
    }
};

template <class CONFIG_T>
struct lut_round<CONFIG_T, LUT_INDEX_FLOOR> {
    static int apply(typename CONFIG_T::input_t x) {
#pragma HLS INLINE
        // index_t is x with at least the integer LSB (exact), so the ap_fixed quotient is
        // cut at or below 1 and the int conversion cuts it toward zero: trunc(x * N / 2R)
        typename CONFIG_T::index_t xe = x;
        int data_round = xe * CONFIG_T::table_size / CONFIG_T::index_divisor;
        // one less when the quotient was negative and not exact
        if (xe * CONFIG_T::table_size < (long long)data_round * CONFIG_T::index_divisor)
            data_round -= 1;
        return data_round;
    }
};

template <class CONFIG_T>
void lut_activation(hls::stream<typename CONFIG_T::input_t>& in,
                    hls::stream<typename CONFIG_T::result_t>& out) {
    typedef typename CONFIG_T::input_t input_t;
    typedef typename CONFIG_T::result_t result_t;
    typedef typename CONFIG_T::table_t table_t;
#ifdef __HLS_SYN__
    bool initialized = false;
    table_t table[CONFIG_T::table_size];
#else
    static bool initialized = false;
    static table_t table[CONFIG_T::table_size];
#endif
    if (!initialized) {
        init_lut<CONFIG_T>(table);
        initialized = true;
    }
Elem:
    for (unsigned i = 0; i < CONFIG_T::n_elements; i++) {
#pragma HLS PIPELINE II = 1
        input_t x = in.read();
        int index = lut_round<CONFIG_T, CONFIG_T::index>::apply(x) + (int)(CONFIG_T::table_size / 2);
        if (index < 0) index = 0;
        if (index > (int)CONFIG_T::table_size - 1) index = CONFIG_T::table_size - 1;
        result_t y = table[index];
        out.write(y);
    }
}

}  // namespace fixsim

#endif  // FIXSIM_LUT_ACTIVATION_H_
