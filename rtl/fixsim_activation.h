// fixsim rtl: standalone activation layers (relu, leaky_relu, linear), elementwise; the
// stream order is kept. The activation acts on the input value and its result is converted
// once to result_t: result_t y = act(x) (relu: y = x >= 0 ? x : 0; leaky: y = x or
// y = x * alpha, the exact product). Without a result format of its own, result_t is
// input_t (the value is kept; leaky's product is converted to the input type).
#ifndef FIXSIM_ACTIVATION_H_
#define FIXSIM_ACTIVATION_H_

#include "fixsim_common.h"

namespace fixsim {

template <class CONFIG_T>
void activation(hls::stream<typename CONFIG_T::input_t>& in,
                hls::stream<typename CONFIG_T::result_t>& out) {
    typedef typename CONFIG_T::input_t input_t;
    typedef typename CONFIG_T::result_t result_t;
Elem:
    for (unsigned i = 0; i < CONFIG_T::n_elements; i++) {
#pragma HLS PIPELINE II = 1
        input_t x = in.read();
        out.write(activate<input_t, result_t, CONFIG_T>(x));
    }
}

}  // namespace fixsim

#endif  // FIXSIM_ACTIVATION_H_
