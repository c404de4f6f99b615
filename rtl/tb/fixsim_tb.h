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
//   IMAGE                a weight image (docs/weight_image.md) instead of the weight files
// Weights are read at run time into the memories the top function reads: one binary
// serves any weights of its architecture.
#ifndef FIXSIM_TB_H_
#define FIXSIM_TB_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fixsim_layers.h"

namespace fixsim {
namespace tb {

struct Args {
    std::string dir;   // data directory
    long n;            // number of frames
    bool float_input;  // inputs_f64.bin (quantized here) instead of inputs.bin (raw)
    std::string image; // weight image file; empty: DIR/<tensor>.bin files
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

// ------------------------------------------------------------------ weight images
// Layout (docs/weight_image.md, fixsim.vectors.weight_image), little-endian:
//   header 96 bytes: "FIXSIMWI", u16 version 1, u16 header size 96, u16 entry size 192,
//     u16 word bits (16/32/64), u32 tensors, u32 flags, u32 alignment 64, u32 0,
//     u64 file length, 32 bytes sha256 of the spec, 24 zero bytes
//   table: per tensor 192 bytes: char layer[64], char format[64], u8 kind (0 weight,
//     1 bias, 2 scale), u8 signed, u8 order (0 pytorch, 1 dense_hwc), u8 ndim, u16 W, i16 I,
//     u32 shape[4], u32 chw[3], u32 0, u64 count, u64 offset, u64 bytes
//   payloads: words in the memory's element order, sign/zero-extended to word bits
//   trailer: u32 CRC32 (IEEE) of every byte before it, "WEND"
// Payloads are already in memory order: element i goes to memory[i].

inline uint64_t le(const unsigned char* p, unsigned bytes) {
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

inline uint32_t crc32(const unsigned char* p, size_t n) {
    static uint32_t table[256];
    static bool ready = false;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = true;
    }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

// A NUL-padded text field of the tensor table.
inline std::string field_text(const unsigned char* p, size_t size) {
    size_t n = 0;
    while (n < size && p[n]) n++;
    return std::string((const char*)p, n);
}

struct Image {
    const unsigned char* data;
    size_t size;
    unsigned word_bits;
    unsigned n_tensors;
};

inline std::string hex_of(const unsigned char* p, size_t n) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; i++) {
        s += digits[p[i] >> 4];
        s += digits[p[i] & 15];
    }
    return s;
}

// Check magic, length, CRC, version, sizes and the spec hash; false with `error` set.
inline bool parse_image(const std::vector<unsigned char>& bytes, const char* spec_sha256,
                        Image& img, std::string& error) {
    const unsigned char* p = bytes.data();
    const size_t n = bytes.size();
    if (n < 8 || std::memcmp(p, "FIXSIMWI", 8) != 0) {
        error = "not a fixsim weight image (bad magic)";
        return false;
    }
    if (n < 104 || le(p + 32, 8) != n) {
        error = "weight image truncated: " + std::to_string(n) + " bytes" +
                (n >= 40 ? ", header declares " + std::to_string(le(p + 32, 8)) : std::string());
        return false;
    }
    if (std::memcmp(p + n - 4, "WEND", 4) != 0 || crc32(p, n - 8) != le(p + n - 8, 4)) {
        error = "weight image CRC32 mismatch (corrupted image)";
        return false;
    }
    if (le(p + 8, 2) != 1 || le(p + 10, 2) != 96 || le(p + 12, 2) != 192 || le(p + 24, 4) != 64) {
        error = "weight image version or header sizes not supported";
        return false;
    }
    img.word_bits = (unsigned)le(p + 14, 2);
    img.n_tensors = (unsigned)le(p + 16, 4);
    if (img.word_bits != 16 && img.word_bits != 32 && img.word_bits != 64) {
        error = "weight image word width " + std::to_string(img.word_bits) + " not 16/32/64";
        return false;
    }
    if (96 + (uint64_t)img.n_tensors * 192 > n - 8) {
        error = "weight image tensor table does not fit the image";
        return false;
    }
    std::string got = hex_of(p + 40, 32);
    if (got != spec_sha256) {
        error = "weight image is for spec " + got.substr(0, 16) + "..., this network is " +
                std::string(spec_sha256).substr(0, 16) + "...";
        return false;
    }
    img.data = p;
    img.size = n;
    return true;
}

// Decode tensor `index` into `staging` (count elements of T), checking that it is the
// expected layer/kind/format/order/count and that every word is a W-bit raw value.
template <class T>
bool image_tensor(const Image& img, unsigned index, const char* layer, unsigned kind,
                  const char* format, unsigned order, int width, bool is_signed, size_t count,
                  T* staging, std::string& error) {
    static const char* const roles[] = {".weight", ".bias", ".scale"};
    const std::string where = std::string(layer) + (kind < 3 ? roles[kind] : ".?");
    if (index >= img.n_tensors) {
        error = "weight image has no tensor " + std::to_string(index) + " (" + where + ")";
        return false;
    }
    const unsigned char* e = img.data + 96 + (size_t)index * 192;
    std::string name = field_text(e, 64), fmt = field_text(e + 64, 64);
    const uint64_t n = le(e + 168, 8), offset = le(e + 176, 8), nbytes = le(e + 184, 8);
    const unsigned wbytes = img.word_bits / 8;
    if (name != layer || e[128] != kind || fmt != format || e[130] != order || n != count) {
        error = "weight image tensor " + std::to_string(index) + " is " + name + " " + fmt +
                " (" + std::to_string(n) + " elements), expected " + where + " " + format +
                " (" + std::to_string(count) + " elements)";
        return false;
    }
    if (nbytes != n * wbytes || offset % 64 != 0 || offset < 96 + (uint64_t)img.n_tensors * 192 ||
        offset + nbytes > img.size - 8) {
        error = "weight image tensor " + where + ": payload offset/size out of bounds";
        return false;
    }
    if (!is_signed && width > 63) {
        error = "weight image tensor " + where + ": 64-bit unsigned formats are not supported";
        return false;
    }
    const int64_t hi = (is_signed && width == 64) ? INT64_MAX
                                                  : (int64_t)((1ULL << (is_signed ? width - 1 : width)) - 1);
    const int64_t lo = is_signed ? -hi - 1 : 0;
    for (uint64_t i = 0; i < n; i++) {
        const uint64_t u = le(img.data + offset + i * wbytes, wbytes);
        int64_t v = (int64_t)u;
        if (is_signed && wbytes < 8 && (u >> (8 * wbytes - 1)))
            v = (int64_t)(u | (~0ULL << (8 * wbytes)));  // sign-extend the word
        if (v < lo || v > hi) {  // unsigned words are zero-extended: a set top bit is out of range
            error = "weight image tensor " + where + ": element " + std::to_string(i) + " value " +
                    std::to_string(v) + " is outside the raw range of " + format;
            return false;
        }
        staging[i] = from_raw<T>(v);
    }
    return true;
}

inline std::vector<unsigned char> read_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail("cannot open " + path);
    std::vector<unsigned char> data;
    unsigned char buf[65536];
    size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) data.insert(data.end(), buf, buf + got);
    std::fclose(f);
    return data;
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
// Weights come from files or an image at start-up; op 2 replaces them with a weight image
// (all checked before any memory changes; an error leaves the old weights).
// `infer(frame, out)` runs the top on one frame, `load(bytes, error)` loads an image.
template <class F, class L>
int serve_loop(size_t frame_size, F infer, L load) {
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
            std::vector<unsigned char> image(n);
            if (n && std::fread(image.data(), 1, n, stdin) != n) return 3;
            if (load(image, error)) {
                uint32_t rsp[2] = {0, 0};
                std::fwrite(rsp, 4, 2, stdout);
                std::fflush(stdout);
                continue;
            }
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
