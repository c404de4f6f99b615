"""The ap_fixed oracle: programs compiled with g++ against the Xilinx ap_types headers.

An :class:`Oracle` is built from a list of :class:`Case` (an operation and its formats);
every case becomes one C++ function, so one compiled program answers many format
combinations.  Whole arrays go through a binary pipe in one process run:

    request  = int32 case index, int64 n, arity * n uint64 words
    response = n uint64 words (the result's register bits, or IEEE bits for to_double)

Nothing here reimplements ap_fixed: results are whatever the headers compute.
"""

from __future__ import annotations

import struct
import subprocess
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ToolError
from ..fixed.format import FixedType, as_format
from .build import compile_program

#: op name -> (number of input arrays, C++ body computing ``out[k]`` from ``a``, ``b``, ``c``)
_OPS = {
    "from_double": (1, "double d; std::memcpy(&d, &in0[k], 8); T0 x = d; out[k] = x.bits_to_uint64();"),
    "from_float": (1, "uint32_t u = (uint32_t)in0[k]; float f; std::memcpy(&f, &u, 4); T0 x = f; out[k] = x.bits_to_uint64();"),
    "convert": (1, "T0 a; a.setBits(in0[k]); T1 x = a; out[k] = x.bits_to_uint64();"),
    "to_double": (1, "T0 a; a.setBits(in0[k]); double d = a.to_double(); uint64_t u; std::memcpy(&u, &d, 8); out[k] = u;"),
    "mul": (2, "T0 a; a.setBits(in0[k]); T1 b; b.setBits(in1[k]); out[k] = (a * b).bits_to_uint64();"),
    "add": (2, "T0 a; a.setBits(in0[k]); T1 b; b.setBits(in1[k]); out[k] = (a + b).bits_to_uint64();"),
    "sub": (2, "T0 a; a.setBits(in0[k]); T1 b; b.setBits(in1[k]); out[k] = (a - b).bits_to_uint64();"),
    "div": (2, "T0 a; a.setBits(in0[k]); T1 b; b.setBits(in1[k]); out[k] = (a / b).bits_to_uint64();"),
    # acc += a * b, with acc of type T0 and operands T1, T2 (the datapath's MAC step)
    "mac": (3, "T0 acc; acc.setBits(in0[k]); T1 a; a.setBits(in1[k]); T2 b; b.setBits(in2[k]); acc += a * b; out[k] = acc.bits_to_uint64();"),
}

OPS = tuple(_OPS)


@dataclass(frozen=True)
class Case:
    """One operation on fixed formats, e.g. ``Case("convert", (src, dst))``."""

    op: str
    formats: tuple

    def __post_init__(self):
        if self.op not in _OPS:
            raise ValueError(f"unknown oracle op {self.op!r}; allowed: {', '.join(_OPS)}")
        object.__setattr__(self, "formats", tuple(as_format(f) for f in self.formats))

    @property
    def arity(self) -> int:
        return _OPS[self.op][0]


def _cpp_type(t: FixedType) -> str:
    return (f"{t.name}<{t.width},{t.int_bits},{t.quantization.name},"
            f"{t.overflow.name},{t.sat_bits}>")


_PRELUDE = """#include <cstdint>
#include <cstring>
#include <ap_fixed.h>
"""


def _case_function(idx: int, case: Case) -> str:
    arity, body = _OPS[case.op]
    types = "\n".join(f"  typedef {_cpp_type(t)} T{j};" for j, t in enumerate(case.formats))
    ins = "\n".join(f"  const uint64_t* in{j} = in + {j} * n;" for j in range(arity))
    return (f"void case_{idx}(const uint64_t* in, uint64_t* out, int64_t n) {{\n{types}\n{ins}\n"
            f"  for (int64_t k = 0; k < n; ++k) {{ {body} }}\n}}\n")


