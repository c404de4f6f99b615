// fixsim rtl: average pooling (AvgPool2D, global average) and global max pooling.
//
// Stream order in: (h, w, c); out: (oh, ow, c), or c for the global layers. The 1-D
// layers use the same templates: avgpool1d is avgpool2d with in_height = kernel_h = 1
// (the (l, c) stream of a (C, L) map), the global ones count n_pixels = L.
// Arithmetic (docs/datapath.md, "AvgPool2D and global pooling"), for each window:
//   sum   term exact:    acc += x             acc = accum_t(acc + x)
//         term to_accum: acc += (accum_t)x    acc = accum_t(acc + accum_t(x))
//         tree:          leaves accum_t(x), nodes accum_t(a + b), hls4ml's nnet::reduce
//   scale divide:        acc /= n; result_t r = acc     (quotient truncated toward zero)
//         reciprocal:    result_t r = acc * scale_t(1.0 / n)
// n is kernel_h * kernel_w, or (count_pad false) the number of window taps inside the
// input; taps in the zero padding add nothing (acc + 0 == acc in every mode) and are
// zero leaves of the tree.
#ifndef FIXSIM_AVGPOOL_H_
#define FIXSIM_AVGPOOL_H_

#include "fixsim_common.h"

namespace fixsim {

// How an element enters the sum.
enum pool_term {
    POOL_TERM_EXACT = 0,    // acc += x: the exact sum converted to accum_t
    POOL_TERM_TO_ACCUM = 1  // acc += (accum_t)x: the element converted to accum_t first
};

// The order of a window's sum.
enum pool_sum {
    POOL_SUM_SEQUENTIAL = 0,  // raster order (kh, kw)
    POOL_SUM_TREE = 1         // hls4ml's balanced tree (nnet::reduce) over the raster order
};

// How the sum is scaled by 1/n.
enum pool_scaling {
    POOL_SCALE_DIVIDE = 0,     // acc /= n (ap_fixed / unsigned)
    POOL_SCALE_RECIPROCAL = 1  // acc * scale_t(1.0 / n), the exact product into result_t
};

template <class CONFIG_T, int TERM>
struct pool_add;

template <class CONFIG_T>
struct pool_add<CONFIG_T, POOL_TERM_EXACT> {
    static void apply(typename CONFIG_T::accum_t& acc, typename CONFIG_T::input_t x) {
#pragma HLS INLINE
        acc += x;
    }
};

template <class CONFIG_T>
struct pool_add<CONFIG_T, POOL_TERM_TO_ACCUM> {
    static void apply(typename CONFIG_T::accum_t& acc, typename CONFIG_T::input_t x) {
#pragma HLS INLINE
        typedef typename CONFIG_T::accum_t accum_t;
        acc += (accum_t)x;
    }
};

// hls4ml's nnet::reduce with Op_add<T>: reduce(x, N) = x[0] (N = 1), x[0] + x[1]
// (N = 2), else reduce(x, L) + reduce(x + L, N - L) with L = 2^floor(log2(N - 1));
// every node converted to T.
template <int N>
struct tree_split {
    static const int half = tree_split<N / 2>::half * 2;  // 2^floor(log2(N))
};
template <>
struct tree_split<1> {
    static const int half = 1;
};

template <class T, int N>
struct tree_sum {
    static const int left = tree_split<N - 1>::half;
    static T apply(const T* x) {
#pragma HLS INLINE
        T s = tree_sum<T, left>::apply(x) + tree_sum<T, N - left>::apply(x + left);
        return s;
    }
};
template <class T>
struct tree_sum<T, 2> {
    static T apply(const T* x) {
#pragma HLS INLINE
        T s = x[0] + x[1];
        return s;
    }
};
template <class T>
struct tree_sum<T, 1> {
    static T apply(const T* x) {
#pragma HLS INLINE
        return x[0];
    }
};

template <class CONFIG_T, int SCALING>
struct pool_scale;

template <class CONFIG_T>
struct pool_scale<CONFIG_T, POOL_SCALE_DIVIDE> {
    static typename CONFIG_T::result_t apply(typename CONFIG_T::accum_t acc, unsigned n) {
#pragma HLS INLINE
        typedef typename CONFIG_T::result_t result_t;
        acc /= n;
        result_t r = acc;
        return r;
    }
};

template <class CONFIG_T>
struct pool_scale<CONFIG_T, POOL_SCALE_RECIPROCAL> {
    static typename CONFIG_T::result_t apply(typename CONFIG_T::accum_t acc, unsigned n) {
#pragma HLS INLINE
        typedef typename CONFIG_T::result_t result_t;
        typedef typename CONFIG_T::scale_t scale_t;
        // A constant per window size: ap_fixed's double constructor on 1.0 / n.
        const double inverse = 1.0 / (double)n;
        scale_t k = inverse;
        result_t r = acc * k;
        return r;
    }
};

// The sum of one window of a (c, h, w) buffer; taps outside the input count nothing.
template <class CONFIG_T, int SUM>
struct window_sum;

template <class CONFIG_T>
struct window_sum<CONFIG_T, POOL_SUM_SEQUENTIAL> {
    template <class B>
    static typename CONFIG_T::accum_t apply(const B& buf, unsigned c, int h0, int w0,
                                            unsigned& count) {
#pragma HLS INLINE
        typename CONFIG_T::accum_t acc = 0;
    WinH:
        for (unsigned kh = 0; kh < CONFIG_T::kernel_h; kh++) {
        WinW:
            for (unsigned kw = 0; kw < CONFIG_T::kernel_w; kw++) {
                const int h = h0 + (int)kh, w = w0 + (int)kw;
                if (h >= 0 && h < (int)CONFIG_T::in_height && w >= 0 && w < (int)CONFIG_T::in_width) {
                    pool_add<CONFIG_T, CONFIG_T::term>::apply(acc, buf[c][h][w]);
                    count++;
                }
            }
        }
        return acc;
    }
};

template <class CONFIG_T>
struct window_sum<CONFIG_T, POOL_SUM_TREE> {
    template <class B>
    static typename CONFIG_T::accum_t apply(const B& buf, unsigned c, int h0, int w0,
                                            unsigned& count) {
#pragma HLS INLINE
        typedef typename CONFIG_T::accum_t accum_t;
        accum_t leaves[CONFIG_T::kernel_h * CONFIG_T::kernel_w];
#pragma HLS ARRAY_PARTITION variable = leaves complete
    LeafH:
        for (unsigned kh = 0; kh < CONFIG_T::kernel_h; kh++) {
        LeafW:
            for (unsigned kw = 0; kw < CONFIG_T::kernel_w; kw++) {
                const int h = h0 + (int)kh, w = w0 + (int)kw;
                accum_t leaf = 0;
                if (h >= 0 && h < (int)CONFIG_T::in_height && w >= 0 && w < (int)CONFIG_T::in_width) {
                    leaf = buf[c][h][w];
                    count++;
                }
                leaves[kh * CONFIG_T::kernel_w + kw] = leaf;
            }
        }
        return tree_sum<accum_t, CONFIG_T::kernel_h * CONFIG_T::kernel_w>::apply(leaves);
    }
};

// AvgPool2D: floor mode over the input with pad_top / pad_left zero rows/columns before
// it (and as many after).
template <class CONFIG_T>
void avgpool2d(hls::stream<typename CONFIG_T::input_t>& in,
               hls::stream<typename CONFIG_T::result_t>& out) {
    typedef typename CONFIG_T::input_t input_t;

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
                const int h0 = (int)(oh * CONFIG_T::stride_h) - (int)CONFIG_T::pad_top;
                const int w0 = (int)(ow * CONFIG_T::stride_w) - (int)CONFIG_T::pad_left;
                unsigned count = 0;
                typename CONFIG_T::accum_t acc =
                    window_sum<CONFIG_T, CONFIG_T::sum_order>::apply(buf, c, h0, w0, count);
                const unsigned n = CONFIG_T::count_pad ? CONFIG_T::kernel_h * CONFIG_T::kernel_w : count;
                out.write(pool_scale<CONFIG_T, CONFIG_T::scaling>::apply(acc, n));
            }
        }
    }
}

