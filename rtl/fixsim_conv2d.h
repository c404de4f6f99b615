// fixsim rtl: Conv2D (kernel, stride, zero padding, bias, fused activation).
//
// Stream order in and out: pixels in raster order, channels innermost (h, w, c).
// Weights: PyTorch order (out_channels, in_channels, kernel_h, kernel_w), flat, in a
// memory the host writes at run time. Loop order (docs/datapath.md):
//   for oh, for ow, for oc:                        (one output value each)
//     acc = accum_t(bias[oc])                       (or 0 without bias)
//     sum_order ci_kh_kw: for ci, for kh, for kw:   acc += product(x, w)
//     sum_order kh_kw_ci: for kh, for kw, for ci:   acc += product(x, w)
//     sum_order resource: for ir < R: for k = ir; k < KH*KW*CI; k += R:
//         (kh, kw, ci) of k = (kh * KW + kw) * CI + ci:  acc += product(x, w)
//     out = finish(acc)                             (conversion to result_t + activation)
// x is the input at (ci, oh*stride_h + kh - pad_top, ow*stride_w + kw - pad_left), or
// zero outside the input (zero padding: a zero product leaves the accumulator unchanged).
#ifndef FIXSIM_CONV2D_H_
#define FIXSIM_CONV2D_H_

#include "fixsim_common.h"

namespace fixsim {

template <class CONFIG_T>
typename CONFIG_T::input_t conv2d_pixel(
    const typename CONFIG_T::input_t buf[CONFIG_T::in_channels][CONFIG_T::in_height]
                                        [CONFIG_T::in_width],
    unsigned ci, int h, int w) {
#pragma HLS INLINE
    typename CONFIG_T::input_t x = 0;
    if (h >= 0 && h < (int)CONFIG_T::in_height && w >= 0 && w < (int)CONFIG_T::in_width)
        x = buf[ci][h][w];
    return x;
}

// The reduction of one output value, in the configured order.
template <class CONFIG_T, int ORDER>
struct conv2d_sum;

template <class CONFIG_T>
struct conv2d_sum<CONFIG_T, SUM_CI_KH_KW> {
    static void apply(typename CONFIG_T::accum_t& acc,
                      const typename CONFIG_T::input_t buf[CONFIG_T::in_channels]
                                                          [CONFIG_T::in_height][CONFIG_T::in_width],
                      const typename CONFIG_T::weight_t weights[CONFIG_T::n_weights],
                      unsigned oc, int h0, int w0) {
#pragma HLS INLINE
        const unsigned CI = CONFIG_T::in_channels, KH = CONFIG_T::kernel_h, KW = CONFIG_T::kernel_w;
    SumCi:
        for (unsigned ci = 0; ci < CONFIG_T::in_channels; ci++) {
        SumKh:
            for (unsigned kh = 0; kh < CONFIG_T::kernel_h; kh++) {
            SumKw:
                for (unsigned kw = 0; kw < CONFIG_T::kernel_w; kw++) {
#pragma HLS PIPELINE II = 1
                    typename CONFIG_T::input_t x =
                        conv2d_pixel<CONFIG_T>(buf, ci, h0 + (int)kh, w0 + (int)kw);
                    mac<CONFIG_T>(acc, x, weights[((oc * CI + ci) * KH + kh) * KW + kw]);
                }
            }
        }
    }
};

template <class CONFIG_T>
struct conv2d_sum<CONFIG_T, SUM_KH_KW_CI> {
    static void apply(typename CONFIG_T::accum_t& acc,
                      const typename CONFIG_T::input_t buf[CONFIG_T::in_channels]
                                                          [CONFIG_T::in_height][CONFIG_T::in_width],
                      const typename CONFIG_T::weight_t weights[CONFIG_T::n_weights],
                      unsigned oc, int h0, int w0) {
#pragma HLS INLINE
        const unsigned CI = CONFIG_T::in_channels, KH = CONFIG_T::kernel_h, KW = CONFIG_T::kernel_w;
    SumKh:
        for (unsigned kh = 0; kh < CONFIG_T::kernel_h; kh++) {
        SumKw:
            for (unsigned kw = 0; kw < CONFIG_T::kernel_w; kw++) {
            SumCi:
                for (unsigned ci = 0; ci < CONFIG_T::in_channels; ci++) {
#pragma HLS PIPELINE II = 1
                    typename CONFIG_T::input_t x =
                        conv2d_pixel<CONFIG_T>(buf, ci, h0 + (int)kh, w0 + (int)kw);
                    mac<CONFIG_T>(acc, x, weights[((oc * CI + ci) * KH + kh) * KW + kw]);
                }
            }
        }
    }
};

template <class CONFIG_T>
struct conv2d_sum<CONFIG_T, SUM_RESOURCE> {
    static void apply(typename CONFIG_T::accum_t& acc,
                      const typename CONFIG_T::input_t buf[CONFIG_T::in_channels]
                                                          [CONFIG_T::in_height][CONFIG_T::in_width],
                      const typename CONFIG_T::weight_t weights[CONFIG_T::n_weights],
                      unsigned oc, int h0, int w0) {
#pragma HLS INLINE
        const unsigned CI = CONFIG_T::in_channels, KH = CONFIG_T::kernel_h, KW = CONFIG_T::kernel_w;
        const unsigned K = KH * KW * CI, R = CONFIG_T::reuse_factor;
    SumReuse:
        for (unsigned ir = 0; ir < R; ir++) {
        SumBlock:
            for (unsigned k = ir; k < K; k += R) {
#pragma HLS PIPELINE II = 1
                const unsigned ci = k % CI, kw = (k / CI) % KW, kh = k / (CI * KW);
                typename CONFIG_T::input_t x =
                    conv2d_pixel<CONFIG_T>(buf, ci, h0 + (int)kh, w0 + (int)kw);
                mac<CONFIG_T>(acc, x, weights[((oc * CI + ci) * KH + kh) * KW + kw]);
            }
        }
    }
};

template <class CONFIG_T>
void conv2d(hls::stream<typename CONFIG_T::input_t>& in,
            hls::stream<typename CONFIG_T::result_t>& out,
            const typename CONFIG_T::weight_t weights[CONFIG_T::n_weights],
            const typename CONFIG_T::bias_t biases[CONFIG_T::n_biases]) {
    typedef typename CONFIG_T::input_t input_t;
    typedef typename CONFIG_T::accum_t accum_t;

    input_t buf[CONFIG_T::in_channels][CONFIG_T::in_height][CONFIG_T::in_width];
#pragma HLS ARRAY_PARTITION variable = buf complete dim = 1

    read_frame<input_t, CONFIG_T::in_channels, CONFIG_T::in_height, CONFIG_T::in_width>(in, buf);

OutH:
    for (unsigned oh = 0; oh < CONFIG_T::out_height; oh++) {
    OutW:
        for (unsigned ow = 0; ow < CONFIG_T::out_width; ow++) {
        OutC:
            for (unsigned oc = 0; oc < CONFIG_T::out_channels; oc++) {
                const int h0 = (int)(oh * CONFIG_T::stride_h) - (int)CONFIG_T::pad_top;
                const int w0 = (int)(ow * CONFIG_T::stride_w) - (int)CONFIG_T::pad_left;
                accum_t acc = start<CONFIG_T>(biases, oc);
                conv2d_sum<CONFIG_T, CONFIG_T::sum_order>::apply(acc, buf, weights, oc, h0, w0);
                out.write(finish<CONFIG_T>(acc));
            }
        }
    }
}

}  // namespace fixsim

#endif  // FIXSIM_CONV2D_H_