def _main_source(n_cases: int, arities: Sequence[int]) -> str:
    decls = "\n".join(f"void case_{i}(const uint64_t*, uint64_t*, int64_t);" for i in range(n_cases))
    table = ", ".join(f"case_{i}" for i in range(n_cases))
    ar = ", ".join(str(a) for a in arities)
    return f"""#include <cstdint>
#include <cstdio>
#include <vector>
{decls}
typedef void (*fn_t)(const uint64_t*, uint64_t*, int64_t);
static fn_t table[] = {{ {table} }};
static const int arity[] = {{ {ar} }};
int main() {{
  int32_t id; int64_t n;
  std::vector<uint64_t> in, out;
  while (std::fread(&id, 4, 1, stdin) == 1) {{
    if (std::fread(&n, 8, 1, stdin) != 1) return 3;
    if (id < 0 || id >= {n_cases} || n < 0) return 4;
    in.resize((size_t)(arity[id] * n) + 1); out.resize((size_t)n + 1);
    if ((int64_t)std::fread(in.data(), 8, arity[id] * n, stdin) != arity[id] * n) return 5;
    table[id](in.data(), out.data(), n);
    std::fwrite(out.data(), 8, n, stdout);
  }}
  std::fflush(stdout);
  return 0;
}}
"""


class OracleCrash(ToolError):
    """The oracle process died (e.g. an assertion inside the headers)."""


class Oracle:
    """A compiled program evaluating ``cases`` with the real ap_types headers.

    Parameters
    ----------
    cases : sequence of Case
    per_file : int
        Cases per translation unit (units compile in parallel).
    """

    def __init__(self, cases: Sequence[Case], per_file: int = 60):
        self.cases = list(cases)
        if not self.cases:
            raise ValueError("an oracle needs at least one case")
        self.index = {c: i for i, c in enumerate(self.cases)}
        sources = {}
        for start in range(0, len(self.cases), per_file):
            chunk = range(start, min(start + per_file, len(self.cases)))
            sources[f"cases_{start // per_file:04d}.cpp"] = _PRELUDE + "\n".join(
                _case_function(i, self.cases[i]) for i in chunk)
        sources["main.cpp"] = _main_source(len(self.cases), [c.arity for c in self.cases])
        # Assertions stay on: the headers assert where they define no result.
        self.exe = compile_program(sources, main="oracle", tag="oracle")

    def run_many(self, requests: Sequence[tuple[Case, Sequence[np.ndarray]]]) -> list[np.ndarray]:
        """Evaluate several (case, input arrays) in one process; returns uint64 words each."""
        chunks = []
        sizes = []
        for case, arrays in requests:
            if len(arrays) != case.arity:
                raise ValueError(f"{case.op} takes {case.arity} arrays, got {len(arrays)}")
            arrs = [np.ascontiguousarray(a).astype(np.uint64, copy=False).ravel()
                    if a.dtype != np.float64 else np.ascontiguousarray(a).view(np.uint64).ravel()
                    for a in arrays]
            n = arrs[0].size
            if any(x.size != n for x in arrs):
                raise ValueError("input arrays differ in length")
            chunks.append(struct.pack("<iq", self.index[case], n))
            chunks.extend(x.astype("<u8").tobytes() for x in arrs)
            sizes.append(n)
        proc = subprocess.run([str(self.exe)], input=b"".join(chunks), capture_output=True)
        if proc.returncode != 0:
            raise OracleCrash(
                f"oracle exited with {proc.returncode}: "
                f"{proc.stderr.decode(errors='replace').strip()[-300:]}")
        words = np.frombuffer(proc.stdout, dtype="<u8")
        if words.size != sum(sizes):
            raise OracleCrash(f"oracle returned {words.size} words, expected {sum(sizes)}")
        out, pos = [], 0
        for n in sizes:
            out.append(words[pos:pos + n].astype(np.uint64))
            pos += n
        return out

    def run(self, case: Case, *arrays: np.ndarray) -> np.ndarray:
        return self.run_many([(case, arrays)])[0]


def bits_to_raw(words: np.ndarray, fmt: "FixedType | str") -> np.ndarray:
    """Register bits (any extension above bit W-1) -> fixsim raw values for ``fmt``."""
    fmt = as_format(fmt)
    w = fmt.width
    words = np.asarray(words, dtype=np.uint64)
    if w < 64:
        words = words & np.uint64((1 << w) - 1)
    if fmt.signed:
        if w < 64:
            sign = np.uint64(1 << (w - 1))
            return ((words ^ sign).astype(np.int64) - np.int64(1 << (w - 1)))
        return words.view(np.int64)
    return words.view(np.uint64) if w == 64 else words.astype(np.int64)


def raw_to_bits(raw: np.ndarray) -> np.ndarray:
    """fixsim raw values (int64/uint64) -> 64-bit words for ``setBits``."""
    raw = np.asarray(raw)
    return raw.view(np.uint64) if raw.dtype.itemsize == 8 else raw.astype(np.int64).view(np.uint64)
