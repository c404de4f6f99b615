// fixsim rtl: MaxPool1D (kernel, stride, floor or ceil mode), in the input format.
//
// Stream order in and out: (l, c). Loop order (docs/datapath.md, "MaxPool1D"):
//   for ol, for c: for kw: max over the valid elements of the window
// A window that runs past the end (ceil mode) takes the max of the elements that exist,
// as PyTorch does (no padding value). Every window starts inside the input (the output
// length from the spec makes it so).
#ifndef FIXSIM_MAXPOOL1D_H_
#define FIXSIM_MAXPOOL1D_H_

#include "fixsim_common.h"
#include "fixsim_conv1d.h"

namespace fixsim {

template <class CONFIG_T>
void maxpool1d(hls::stream<typename CONFIG_T::input_t>& in,
               hls::stream<typename CONFIG_T::result_t>& out) {
    typedef typename CONFIG_T::input_t input_t;
    typedef typename CONFIG_T::result_t result_t;

    input_t buf[CONFIG_T::channels][CONFIG_T::in_width];
#pragma HLS ARRAY_PARTITION variable = buf complete dim = 1

    read_frame_1d<input_t, CONFIG_T::channels, CONFIG_T::in_width>(in, buf);

OutW:
    for (unsigned ol = 0; ol < CONFIG_T::out_width; ol++) {
    OutC:
        for (unsigned c = 0; c < CONFIG_T::channels; c++) {
#pragma HLS PIPELINE II = 1
            input_t m = 0;
            bool first = true;
        WinW:
            for (unsigned kw = 0; kw < CONFIG_T::kernel_w; kw++) {
                const unsigned l = ol * CONFIG_T::stride_w + kw;
                if (l < CONFIG_T::in_width) {
                    input_t x = buf[c][l];
                    if (first || x > m) m = x;
                    first = false;
                }
            }
            result_t r = m;
            out.write(r);
        }
    }
}

}  // namespace fixsim

#endif  // FIXSIM_MAXPOOL1D_H_
