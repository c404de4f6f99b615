// fixsim rtl: MaxPool2D (kernel, stride, floor or ceil mode), in the input format.
//
// Stream order in and out: (h, w, c). Loop order (docs/datapath.md):
//   for oh, for ow, for c: for kh, for kw: max over the valid elements of the window
// A window that runs past the bottom/right edge (ceil mode) takes the max of the elements
// that exist, as PyTorch does (no zero padding). Every window holds at least one element:
// the output sizes (from the spec) make every window start inside the input.
#ifndef FIXSIM_MAXPOOL2D_H_
#define FIXSIM_MAXPOOL2D_H_

#include "fixsim_common.h"

namespace fixsim {

template <class CONFIG_T>
void maxpool2d(hls::stream<typename CONFIG_T::input_t>& in,
               hls::stream<typename CONFIG_T::result_t>& out) {
    typedef typename CONFIG_T::input_t input_t;
    typedef typename CONFIG_T::result_t result_t;

    input_t buf[CONFIG_T::channels][CONFIG_T::in_height][CONFIG_T::in_width];
#pragma HLS ARRAY_PARTITION variable = buf complete dim = 1

    read_frame<input_t, CONFIG_T::channels, CONFIG_T::in_height, CONFIG_T::in_width>(in, buf);

OutH:
    for (unsigned oh = 0; oh < CONFIG_T::out_height; oh++) {
    OutW:
        for (unsigned ow = 0; ow < CONFIG_T::out_width; ow++) {
        OutC:
            for (unsigned c = 0; c < CONFIG_T::channels; c++) {
#pragma HLS PIPELINE II = 1
                input_t m = 0;
                bool first = true;
            WinH:
                for (unsigned kh = 0; kh < CONFIG_T::kernel_h; kh++) {
                WinW:
                    for (unsigned kw = 0; kw < CONFIG_T::kernel_w; kw++) {
                        const unsigned h = oh * CONFIG_T::stride_h + kh;
                        const unsigned w = ow * CONFIG_T::stride_w + kw;
                        if (h < CONFIG_T::in_height && w < CONFIG_T::in_width) {
                            input_t x = buf[c][h][w];
                            if (first || x > m) m = x;
                            first = false;
                        }
                    }
                }
                result_t r = m;
                out.write(r);
            }
        }
    }
}

}  // namespace fixsim

#endif  // FIXSIM_MAXPOOL2D_H_
