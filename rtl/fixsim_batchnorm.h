// fixsim rtl: BatchNormalization as its own layer (inference form, not folded).
//
//   result_t r = x * scale[c] + bias[c];
// the exact product (ap_fixed<Wx+Ws, Ix+Is>), the exact sum with the bias, and one
// conversion into result_t, as hls4ml's nnet::normalize (nnet_batchnorm.h). The stream is
// (pixel, channel) with the channel innermost: (h, w, c) of a map, (l, c) of a sequence,
// or the features of a vector (one pixel of `channels` features).
#ifndef FIXSIM_BATCHNORM_H_
#define FIXSIM_BATCHNORM_H_

#include "fixsim_common.h"

namespace fixsim {

template <class CONFIG_T>
void batchnorm(hls::stream<typename CONFIG_T::input_t>& in,
               hls::stream<typename CONFIG_T::result_t>& out,
               const typename CONFIG_T::scale_t scale[CONFIG_T::n_scales],
               const typename CONFIG_T::bias_t bias[CONFIG_T::n_biases]) {
    typedef typename CONFIG_T::input_t input_t;
    typedef typename CONFIG_T::result_t result_t;
Pixels:
    for (unsigned p = 0; p < CONFIG_T::n_pixels; p++) {
    Channels:
        for (unsigned c = 0; c < CONFIG_T::channels; c++) {
#pragma HLS PIPELINE II = 1
            input_t x = in.read();
            result_t r = x * scale[c] + bias[c];
            out.write(r);
        }
    }
}

}  // namespace fixsim

#endif  // FIXSIM_BATCHNORM_H_
