// fixsim rtl: Conv1D (kernel, stride, zero padding left/right, bias, fused activation).
//
// Stream order in and out: positions in order, channels innermost (l, c).
// Weights: PyTorch order (out_channels, in_channels, kernel_w), flat, in a memory the
// host writes at run time. Loop order (docs/datapath.md, "Conv1D"):
//   for ol, for oc:                               (one output value each)
//     acc = accum_t(bias[oc])                      (or 0 without bias)
//     sum_order ci_kh_kw: for ci, for kw:          acc += product(x, w)
//     sum_order kh_kw_ci: for kw, for ci:          acc += product(x, w)
//     sum_order resource: for ir < R: for k = ir; k < KW*CI; k += R:
//                         kw = k / CI, ci = k % CI: acc += product(x, w)
//     out = finish(acc)                            (conversion to result_t + activation)
// x is the input at (ci, ol*stride_w + kw - pad_left), or zero outside the input (zero
// padding: a zero product leaves the accumulator unchanged). This is Conv2D with one row
// (kernel_h = 1): the same steps in the same order.
#ifndef FIXSIM_CONV1D_H_
#define FIXSIM_CONV1D_H_

#include "fixsim_common.h"

namespace fixsim {

template <class CONFIG_T>
typename CONFIG_T::input_t conv1d_pixel(
    const typename CONFIG_T::input_t buf[CONFIG_T::in_channels][CONFIG_T::in_width], unsigned ci,
    int l) {
#pragma HLS INLINE
    typename CONFIG_T::input_t x = 0;
    if (l >= 0 && l < (int)CONFIG_T::in_width) x = buf[ci][l];
    return x;
}

// The reduction of one output value, in the configured order.
template <class CONFIG_T, int ORDER>
struct conv1d_sum;

template <class CONFIG_T>
struct conv1d_sum<CONFIG_T, SUM_CI_KH_KW> {
    static void apply(typename CONFIG_T::accum_t& acc,
                      const typename CONFIG_T::input_t buf[CONFIG_T::in_channels][CONFIG_T::in_width],
                      const typename CONFIG_T::weight_t weights[CONFIG_T::n_weights], unsigned oc,
                      int l0) {
#pragma HLS INLINE
        const unsigned CI = CONFIG_T::in_channels, KW = CONFIG_T::kernel_w;
    SumCi:
        for (unsigned ci = 0; ci < CONFIG_T::in_channels; ci++) {
        SumKw:
            for (unsigned kw = 0; kw < CONFIG_T::kernel_w; kw++) {
#pragma HLS PIPELINE II = 1
                typename CONFIG_T::input_t x = conv1d_pixel<CONFIG_T>(buf, ci, l0 + (int)kw);
                mac<CONFIG_T>(acc, x, weights[(oc * CI + ci) * KW + kw]);
            }
        }
    }
};

template <class CONFIG_T>
struct conv1d_sum<CONFIG_T, SUM_KH_KW_CI> {
    static void apply(typename CONFIG_T::accum_t& acc,
                      const typename CONFIG_T::input_t buf[CONFIG_T::in_channels][CONFIG_T::in_width],
                      const typename CONFIG_T::weight_t weights[CONFIG_T::n_weights], unsigned oc,
                      int l0) {
#pragma HLS INLINE
        const unsigned CI = CONFIG_T::in_channels, KW = CONFIG_T::kernel_w;
    SumKw:
        for (unsigned kw = 0; kw < CONFIG_T::kernel_w; kw++) {
        SumCi:
            for (unsigned ci = 0; ci < CONFIG_T::in_channels; ci++) {
#pragma HLS PIPELINE II = 1
                typename CONFIG_T::input_t x = conv1d_pixel<CONFIG_T>(buf, ci, l0 + (int)kw);
                mac<CONFIG_T>(acc, x, weights[(oc * CI + ci) * KW + kw]);
            }
        }
    }
};

template <class CONFIG_T>
struct conv1d_sum<CONFIG_T, SUM_RESOURCE> {
    static void apply(typename CONFIG_T::accum_t& acc,
                      const typename CONFIG_T::input_t buf[CONFIG_T::in_channels][CONFIG_T::in_width],
                      const typename CONFIG_T::weight_t weights[CONFIG_T::n_weights], unsigned oc,
                      int l0) {
#pragma HLS INLINE
        const unsigned CI = CONFIG_T::in_channels, KW = CONFIG_T::kernel_w;
        const unsigned K = KW * CI, R = CONFIG_T::reuse_factor;
    SumReuse:
        for (unsigned ir = 0; ir < R; ir++) {
        SumBlock:
            for (unsigned k = ir; k < K; k += R) {
#pragma HLS PIPELINE II = 1
                const unsigned ci = k % CI, kw = k / CI;
                typename CONFIG_T::input_t x = conv1d_pixel<CONFIG_T>(buf, ci, l0 + (int)kw);
                mac<CONFIG_T>(acc, x, weights[(oc * CI + ci) * KW + kw]);
            }
        }
    }
};

// Read one (l, c)-ordered 1-D frame from a stream into a (c, l) buffer.
template <typename T, unsigned C, unsigned L>
void read_frame_1d(hls::stream<T>& in, T buf[C][L]) {
#pragma HLS INLINE
ReadL:
    for (unsigned l = 0; l < L; l++) {
    ReadC:
        for (unsigned c = 0; c < C; c++) {
#pragma HLS PIPELINE II = 1
            buf[c][l] = in.read();
        }
    }
}

template <class CONFIG_T>
void conv1d(hls::stream<typename CONFIG_T::input_t>& in,
            hls::stream<typename CONFIG_T::result_t>& out,
            const typename CONFIG_T::weight_t weights[CONFIG_T::n_weights],
            const typename CONFIG_T::bias_t biases[CONFIG_T::n_biases]) {
    typedef typename CONFIG_T::input_t input_t;
    typedef typename CONFIG_T::accum_t accum_t;

    input_t buf[CONFIG_T::in_channels][CONFIG_T::in_width];
#pragma HLS ARRAY_PARTITION variable = buf complete dim = 1

    read_frame_1d<input_t, CONFIG_T::in_channels, CONFIG_T::in_width>(in, buf);

OutW:
    for (unsigned ol = 0; ol < CONFIG_T::out_width; ol++) {
    OutC:
        for (unsigned oc = 0; oc < CONFIG_T::out_channels; oc++) {
            const int l0 = (int)(ol * CONFIG_T::stride_w) - (int)CONFIG_T::pad_left;
            accum_t acc = start<CONFIG_T>(biases, oc);
            conv1d_sum<CONFIG_T, CONFIG_T::sum_order>::apply(acc, buf, weights, oc, l0);
            out.write(finish<CONFIG_T>(acc));
        }
    }
}

}  // namespace fixsim

#endif  // FIXSIM_CONV1D_H_
