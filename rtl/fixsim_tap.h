// fixsim rtl: layer taps for C simulation (compiled only with -DFIXSIM_TAPS).
//
// FIXSIM_TAP_MAP / FIXSIM_TAP_SEQ / FIXSIM_TAP_VEC sit in the top function after each layer. In C
// simulation the layers run one after the other, so a layer's whole output is in its
// stream when the tap runs: the tap reads every value, records its raw mantissa (int64,
// sign-extended) at its PyTorch position ((c, h, w) for maps, feature index for vectors)
// and writes the values back in the same order. In synthesis the macros are empty.
#ifndef FIXSIM_TAP_H_
#define FIXSIM_TAP_H_

#ifdef FIXSIM_TAPS
#include <cstdint>
#include <vector>

#include "fixsim_common.h"

namespace fixsim {

template <class T>
struct fixed_traits;
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N>
struct fixed_traits<ap_fixed<W, I, Q, O, N> > {
    static const int width = W;
    static const bool is_signed = true;
};
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N>
struct fixed_traits<ap_ufixed<W, I, Q, O, N> > {
    static const int width = W;
    static const bool is_signed = false;
};

// The raw mantissa of x: its W register bits, sign-extended for signed formats.
template <class T>
int64_t raw_of(const T& x) {
    const int W = fixed_traits<T>::width;
    uint64_t u = x.bits_to_uint64();
    if (W < 64) {
        const uint64_t mask = (((uint64_t)1) << (W % 64)) - 1;
        u &= mask;
        if (fixed_traits<T>::is_signed && ((u >> (W - 1)) & 1)) u |= ~mask;
    }
    return (int64_t)u;
}

// x with the raw mantissa v (two's complement, low W bits).
template <class T>
T from_raw(int64_t v) {
    T x;
    x.setBits((uint64_t)v);
    return x;
}

// Taps of the current frame, indexed by tap number; filled by the top, drained by the tb.
inline std::vector<std::vector<int64_t> >& taps() {
    static std::vector<std::vector<int64_t> > store;
    return store;
}

template <class T>
void tap_map(hls::stream<T>& s, unsigned index, unsigned C, unsigned H, unsigned W) {
    std::vector<int64_t>& t = taps().at(index);
    t.assign((size_t)C * H * W, 0);
    for (unsigned h = 0; h < H; h++)
        for (unsigned w = 0; w < W; w++)
            for (unsigned c = 0; c < C; c++) {
                T x = s.read();
                t[((size_t)c * H + h) * W + w] = raw_of(x);
                s.write(x);
            }
}

template <class T>
void tap_vec(hls::stream<T>& s, unsigned index, unsigned n) {
    std::vector<int64_t>& t = taps().at(index);
    t.assign(n, 0);
    for (unsigned i = 0; i < n; i++) {
        T x = s.read();
        t[i] = raw_of(x);
        s.write(x);
    }
}

}  // namespace fixsim

#define FIXSIM_TAP_MAP(s, index, C, H, W) fixsim::tap_map(s, index, C, H, W)
#define FIXSIM_TAP_VEC(s, index, n) fixsim::tap_vec(s, index, n)
// A 1-D (C, L) map is streamed as the (C, 1, L) map: (l, c) order, recorded at (c, l).
#define FIXSIM_TAP_SEQ(s, index, C, L) fixsim::tap_map(s, index, C, 1, L)
#else
#define FIXSIM_TAP_MAP(s, index, C, H, W)
#define FIXSIM_TAP_VEC(s, index, n)
#define FIXSIM_TAP_SEQ(s, index, C, L)
#endif

#endif  // FIXSIM_TAP_H_
