// fixsim rtl: Flatten of a (h, w, c)-streamed feature map into dense features.
//
// order hwc: the stream already is the feature order (index (h * W + w) * C + c): a copy.
// order chw: PyTorch order (index (c * H + h) * W + w): the map is buffered and re-read.
// Values keep the input format.
#ifndef FIXSIM_FLATTEN_H_
#define FIXSIM_FLATTEN_H_

#include "fixsim_common.h"

namespace fixsim {

template <class CONFIG_T>
void flatten(hls::stream<typename CONFIG_T::input_t>& in,
             hls::stream<typename CONFIG_T::result_t>& out) {
    typedef typename CONFIG_T::input_t input_t;
    typedef typename CONFIG_T::result_t result_t;
    if (CONFIG_T::order == FLATTEN_HWC) {
    Copy:
        for (unsigned i = 0; i < CONFIG_T::channels * CONFIG_T::height * CONFIG_T::width; i++) {
#pragma HLS PIPELINE II = 1
            result_t r = in.read();
            out.write(r);
        }
        return;
    }
    input_t buf[CONFIG_T::channels][CONFIG_T::height][CONFIG_T::width];
ReadH:
    for (unsigned h = 0; h < CONFIG_T::height; h++) {
    ReadW:
        for (unsigned w = 0; w < CONFIG_T::width; w++) {
        ReadC:
            for (unsigned c = 0; c < CONFIG_T::channels; c++) {
#pragma HLS PIPELINE II = 1
                buf[c][h][w] = in.read();
            }
        }
    }
WriteC:
    for (unsigned c = 0; c < CONFIG_T::channels; c++) {
    WriteH:
        for (unsigned h = 0; h < CONFIG_T::height; h++) {
        WriteW:
            for (unsigned w = 0; w < CONFIG_T::width; w++) {
#pragma HLS PIPELINE II = 1
                result_t r = buf[c][h][w];
                out.write(r);
            }
        }
    }
}

}  // namespace fixsim

#endif  // FIXSIM_FLATTEN_H_
