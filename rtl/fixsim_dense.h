// fixsim rtl: Dense (fully connected, bias, fused activation).
//
// Stream order in: the feature order of the previous layer (a flatten's order, or a
// dense layer's outputs). Weights: (out_features, in_features), flat, row-major, with the
// columns in the *stream* order: when the features come from an (h, w, c) flatten, the
// host writes the PyTorch (c, h, w) columns permuted into that order
// (fixsim::tb::permute_columns_chw_to_hwc). Loop order (docs/datapath.md):
//   for o: acc = accum_t(bias[o]); for i: acc += product(x[i], w[o][i]); out = finish(acc)
#ifndef FIXSIM_DENSE_H_
#define FIXSIM_DENSE_H_

#include "fixsim_common.h"

namespace fixsim {

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
    Sum:
        for (unsigned i = 0; i < CONFIG_T::in_features; i++) {
#pragma HLS PIPELINE II = 1
            mac<CONFIG_T>(acc, buf[i], weights[o * CONFIG_T::in_features + i]);
        }
        out.write(finish<CONFIG_T>(acc));
    }
}

}  // namespace fixsim

#endif  // FIXSIM_DENSE_H_
