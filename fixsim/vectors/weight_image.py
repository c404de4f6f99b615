"""Weight images: every weight and bias of a network in one checked binary (docs/weight_image.md).

A weight image is what a host writes into the weight memories of the rtl/ design (SNL's
dynamic weight loading) without re-synthesis.  Layout, little-endian throughout::

    header   96 bytes   magic "FIXSIMWI", version 1, sizes, word width, flags,
                        tensor count, alignment, file length, sha256 of the model spec
    table    192 bytes per tensor (layer, kind, format, shape, order, count, offset)
    payloads one per tensor, each starting at a multiple of ALIGN (64) bytes; words of
             ``word_bits`` bits, sign-extended (signed formats) or zero-extended
             (unsigned), in the element order of the rtl/ weight memory
    trailer  8 bytes: uint32 CRC32 (zlib/IEEE) of every byte before it, then "WEND"

>>> from fixsim.network import load_spec
>>> from fixsim.network.weights import random_weights
>>> spec = load_spec("specklenn-snl")
>>> w = random_weights(spec, seed=1)
>>> blob = build_image(spec, w)
>>> img = parse_image(blob, spec)
>>> img.word_bits, len(img.tensors), all((img.weights[k] == w[k]).all() for k in w)
(16, 8, True)
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FixsimError
from ..fixed import FixedType
from ..layers import hwc_permutation
from ..network.spec import ModelSpec, load_spec
from ..network.spec_types import TENSOR_ORDERS, TENSOR_ROLES
from ..network.weights import check_weights
from .errors import (ImageCrcError, ImageFieldError, ImageMagicError, ImageShapeError,
                     ImageTruncatedError, RawRangeError, SpecHashMismatch, WeightImageError)

MAGIC = b"FIXSIMWI"
END_MAGIC = b"WEND"
VERSION = 1
ALIGN = 64
WORD_BITS = (16, 32, 64)
#: Header: magic, version, header size, entry size, word bits, tensor count, flags,
#: alignment, reserved, file length, spec sha256 (raw 32 bytes), 24 reserved bytes.
_HEADER = struct.Struct("<8sHHHHIIII Q 32s 24x")
_ENTRY = struct.Struct("<64s64sBBBBHh4I3IIQQQ")
_TRAILER = struct.Struct("<I4s")
HEADER_SIZE, ENTRY_SIZE, TRAILER_SIZE = _HEADER.size, _ENTRY.size, _TRAILER.size
#: Header flag bit 0: the word width was given by the writer, not chosen as the minimum.
FLAG_WIDTH_GIVEN = 1
#: Tensor roles (the entry's kind byte indexes this; defined with the layer tensors).
KINDS = TENSOR_ROLES
#: Element orders: the PyTorch layout in C order, or dense columns in hwc stream order.
ORDERS = TENSOR_ORDERS
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

assert HEADER_SIZE == 96 and ENTRY_SIZE == 192 and TRAILER_SIZE == 8


@dataclass(frozen=True)
class ImageTensor:
    """One tensor of a weight image.

    ``raw`` is always in the PyTorch layout (int64, ``shape``), whatever ``order`` the
    payload was stored in; ``chw`` is the flattened map for ``order == "dense_hwc"``.
    """

    layer: str
    kind: str
    format: FixedType
    shape: tuple[int, ...]
    order: str
    chw: tuple[int, int, int] | None
    offset: int
    raw: np.ndarray

    @property
    def name(self) -> str:
        return f"{self.layer}.{self.kind}"


@dataclass(frozen=True)
class WeightImage:
    """A parsed, validated weight image (see :func:`parse_image`)."""

    spec_hash: str
    word_bits: int
    flags: int
    tensors: tuple[ImageTensor, ...]
    length: int
    crc32: int

    @property
    def weights(self) -> dict[str, np.ndarray]:
        """``"<layer>.weight"/"<layer>.bias"`` -> raw int64 in PyTorch layout."""
        return {t.name: t.raw for t in self.tensors}


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _words_dtype(word_bits: int, signed: bool) -> str:
    return f"<{'i' if signed else 'u'}{word_bits // 8}"


def _tensors(spec: ModelSpec):
    """(layer, kind, format, shape, order, chw) in image order: layers in spec order,
    weight before bias (the order of the top function's memory arguments)."""
    for t in spec.tensors():
        yield t.layer, t.role, t.format, t.shape, t.order, t.chw


def min_word_bits(spec) -> int:
    """The smallest of 16/32/64 bits that holds every weight/bias format of ``spec``."""
    widest = max(fmt.width for _, _, fmt, *_ in _tensors(load_spec(spec)))
    return next(b for b in WORD_BITS if widest <= b)


def _memory_order(raw: np.ndarray, order: str, chw) -> np.ndarray:
    if order == "dense_hwc":
        return raw[:, hwc_permutation(*chw)]
    return raw


def _pytorch_order(words: np.ndarray, order: str, chw) -> np.ndarray:
    if order == "dense_hwc":
        out = np.empty_like(words)
        out[:, hwc_permutation(*chw)] = words
        return out
    return words


def build_image(spec, weights: dict, *, word_bits: int | None = None) -> bytes:
    """Serialize raw weights into a weight image for ``spec``.

    Parameters
    ----------
    spec : ModelSpec, name or path
    weights : dict
        ``"<layer>.weight"``/``"<layer>.bias"`` -> raw integer arrays, PyTorch layout
        (as :func:`fixsim.network.run` takes them).
    word_bits : {16, 32, 64}, optional
        Payload word width; default the smallest that holds every format.

    Returns
    -------
    bytes
        The complete image, trailer included.  Equal inputs give equal bytes.

    Raises
    ------
    InputError
        Bad weights (names, shapes, raw ranges), a word width that is not 16/32/64 or
        narrower than a format, a layer name longer than 63 bytes.
    """
    spec = load_spec(spec)
    raw = check_weights(spec, weights)
    need = min_word_bits(spec)
    if word_bits is None:
        bits, flags = need, 0
    else:
        if word_bits not in WORD_BITS:
            raise ImageFieldError(f"word width {word_bits!r} not one of {list(WORD_BITS)}")
        if word_bits < need:
            raise ImageFieldError(f"word width {word_bits} bits cannot hold the {need}-bit "
                                  f"formats of spec {spec.name!r}")
        bits, flags = word_bits, FLAG_WIDTH_GIVEN
    entries = list(_tensors(spec))
    offset = _align(HEADER_SIZE + ENTRY_SIZE * len(entries))
    table, payloads = [], []
    for layer, kind, fmt, shape, order, chw in entries:
        if len(layer.encode()) > 63 or len(str(fmt)) > 63:
            raise ImageFieldError(f"layer name {layer!r} or format {str(fmt)!r} is longer than "
                                  "63 bytes (the image table field)")
        words = _memory_order(raw[f"{layer}.{kind}"], order, chw)
        data = np.ascontiguousarray(words).astype(_words_dtype(bits, fmt.signed)).tobytes()
        dims = list(shape) + [1] * (4 - len(shape))
        table.append(_ENTRY.pack(layer.encode(), str(fmt).encode(), KINDS.index(kind),
                                 int(fmt.signed), ORDERS.index(order), len(shape), fmt.width,
                                 fmt.int_bits, *dims, *(chw or (0, 0, 0)), 0,
                                 int(np.prod(shape)), offset, len(data)))
        payloads.append((offset, data))
        offset = _align(offset + len(data))
    end = payloads[-1][0] + len(payloads[-1][1])
    length = end + TRAILER_SIZE
    buf = bytearray(length)
    buf[:HEADER_SIZE] = _HEADER.pack(MAGIC, VERSION, HEADER_SIZE, ENTRY_SIZE, bits, len(entries),
                                     flags, ALIGN, 0, length, bytes.fromhex(spec.spec_hash()))
    buf[HEADER_SIZE:HEADER_SIZE + ENTRY_SIZE * len(entries)] = b"".join(table)
    for off, data in payloads:
        buf[off:off + len(data)] = data
    buf[end:] = _TRAILER.pack(zlib.crc32(bytes(buf[:end])), END_MAGIC)
    return bytes(buf)


def _text(field: bytes, what: str, index: int) -> str:
    body, _, pad = field.partition(b"\0")
    if pad.strip(b"\0"):
        raise ImageFieldError(f"tensor {index}: {what} field has bytes after its NUL terminator")
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise ImageFieldError(f"tensor {index}: {what} field is not ASCII") from None
    if not text.isprintable():
        raise ImageFieldError(f"tensor {index}: {what} field {text!r} has control characters")
    return text


def _header(data: bytes) -> tuple:
    if len(data) < len(MAGIC) or data[:len(MAGIC)] != MAGIC:
        raise ImageMagicError(f"not a fixsim weight image (magic {bytes(data[:8])!r}, expected "
                              f"{MAGIC!r})")
    if len(data) < HEADER_SIZE + TRAILER_SIZE:
        raise ImageTruncatedError(f"weight image truncated: {len(data)} bytes, the header "
                                  f"alone needs {HEADER_SIZE + TRAILER_SIZE}")
    fields = _HEADER.unpack_from(data)
    length = fields[9]
    if length != len(data):
        cls = ImageTruncatedError if len(data) < length else ImageFieldError
        raise cls(f"weight image is {len(data)} bytes but its header declares {length}")
    crc, end_magic = _TRAILER.unpack_from(data, length - TRAILER_SIZE)
    got = zlib.crc32(data[:length - TRAILER_SIZE])
    if end_magic != END_MAGIC or got != crc:
        raise ImageCrcError(f"weight image CRC32 mismatch: stored {crc:#010x}, computed {got:#010x} "
                            f"(corrupted or truncated image)")
    return fields, crc


def _table_size(count: int, length: int) -> int:
    """Bytes of the tensor table, checked against the file length."""
    if not 1 <= count <= 4096 or HEADER_SIZE + count * ENTRY_SIZE > length - TRAILER_SIZE:
        raise ImageFieldError(f"weight image declares {count} tensors, which do not fit "
                              f"its {length} bytes (1..4096 allowed)")
    return count * ENTRY_SIZE


def _entry(data: bytes, i: int, bits: int, cursor: int, length: int) -> ImageTensor:
    """Decode and check table entry ``i`` and its payload (which must start at ``cursor``)."""
    (layer_b, fmt_b, kind, signed, order, ndim, width, int_bits, *rest) = _ENTRY.unpack_from(
        data, HEADER_SIZE + i * ENTRY_SIZE)
    dims, chw, pad, (n, offset, nbytes) = tuple(rest[:4]), tuple(rest[4:7]), rest[7], rest[8:]
    layer, fmt_text = _text(layer_b, "layer", i), _text(fmt_b, "format", i)
    where = f"tensor {i} ({layer!r})"
    if not _IDENT.match(layer) or kind >= len(KINDS) or order >= len(ORDERS) or pad or signed > 1:
        raise ImageFieldError(f"{where}: invalid layer name, kind {kind}, order {order} or "
                              f"signed flag {signed}")
    try:
        fmt = FixedType.parse(fmt_text)
    except FixsimError as exc:
        raise ImageFieldError(f"{where}: format {fmt_text!r} does not parse: {exc}") from None
    if (fmt.width, fmt.int_bits, fmt.signed) != (width, int_bits, bool(signed)):
        raise ImageFieldError(f"{where}: format {fmt_text!r} disagrees with its fields "
                              f"(W={width}, I={int_bits}, signed={signed})")
    if fmt.width > bits:
        raise ImageFieldError(f"{where}: {fmt.width}-bit format in {bits}-bit words")
    if not 1 <= ndim <= 4 or min(dims[:ndim]) < 1 or any(d != 1 for d in dims[ndim:]):
        raise ImageFieldError(f"{where}: invalid shape {dims} (ndim {ndim})")
    shape = dims[:ndim]
    order_name = ORDERS[order]
    if order_name == "dense_hwc":
        if ndim != 2 or min(chw) < 1 or chw[0] * chw[1] * chw[2] != shape[1]:
            raise ImageFieldError(f"{where}: dense_hwc order needs (C, H, W) with C*H*W equal "
                                  f"to the columns of {shape}, got {chw}")
    elif any(chw):
        raise ImageFieldError(f"{where}: (C, H, W) fields set for order {order_name!r}")
    if n != int(np.prod(shape)) or nbytes != n * bits // 8:
        raise ImageFieldError(f"{where}: count {n} / {nbytes} bytes disagree with shape "
                              f"{shape} in {bits}-bit words")
    if offset != cursor or offset + nbytes > length - TRAILER_SIZE:
        raise ImageFieldError(f"{where}: payload offset {offset} is not the expected {cursor} "
                              "or runs past the end")
    words = np.frombuffer(data, _words_dtype(bits, fmt.signed), n, offset).astype(np.int64)
    lo, hi = int(words.min()), int(words.max())
    if lo < fmt.raw_min or hi > fmt.raw_max:
        bad = lo if lo < fmt.raw_min else hi
        raise RawRangeError(f"{where}: stored value {bad} is outside the raw range of {fmt} "
                            f"[{fmt.raw_min}, {fmt.raw_max}]")
    perm = chw if order_name == "dense_hwc" else None
    raw = _pytorch_order(words.reshape(shape), order_name, perm)
    return ImageTensor(layer, KINDS[kind], fmt, shape, order_name, perm, offset, raw)


def parse_image(data: bytes, spec=None) -> WeightImage:
    """Parse and validate a weight image.

    Parameters
    ----------
    data : bytes
    spec : ModelSpec, name or path, optional
        When given, the image must be for this spec: same spec hash, and exactly the
        spec's tensors in order, with their shapes, formats and element orders.

    Returns
    -------
    WeightImage

    Raises
    ------
    ImageMagicError, ImageTruncatedError, ImageCrcError, ImageFieldError
        Not an image, wrong length, corrupted bytes, invalid header/table fields or
        non-zero padding (checked in this order: magic, length, CRC, fields).
    SpecHashMismatch, ImageShapeError
        An image of another spec; tensors that disagree with ``spec``.
    RawRangeError
        A word outside its format's raw range (not the sign/zero extension of a
        ``width``-bit mantissa).
    """
    data = bytes(data)
    fields, crc = _header(data)
    _, version, hsize, esize, bits, count, flags, align, reserved, length, digest = fields
    if version != VERSION:
        raise ImageFieldError(f"weight image version {version} not supported (this fixsim "
                              f"reads version {VERSION})")
    if (hsize, esize, align, reserved) != (HEADER_SIZE, ENTRY_SIZE, ALIGN, 0):
        raise ImageFieldError(f"weight image header sizes ({hsize}, {esize}, align {align}, "
                              f"reserved {reserved}) are not ({HEADER_SIZE}, {ENTRY_SIZE}, "
                              f"align {ALIGN}, reserved 0)")
    if bits not in WORD_BITS:
        raise ImageFieldError(f"weight image word width {bits} not one of {list(WORD_BITS)}")
    if flags & ~FLAG_WIDTH_GIVEN:
        raise ImageFieldError(f"weight image flags {flags:#x} set undefined bits")
    if any(data[HEADER_SIZE - 24:HEADER_SIZE]):
        raise ImageFieldError("weight image header reserved bytes are not zero")
    table_end = HEADER_SIZE + _table_size(count, length)
    tensors, cursor, used = [], _align(table_end), table_end
    pads = [data[table_end:cursor]]
    for i in range(count):
        t = _entry(data, i, bits, cursor, length)
        tensors.append(t)
        end = t.offset + t.raw.size * bits // 8
        cursor = _align(end) if i + 1 < count else end
        pads.append(data[end:cursor])
        used = end
    if used != length - TRAILER_SIZE:
        raise ImageFieldError(f"weight image has {length - TRAILER_SIZE - used} bytes between "
                              "the last payload and the trailer")
    if any(any(p) for p in pads):
        raise ImageFieldError("weight image padding bytes are not zero")
    image = WeightImage(digest.hex(), bits, flags, tuple(tensors), length, crc)
    if spec is not None:
        check_image_spec(image, spec)
    return image


def check_image_spec(image: WeightImage, spec) -> None:
    """Raise unless ``image`` holds exactly the tensors of ``spec`` (hash, names, shapes,
    formats, element orders, in order).

    Raises
    ------
    SpecHashMismatch, ImageShapeError
    """
    spec = load_spec(spec)
    if image.spec_hash != spec.spec_hash():
        raise SpecHashMismatch(f"weight image is for spec hash {image.spec_hash[:16]}..., not "
                               f"{spec.name!r} ({spec.spec_hash()[:16]}...)")
    want = list(_tensors(spec))
    got = [(t.layer, t.kind, t.format, t.shape, t.order, t.chw) for t in image.tensors]
    if len(want) != len(got):
        raise ImageShapeError(f"weight image has {len(got)} tensors, spec {spec.name!r} has "
                              f"{len(want)}")
    for w, g in zip(want, got, strict=True):
        if w != g:
            raise ImageShapeError(f"weight image tensor {g[0]}.{g[1]} {g[3]} {g[2]} order {g[4]} "
                                  f"does not match the spec's {w[0]}.{w[1]} {w[3]} {w[2]} "
                                  f"order {w[4]}")


def read_image(path: "str | os.PathLike", spec=None) -> WeightImage:
    """Read and validate a weight-image file (see :func:`parse_image`).

    Raises
    ------
    WeightImageError
        Missing file or any check of :func:`parse_image`; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightImageError(f"weight image {str(path)!r} does not exist")
    try:
        return parse_image(path.read_bytes(), spec)
    except WeightImageError as exc:
        raise type(exc)(f"{path.name}: {exc}") from None


def write_image(path: "str | os.PathLike", spec, weights: dict, *,
                word_bits: int | None = None) -> WeightImage:
    """Write a weight image atomically (temporary file, then rename); return it parsed."""
    from .._files import write_bytes_atomic

    blob = build_image(spec, weights, word_bits=word_bits)
    image = parse_image(blob, spec)
    write_bytes_atomic(path, blob)
    return image


def describe(image: WeightImage) -> list[dict]:
    """The tensor table as JSON-ready dicts (for ``--json`` output and manifests)."""
    return [{"layer": t.layer, "kind": t.kind, "format": str(t.format), "shape": list(t.shape),
             "order": t.order, "chw": list(t.chw) if t.chw else None, "count": int(t.raw.size),
             "offset": t.offset, "nbytes": int(t.raw.size) * image.word_bits // 8}
            for t in image.tensors]


__all__ = ["MAGIC", "VERSION", "ALIGN", "WORD_BITS", "HEADER_SIZE", "ENTRY_SIZE", "TRAILER_SIZE",
           "ImageTensor", "WeightImage", "build_image", "parse_image", "check_image_spec",
           "read_image", "write_image", "min_word_bits", "describe"]
