// fixsim rtl: standalone activation layers (relu, leaky_relu, linear), elementwise in the
// previous result format (input_t == result_t); the stream order is kept.
#ifndef FIXSIM_ACTIVATION_H_
#define FIXSIM_ACTIVATION_H_

#include "fixsim_common.h"

namespace fixsim {

template <class CONFIG_T>
void activation(hls::stream<typename CONFIG_T::input_t>& in,
                hls::stream<typename CONFIG_T::result_t>& out) {
    typedef typename CONFIG_T::result_t result_t;
Elem:
    for (unsigned i = 0; i < CONFIG_T::n_elements; i++) {
#pragma HLS PIPELINE II = 1
        result_t x = in.read();
        out.write(activate<result_t, result_t, CONFIG_T>(x));
    }
}

}  // namespace fixsim

#endif  // FIXSIM_ACTIVATION_H_
