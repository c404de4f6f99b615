// fixsim rtl test bench entry point: run one of the networks compiled into this binary.
//
//   tb --list
//   tb NETWORK DIR N raw|f64 [IMAGE]
//   tb --serve NETWORK DIR
//   tb --serve NETWORK --image IMAGE
//
// The second form reads DIR/inputs.bin (raw) or DIR/inputs_f64.bin (f64) and the weights
// from DIR/<layer>.{weight,bias}.bin, or from the weight image IMAGE when given, and writes
// DIR/tap_<layer>.bin (see fixsim_tb.h). The serve forms load the weights from DIR or
// IMAGE and serve frames on stdin/stdout with the protocol of fixsim.hil.csim (a
// C-simulation device; WEIGHTS requests replace the weights with a new image).
// Exit 0 ok, 2 usage, 3 bad files.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fixsim_tb.h"
#include "fixsim_networks.h"  // generated: the table `networks`, `n_networks`

int main(int argc, char** argv) {
    if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < fixsim_n_networks; i++) std::printf("%s\n", fixsim_networks[i].name);
        return 0;
    }
    if ((argc == 4 || (argc == 5 && std::strcmp(argv[3], "--image") == 0)) &&
        std::strcmp(argv[1], "--serve") == 0) {
        fixsim::tb::Args a;
        a.dir = argc == 4 ? argv[3] : ".";
        if (argc == 5) a.image = argv[4];
        a.n = 0;
        a.float_input = false;
        for (int i = 0; i < fixsim_n_networks; i++)
            if (std::strcmp(fixsim_networks[i].name, argv[2]) == 0) return fixsim_networks[i].serve(a);
        std::fprintf(stderr, "fixsim tb: unknown network %s\n", argv[2]);
        return 2;
    }
    if (argc != 5 && argc != 6) {
        std::fprintf(stderr,
                     "usage: %s NETWORK DIR N raw|f64 [IMAGE] | --serve NETWORK DIR | "
                     "--serve NETWORK --image IMAGE | --list\n", argv[0]);
        return 2;
    }
    fixsim::tb::Args a;
    a.dir = argv[2];
    if (argc == 6) a.image = argv[5];
    char* end = 0;
    a.n = std::strtol(argv[3], &end, 10);
    if (*end != 0 || a.n < 0) {
        std::fprintf(stderr, "fixsim tb: N must be a non-negative integer, got %s\n", argv[3]);
        return 2;
    }
    if (std::strcmp(argv[4], "raw") == 0) {
        a.float_input = false;
    } else if (std::strcmp(argv[4], "f64") == 0) {
        a.float_input = true;
    } else {
        std::fprintf(stderr, "fixsim tb: input kind must be raw or f64, got %s\n", argv[4]);
        return 2;
    }
    for (int i = 0; i < fixsim_n_networks; i++)
        if (std::strcmp(fixsim_networks[i].name, argv[1]) == 0) return fixsim_networks[i].run(a);
    std::fprintf(stderr, "fixsim tb: unknown network %s\n", argv[1]);
    return 2;
}
