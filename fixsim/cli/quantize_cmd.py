"""``fixsim quantize``: numbers in, raw mantissas out (weights, register values)."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..fixed import FixedType, FixsimWarning, quantize, to_float
from .._files import atomic_path


def register(sub) -> None:
    p = sub.add_parser(
        "quantize", help="quantize numbers into a fixed-point format and print raw values",
        description="Quantize numbers exactly as ap_fixed's constructors do and print or write "
                    "the raw integer mantissas.",
        epilog="example: fixsim quantize 'ap_fixed<16,6,AP_RND,AP_SAT>' 0.1 -2.5 --hex")
    p.add_argument("format", help="e.g. 'ap_fixed<16,6,AP_RND,AP_SAT>' (AP_ prefixes optional)")
    p.add_argument("values", nargs="*", help="numbers (or use --input)")
    p.add_argument("-i", "--input", help="text file of numbers (whitespace/comma separated), "
                                        ".npy array, or - for standard input")
    p.add_argument("-o", "--output", help="write raw values to FILE (.npy keeps the shape; "
                                         "otherwise text, one per line)")
    p.add_argument("--force", action="store_true", help="replace an existing --output file")
    p.add_argument("--hex", action="store_true", help="print W-bit two's-complement patterns in hex")
    p.add_argument("--float32", action="store_true",
                   help="treat inputs as C float (rounded to float32 first, as ap_fixed(float))")
    p.add_argument("--hls4ml", action="store_true",
                   help="quantize as hls4ml writes weights: print each number with F decimals "
                        "(F = the format's fraction bits), read the text back as a double, "
                        "then ap_fixed(double) (two roundings)")
    p.add_argument("--decimals", type=int, metavar="N",
                   help="with --hls4ml: print N decimals instead of F")
    p.add_argument("--show-values", action="store_true", help="also print the quantized value")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run, extra_values=True)


def _read_numbers(args) -> np.ndarray:
    if args.input and args.values:
        raise InputError("give numbers either as arguments or with --input, not both")
    if args.input:
        if args.input == "-":
            return _parse_text(sys.stdin.read(), "standard input")
        path = Path(args.input)
        if not path.is_file():
            raise InputError(f"input file {args.input!r} not found")
        if path.suffix == ".npy":
            from .._files import read_npy

            arr = read_npy(path, "--input")
            if arr.dtype.kind not in "fiub":
                raise InputError(f"{args.input!r} holds dtype {arr.dtype}, not numbers")
            return arr
        return _parse_text(path.read_text(errors="replace"), repr(args.input))
    if not args.values:
        raise InputError("no numbers given: pass values or --input FILE")
    return _parse_text(" ".join(args.values), "arguments")


def _parse_text(text: str, where: str) -> np.ndarray:
    tokens = text.replace(",", " ").split()
    out = []
    for k, tok in enumerate(tokens):
        try:
            out.append(float(tok))
        except ValueError:
            raise InputError(f"not a number in {where}: {tok!r} (item {k + 1})") from None
    if not out:
        raise InputError(f"no numbers in {where}")
    return np.array(out, dtype=np.float64)


def _hex(raw: np.ndarray, fmt: FixedType) -> list[str]:
    digits = (fmt.width + 3) // 4
    mask = (1 << fmt.width) - 1
    return [f"0x{(int(v) & mask):0{digits}x}" for v in raw.reshape(-1)]


def run(args: argparse.Namespace) -> int:
    from .._files import check_writable_output

    fmt = FixedType.parse(args.format)
    if args.output:
        check_writable_output(args.output, args.force, "--output")
    if args.decimals is not None and not args.hls4ml:
        raise InputError("--decimals belongs to --hls4ml (the printed-text quantization)")
    values = _read_numbers(args)
    if args.float32:
        values = values.astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FixsimWarning)
        if args.hls4ml:
            from ..network.weights import quantize_printed

            raw = quantize_printed(values, fmt, args.decimals)
        else:
            raw = quantize(values, fmt)
    for w in caught:
        print(f"fixsim quantize: warning: {w.message}", file=sys.stderr)
    text = _hex(raw, fmt) if args.hex else [str(int(v)) for v in raw.reshape(-1)]
    if args.output:
        out = Path(args.output)
        if out.suffix == ".npy":
            with atomic_path(out, suffix=".npy") as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, raw)
        else:
            with atomic_path(out) as tmp:
                tmp.write_text("\n".join(text) + "\n")
        print(f"wrote {raw.size} raw values of {fmt} to {out}", file=sys.stderr)
        return 0
    if args.json:
        doc = {"format": str(fmt), "frac_bits": fmt.frac_bits, "raw": text if args.hex else
               [int(v) for v in raw.reshape(-1)], "values": to_float(raw, fmt).reshape(-1).tolist(),
               "shape": list(raw.shape)}
        print(json.dumps(doc))
        return 0
    if args.show_values:
        vals = to_float(raw, fmt).reshape(-1)
        for t, v in zip(text, vals, strict=True):
            print(f"{t}\t{float(v)!r}")
    else:
        print("\n".join(text))
    return 0
