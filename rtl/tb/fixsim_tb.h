// fixsim rtl test bench: host-side helpers (files in, taps out). C simulation only.
//
// File formats (little-endian, see docs/rtl.md):
//   DIR/inputs.bin       N*C*H*W int64 raw input mantissas, (n, c, h, w) C order, or
//   DIR/inputs_f64.bin   N*C*H*W float64 values to quantize (input_t x = value)
//   DIR/<layer>.weight.bin, DIR/<layer>.bias.bin
//                        int64 raw mantissas, PyTorch order: conv (Cout, Cin, KH, KW),
//                        dense (Out, In) with (c, h, w)-flatten columns
//   DIR/tap_<layer>.bin  written: N * size int64 raw, the layer's output in PyTorch
//                        order ((c, h, w) maps, feature vectors) for every frame
// Weights are read at run time into the memories the top function reads: one binary
// serves any weights of its architecture.
#ifndef FIXSIM_TB_H_
#define FIXSIM_TB_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fixsim_layers.h"

namespace fixsim {
namespace tb {

struct Args {
    std::string dir;  // data directory
    long n;           // number of frames
    bool float_input; // inputs_f64.bin (quantized here) instead of inputs.bin (raw)
};

// Stop the test bench with a one-line message (exit status 3: bad files).
inline void fail(const std::string& message) {
    std::fprintf(stderr, "fixsim tb: %s\n", message.c_str());
    std::exit(3);
}

// Read exactly `count` 8-byte words from `path`, which must hold exactly that many.
template <class T>
std::vector<T> read_words(const std::string& path, size_t count) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail("cannot open " + path);
    std::vector<T> data(count);
    size_t got = count ? std::fread(data.data(), 8, count, f) : 0;
    char extra;
    bool longer = std::fread(&extra, 1, 1, f) == 1;
    std::fclose(f);
    if (got != count || longer)
        fail(path + ": expected exactly " + std::to_string(count) + " 8-byte words");
    return data;
}

// Load a weight/bias memory from DIR/<name>.bin (raw mantissas, stored order).
template <class T>
void load_memory(const Args& a, const std::string& name, T* memory, size_t count) {
    std::vector<int64_t> raw = read_words<int64_t>(a.dir + "/" + name + ".bin", count);
    for (size_t i = 0; i < count; i++) memory[i] = from_raw<T>(raw[i]);
}

// Load dense weights whose input features arrive in (h, w, c) order: the file holds the
// PyTorch columns in (c, h, w) order; memory column j = (h * W + w) * C + c gets file
// column (c * H + h) * W + w.
template <class T>
void load_dense_hwc(const Args& a, const std::string& name, T* memory, size_t out_features,
                    unsigned C, unsigned H, unsigned W) {
    const size_t in_features = (size_t)C * H * W;
    std::vector<int64_t> raw =
        read_words<int64_t>(a.dir + "/" + name + ".bin", out_features * in_features);
    for (size_t o = 0; o < out_features; o++)
        for (unsigned h = 0; h < H; h++)
            for (unsigned w = 0; w < W; w++)
                for (unsigned c = 0; c < C; c++) {
                    size_t j = ((size_t)h * W + w) * C + c;
                    size_t k = ((size_t)c * H + h) * W + w;
                    memory[o * in_features + j] = from_raw<T>(raw[o * in_features + k]);
                }
}

// The frames, in (c, h, w) order each, as raw mantissas or as doubles.
struct Inputs {
    std::vector<int64_t> raw;
    std::vector<double> values;
    size_t frame_size;

