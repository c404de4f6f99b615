// fixsim rtl: ZeroPadding1D / ZeroPadding2D as layers, in the input format.
//
// Stream order in and out: (l, c) for 1-D maps, (h, w, c) for 2-D maps. Each output
// position inside the input copies the next input value; every other one is result_t(0)
// (raw 0, a value of every format). No value is converted: result_t is input_t.
#ifndef FIXSIM_ZEROPAD_H_
#define FIXSIM_ZEROPAD_H_

#include "fixsim_common.h"

namespace fixsim {

template <class CONFIG_T>
void zeropad1d(hls::stream<typename CONFIG_T::input_t>& in,
               hls::stream<typename CONFIG_T::result_t>& out) {
    typedef typename CONFIG_T::result_t result_t;
PadW:
    for (unsigned ol = 0; ol < CONFIG_T::out_width; ol++) {
        const bool inside = ol >= CONFIG_T::pad_left && ol < CONFIG_T::pad_left + CONFIG_T::in_width;
    PadC:
        for (unsigned c = 0; c < CONFIG_T::channels; c++) {
#pragma HLS PIPELINE II = 1
            result_t r = 0;
            if (inside) r = in.read();
            out.write(r);
        }
    }
}

template <class CONFIG_T>
void zeropad2d(hls::stream<typename CONFIG_T::input_t>& in,
               hls::stream<typename CONFIG_T::result_t>& out) {
    typedef typename CONFIG_T::result_t result_t;
PadH:
    for (unsigned oh = 0; oh < CONFIG_T::out_height; oh++) {
        const bool row = oh >= CONFIG_T::pad_top && oh < CONFIG_T::pad_top + CONFIG_T::in_height;
    PadW:
        for (unsigned ow = 0; ow < CONFIG_T::out_width; ow++) {
            const bool inside =
                row && ow >= CONFIG_T::pad_left && ow < CONFIG_T::pad_left + CONFIG_T::in_width;
        PadC:
            for (unsigned c = 0; c < CONFIG_T::channels; c++) {
#pragma HLS PIPELINE II = 1
                result_t r = 0;
                if (inside) r = in.read();
                out.write(r);
            }
        }
    }
}

}  // namespace fixsim

#endif  // FIXSIM_ZEROPAD_H_
