// fixsim rtl: input quantization, float to the input format (ap_fixed's double
// constructor: input_t x = value), emitted as a (h, w, c) stream.
//
// Host side of the design: the frame arrives as doubles in PyTorch (c, h, w) order.
#ifndef FIXSIM_INPUT_H_
#define FIXSIM_INPUT_H_

#include "fixsim_common.h"

namespace fixsim {

template <class CONFIG_T>
void quantize_input(const double frame[CONFIG_T::channels * CONFIG_T::height * CONFIG_T::width],
                    hls::stream<typename CONFIG_T::result_t>& out) {
    typedef typename CONFIG_T::result_t result_t;
QuantH:
    for (unsigned h = 0; h < CONFIG_T::height; h++) {
    QuantW:
        for (unsigned w = 0; w < CONFIG_T::width; w++) {
        QuantC:
            for (unsigned c = 0; c < CONFIG_T::channels; c++) {
#pragma HLS PIPELINE II = 1
                result_t x = frame[(c * CONFIG_T::height + h) * CONFIG_T::width + w];
                out.write(x);
            }
        }
    }
}

}  // namespace fixsim

#endif  // FIXSIM_INPUT_H_