    Inputs(const Args& a, size_t frame_size_) : frame_size(frame_size_) {
        if (a.float_input)
            values = read_words<double>(a.dir + "/inputs_f64.bin", a.n * frame_size);
        else
            raw = read_words<int64_t>(a.dir + "/inputs.bin", a.n * frame_size);
    }
};

// Push one raw frame ((c, h, w) order) into the input stream in (h, w, c) order.
template <class CONFIG_T>
void feed_raw(const int64_t* frame, hls::stream<typename CONFIG_T::result_t>& in) {
    typedef typename CONFIG_T::result_t input_t;
    const unsigned C = CONFIG_T::channels, H = CONFIG_T::height, W = CONFIG_T::width;
    for (unsigned h = 0; h < H; h++)
        for (unsigned w = 0; w < W; w++)
            for (unsigned c = 0; c < C; c++)
                in.write(from_raw<input_t>(frame[((size_t)c * H + h) * W + w]));
}

// Push frame k into the input stream in (h, w, c) order; floats go through the input
// quantization layer (fixsim::quantize_input), raws are taken as they are.
template <class CONFIG_T>
void feed(const Args& a, const Inputs& inputs, long k,
          hls::stream<typename CONFIG_T::result_t>& in) {
    if (a.float_input)
        quantize_input<CONFIG_T>(&inputs.values[k * inputs.frame_size], in);
    else
        feed_raw<CONFIG_T>(&inputs.raw[k * inputs.frame_size], in);
}

// Drain the output stream; it must hold exactly `count` values (the last tap has them).
template <class T>
void drain(hls::stream<T>& out, size_t count) {
    size_t got = 0;
    while (!out.empty()) {
        out.read();
        got++;
    }
    if (got != count)
        fail("top produced " + std::to_string(got) + " outputs, expected " + std::to_string(count));
}

// One output file per tap, appended frame by frame.
class TapFiles {
  public:
    TapFiles(const Args& a, const std::vector<std::string>& names) {
        for (size_t i = 0; i < names.size(); i++) {
            std::string path = a.dir + "/tap_" + names[i] + ".bin";
            std::FILE* f = std::fopen(path.c_str(), "wb");
            if (!f) fail("cannot write " + path);
            files_.push_back(f);
        }
        taps().assign(names.size(), std::vector<int64_t>());
    }
    ~TapFiles() {
        for (size_t i = 0; i < files_.size(); i++) std::fclose(files_[i]);
    }
    void write_frame(const std::vector<size_t>& sizes) {
        for (size_t i = 0; i < files_.size(); i++) {
            const std::vector<int64_t>& t = taps()[i];
            if (t.size() != sizes[i])
                fail("tap " + std::to_string(i) + " holds " + std::to_string(t.size()) +
                     " values, expected " + std::to_string(sizes[i]));
            if (std::fwrite(t.data(), 8, t.size(), files_[i]) != t.size()) fail("write failed");
        }
    }

  private:
    std::vector<std::FILE*> files_;
};

// Serve the csim device protocol of fixsim.hil.csim on stdin/stdout (little-endian):
//   request  uint32 op, uint32 n, payload; op 1 INFER (n int64 raw input words, (c, h, w)),
//            op 2 WEIGHTS (n bytes of a weight image), op 3 QUIT
//   response uint32 status, uint32 n, payload (n int64 output words, or n bytes of text)
// Weights come from files at start-up (weight images are not defined yet: op 2 answers
// with an error). `infer(frame, out)` runs the top on one frame.
template <class F>
int serve_loop(size_t frame_size, F infer) {
    std::vector<int64_t> frame, out;
    uint32_t hdr[2];
    while (std::fread(hdr, 4, 2, stdin) == 2) {
        const uint32_t op = hdr[0], n = hdr[1];
        std::string error;
        if (op == 1) {
            frame.resize(n);
            if (n && std::fread(frame.data(), 8, n, stdin) != n) return 3;
            if (n != frame_size) {
                error = "expected " + std::to_string(frame_size) + " input words, got " +
                        std::to_string(n);
            } else {
                out.clear();
                infer(frame.data(), out);
                uint32_t rsp[2] = {0, (uint32_t)out.size()};
                std::fwrite(rsp, 4, 2, stdout);
                std::fwrite(out.data(), 8, out.size(), stdout);
                std::fflush(stdout);
                continue;
            }
        } else if (op == 2) {
            std::vector<char> image(n);
            if (n && std::fread(image.data(), 1, n, stdin) != n) return 3;
            error = "weight images are not supported by this test bench: weights are loaded "
                    "from files at start-up";
        } else if (op == 3) {
            return 0;
        } else {
            error = "unknown op " + std::to_string(op);
        }
        uint32_t rsp[2] = {1, (uint32_t)error.size()};
        std::fwrite(rsp, 4, 2, stdout);
        std::fwrite(error.data(), 1, error.size(), stdout);
        std::fflush(stdout);
    }
    return 0;
}

// A network compiled into the test bench.
struct Network {
    const char* name;
    int (*run)(const Args&);
    int (*serve)(const Args&);
};

}  // namespace tb
}  // namespace fixsim

#endif  // FIXSIM_TB_H_
