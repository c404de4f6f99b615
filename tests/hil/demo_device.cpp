// Demo C-simulation device for the fixsim csim HIL backend.
// A fixed-point matrix-vector product: y = W x, with x and W ap_fixed<16,6> (raw
// mantissas on the wire), an ap_fixed<40,20> accumulator, and the result cast to
// ap_fixed<16,6,AP_TRN,AP_WRAP> (truncate, wrap): the raw result is
// wrap16(floor(sum(x_raw * w_raw) / 2^10)).
// Speaks the stdin/stdout protocol documented in fixsim/hil/csim.py.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>
#include "ap_fixed.h"

static const int N_IN = 8, N_OUT = 4;
typedef ap_fixed<16, 6> data_t;
typedef ap_fixed<40, 20> accum_t;
typedef ap_fixed<16, 6, AP_TRN, AP_WRAP> result_t;
static int16_t W[N_OUT][N_IN];

static bool read_all(void *p, size_t n) { return fread(p, 1, n, stdin) == n; }
static void write_all(const void *p, size_t n) { fwrite(p, 1, n, stdout); }

static void respond(uint32_t status, const void *payload, uint32_t n, size_t bytes) {
    write_all(&status, 4);
    write_all(&n, 4);
    if (bytes) write_all(payload, bytes);
    fflush(stdout);
}
static void fail(const std::string &msg) {
    respond(1, msg.data(), (uint32_t)msg.size(), msg.size());
}

int main() {
    for (int j = 0; j < N_OUT; j++)
        for (int i = 0; i < N_IN; i++) W[j][i] = (int16_t)(((j * 7 + i * 13) % 61 - 30) * 37);
    for (;;) {
        uint32_t op, n;
        if (!read_all(&op, 4) || !read_all(&n, 4)) return 0;  // host went away
        if (op == 3) return 0;
        if (op == 2) {
            std::vector<unsigned char> img(n);
            if (n && !read_all(img.data(), n)) return 1;
            if (n != sizeof(W)) { fail("weight image must be " + std::to_string(sizeof(W)) + " bytes"); continue; }
            memcpy(W, img.data(), n);
            respond(0, nullptr, 0, 0);
            continue;
        }
        if (op != 1) { fprintf(stderr, "unknown op %u\n", op); return 2; }
        std::vector<int64_t> in(n);
        if (n && !read_all(in.data(), 8 * (size_t)n)) return 1;
        if (n != N_IN) { fail("expected " + std::to_string(N_IN) + " input words"); continue; }
        int64_t out[N_OUT];
        for (int j = 0; j < N_OUT; j++) {
            accum_t acc = 0;
            for (int i = 0; i < N_IN; i++) {
                data_t x, w;
                x.range(15, 0) = (int)in[i];
                w.range(15, 0) = (int)W[j][i];
                acc += x * w;
            }
            result_t y = acc;
            out[j] = (int16_t)y.range(15, 0).to_uint64();
        }
        respond(0, out, N_OUT, sizeof(out));
    }
}
