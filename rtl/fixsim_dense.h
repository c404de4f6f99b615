// fixsim rtl: Dense (fully connected, bias, fused activation).
//
// Stream order in: the feature order of the previous layer (a flatten's order, or a
// dense layer's outputs). Weights: (out_features, in_features), flat, row-major, with the
// columns in the *stream* order: when the features come from an (h, w, c) flatten, the
// host writes the PyTorch (c, h, w) columns permuted into that order
// (fixsim::tb::permute_columns_chw_to_hwc). Loop order (docs/datapath.md):
//   for o: acc = accum_t(bias[o]); for i: acc += product(x[i], w[o][i]); out = finish(acc)
// (sum_order resource, reuse factor R > 1: for ir < R: for i = ir, ir + R, ... instead)
// dense_map: the same dense at every position of a 1-D (C, L) map (Keras/hls4ml Dense on
// an (N, F) tensor): in (l, c) order, in_features = C values per position, out (l, o).
#ifndef FIXSIM_DENSE_H_
#define FIXSIM_DENSE_H_

#include "fixsim_common.h"

namespace fixsim {

// The sum of one output: i = 0..K-1 in order, or (reuse_factor R > 1: sum_order resource,
// hls4ml's Resource strategy) for ir < R: for i = ir, ir + R, ... < K.
template <class CONFIG_T, bool INTERLEAVED>
struct dense_sum {
    static void apply(typename CONFIG_T::accum_t& acc,
                      const typename CONFIG_T::input_t buf[CONFIG_T::in_features],
                      const typename CONFIG_T::weight_t weights[CONFIG_T::n_weights], unsigned o) {
#pragma HLS INLINE
    Sum:
        for (unsigned i = 0; i < CONFIG_T::in_features; i++) {
#pragma HLS PIPELINE II = 1
            mac<CONFIG_T>(acc, buf[i], weights[o * CONFIG_T::in_features + i]);
        }
    }
};

template <class CONFIG_T>
struct dense_sum<CONFIG_T, true> {
    static void apply(typename CONFIG_T::accum_t& acc,
                      const typename CONFIG_T::input_t buf[CONFIG_T::in_features],
                      const typename CONFIG_T::weight_t weights[CONFIG_T::n_weights], unsigned o) {
#pragma HLS INLINE
        const unsigned K = CONFIG_T::in_features, R = CONFIG_T::reuse_factor;
    SumReuse:
        for (unsigned ir = 0; ir < R; ir++) {
        SumBlock:
            for (unsigned i = ir; i < K; i += R) {
#pragma HLS PIPELINE II = 1
                mac<CONFIG_T>(acc, buf[i], weights[o * K + i]);
            }
        }
    }
};

template <class CONFIG_T>
void dense(hls::stream<typename CONFIG_T::input_t>& in,
           hls::stream<typename CONFIG_T::result_t>& out,
           const typename CONFIG_T::weight_t weights[CONFIG_T::n_weights],
           const typename CONFIG_T::bias_t biases[CONFIG_T::n_biases]) {
    typedef typename CONFIG_T::input_t input_t;
    typedef typename CONFIG_T::accum_t accum_t;

    input_t buf[CONFIG_T::in_features];
Read:
    for (unsigned i = 0; i < CONFIG_T::in_features; i++) {
#pragma HLS PIPELINE II = 1
        buf[i] = in.read();
    }

Out:
    for (unsigned o = 0; o < CONFIG_T::out_features; o++) {
        accum_t acc = start<CONFIG_T>(biases, o);
        dense_sum<CONFIG_T, (CONFIG_T::reuse_factor > 1)>::apply(acc, buf, weights, o);
        out.write(finish<CONFIG_T>(acc));
    }
}

template <class CONFIG_T>
void dense_map(hls::stream<typename CONFIG_T::input_t>& in,
               hls::stream<typename CONFIG_T::result_t>& out,
               const typename CONFIG_T::weight_t weights[CONFIG_T::n_weights],
               const typename CONFIG_T::bias_t biases[CONFIG_T::n_biases]) {
Positions:
    for (unsigned l = 0; l < CONFIG_T::n_positions; l++) {
        dense<CONFIG_T>(in, out, weights, biases);
    }
}

}  // namespace fixsim

#endif  // FIXSIM_DENSE_H_
