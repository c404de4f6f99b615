#!/bin/sh
# SIMULATED HLS TOOL for the fixsim tests (installed under the names vitis-run, vitis_hls
# or vivado_hls by tests/hls/test_hls_runner.py).  NOT AMD/Xilinx software: it records its
# arguments, prints a version banner, and runs the generated Tcl in tclsh with stub
# commands (fake_hls_stubs.tcl) that copy real report fixtures into place.
echo "$(basename "$0") $*" >> "$FAKE_HLS_ARGS"
case "$1" in
    --version|-version) echo "$FAKE_HLS_BANNER"; exit 0 ;;
esac
for script; do :; done   # vitis_hls -f FILE / vitis-run --mode hls --tcl FILE: last argument
exec tclsh "$FAKE_HLS_STUBS" "$script"