// Global average: one accumulator per channel, the elements in stream (raster) order.
template <class CONFIG_T>
void global_avgpool(hls::stream<typename CONFIG_T::input_t>& in,
                    hls::stream<typename CONFIG_T::result_t>& out) {
    typename CONFIG_T::accum_t acc[CONFIG_T::channels];
#pragma HLS ARRAY_PARTITION variable = acc complete
Init:
    for (unsigned c = 0; c < CONFIG_T::channels; c++) acc[c] = 0;
Pixels:
    for (unsigned p = 0; p < CONFIG_T::n_pixels; p++) {
    Channels:
        for (unsigned c = 0; c < CONFIG_T::channels; c++) {
#pragma HLS PIPELINE II = 1
            pool_add<CONFIG_T, CONFIG_T::term>::apply(acc[c], in.read());
        }
    }
Scale:
    for (unsigned c = 0; c < CONFIG_T::channels; c++) {
#pragma HLS PIPELINE II = 1
        out.write(pool_scale<CONFIG_T, CONFIG_T::scaling>::apply(acc[c], CONFIG_T::n_pixels));
    }
}

// Global max: term exact: result_t(accum_t(max x)) (hls4ml io_parallel); term to_accum:
// result_t(max accum_t(x)) (hls4ml io_stream).
template <class CONFIG_T, int TERM>
struct max_term;

template <class CONFIG_T>
struct max_term<CONFIG_T, POOL_TERM_EXACT> {
    typedef typename CONFIG_T::input_t type;
    static type apply(typename CONFIG_T::input_t x) {
#pragma HLS INLINE
        return x;
    }
};

template <class CONFIG_T>
struct max_term<CONFIG_T, POOL_TERM_TO_ACCUM> {
    typedef typename CONFIG_T::accum_t type;
    static type apply(typename CONFIG_T::input_t x) {
#pragma HLS INLINE
        type a = x;
        return a;
    }
};

template <class CONFIG_T>
void global_maxpool(hls::stream<typename CONFIG_T::input_t>& in,
                    hls::stream<typename CONFIG_T::result_t>& out) {
    typedef max_term<CONFIG_T, CONFIG_T::term> term_t;
    typedef typename term_t::type max_t;
    typedef typename CONFIG_T::accum_t accum_t;
    typedef typename CONFIG_T::result_t result_t;
    max_t m[CONFIG_T::channels];
#pragma HLS ARRAY_PARTITION variable = m complete
Pixels:
    for (unsigned p = 0; p < CONFIG_T::n_pixels; p++) {
    Channels:
        for (unsigned c = 0; c < CONFIG_T::channels; c++) {
#pragma HLS PIPELINE II = 1
            max_t v = term_t::apply(in.read());
            if (p == 0 || v > m[c]) m[c] = v;
        }
    }
Result:
    for (unsigned c = 0; c < CONFIG_T::channels; c++) {
#pragma HLS PIPELINE II = 1
        accum_t a = m[c];
        result_t r = a;
        out.write(r);
    }
}

}  // namespace fixsim

#endif  // FIXSIM_AVGPOOL_H_
