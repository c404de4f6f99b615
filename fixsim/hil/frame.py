"""The one HIL frame format, shared by every backend.

A frame is a fixed 32-byte little-endian header followed by a payload::

    offset size field        meaning
    0      4    magic        b"FXSH"
    4      1    version      1
    5      1    kind         1 input, 2 weight-image chunk, 3 result, 4 error
    6      1    word_bytes   2, 4 or 8 for input/result payloads; 1 for weights/error
    7      1    flags        bit 0 LAST (final weight chunk); other bits 0
    8      4    frame_id     uint32, chosen by the host; results echo it
    12     4    payload_len  payload bytes (a multiple of word_bytes)
    16     8    cycles       uint64 firmware cycle count, first input beat to last
                             output beat (results only; 0 otherwise)
    24     4    aux          weight chunk: byte offset in the image; error: error code
    28     4    crc32        zlib CRC32 of bytes 0..27 followed by the payload

Input and result payloads are raw two's-complement integer mantissas of one sample,
``word_bytes`` each, little-endian.  A weight load is acknowledged with a result frame
echoing the last chunk's id whose payload is two int64 words: image length and the
CRC32 of the assembled image.  :func:`decode` checks, in this order: length >= 32
(:class:`Truncated`), magic, header length vs buffer, CRC, version, kind and fields, so a
damaged frame is reported as damaged and never mistaken for a valid one.
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from .errors import (BadCrc, BadField, BadKind, BadMagic, BadVersion, InputError,
                     LengthMismatch, Truncated)

MAGIC = b"FXSH"
VERSION = 1
HEADER = struct.Struct("<4sBBBBIIQII")
HEADER_SIZE = HEADER.size  # 32
#: Largest payload accepted; bounds what a corrupted length field can make a reader allocate.
MAX_PAYLOAD = 64 << 20
FLAG_LAST = 0x01
WORD_DTYPES = {2: np.dtype("<i2"), 4: np.dtype("<i4"), 8: np.dtype("<i8")}
MAX_FRAME_ID = 0xFFFFFFFF

assert HEADER_SIZE == 32


class Kind(enum.IntEnum):
    """Frame kinds (the ``kind`` byte)."""

    INPUT = 1    # host -> device: one sample of raw input mantissas
    WEIGHTS = 2  # host -> device: one chunk of a weight image
    RESULT = 3   # device -> host: raw outputs of one sample, with a cycle count
    ERROR = 4    # device -> host: the device rejected a frame; payload is UTF-8 text


#: Error codes carried in ``aux`` of an ERROR frame.
ERR_BAD_FRAME, ERR_BAD_INPUT, ERR_INTERNAL, ERR_WEIGHTS = 1, 2, 3, 4


@dataclass(frozen=True)
class Frame:
    """One decoded frame.  Build them with :func:`input_frame` and friends."""

    kind: Kind
    frame_id: int
    payload: bytes = b""
    word_bytes: int = 1
    flags: int = 0
    cycles: int = 0
    aux: int = 0

    def words(self) -> np.ndarray:
        """Payload as an int64 array of shape ``(payload_len // word_bytes,)``."""
        if self.word_bytes not in WORD_DTYPES:
            raise BadField(f"frame kind {self.kind.name} has no integer words "
                           f"(word_bytes={self.word_bytes})")
        return np.frombuffer(self.payload, dtype=WORD_DTYPES[self.word_bytes]).astype(np.int64)

    @property
    def last(self) -> bool:
        return bool(self.flags & FLAG_LAST)

    def message(self) -> str:
        """Text of an ERROR frame (undecodable bytes replaced)."""
        return self.payload.decode("utf-8", errors="replace")


def _check_id(frame_id: int) -> int:
    if not isinstance(frame_id, (int, np.integer)) or not 0 <= int(frame_id) <= MAX_FRAME_ID:
        raise InputError(f"frame_id {frame_id!r} out of range [0, {MAX_FRAME_ID}]")
    return int(frame_id)


def pack_words(words, word_bytes: int) -> bytes:
    """Raw integers -> little-endian bytes of ``word_bytes`` each, range-checked.

    Raises
    ------
    InputError
        Unsupported width, non-integer dtype, or a value that does not fit the width.
    """
    if word_bytes not in WORD_DTYPES:
        raise InputError(f"word_bytes {word_bytes!r} not one of {sorted(WORD_DTYPES)}")
    arr = np.asarray(words)
    if arr.dtype.kind not in "iu":
        raise InputError(f"raw words must be integers, got dtype {arr.dtype}")
    arr = arr.reshape(-1)
    # Range check only when the source type is wider than the wire word (saves two passes).
    if arr.size and not np.can_cast(arr.dtype, WORD_DTYPES[word_bytes]):
        lo, hi = -(1 << (8 * word_bytes - 1)), (1 << (8 * word_bytes - 1)) - 1
        mn, mx = int(arr.min()), int(arr.max())
        if mn < lo or mx > hi:
            bad = mn if mn < lo else mx
            raise InputError(f"raw word {bad} does not fit int{8 * word_bytes} [{lo}, {hi}]")
    return arr.astype(WORD_DTYPES[word_bytes]).tobytes()


def input_frame(frame_id: int, words, word_bytes: int = 8) -> Frame:
    """An INPUT frame carrying one sample's raw mantissas (flattened, C order)."""
    return Frame(Kind.INPUT, _check_id(frame_id), pack_words(words, word_bytes), word_bytes)


def result_frame(frame_id: int, words, cycles: int, word_bytes: int = 8) -> Frame:
    """A RESULT frame: raw outputs of one sample and its firmware cycle count."""
    if not 0 <= int(cycles) < 1 << 64:
        raise InputError(f"cycle count {cycles!r} out of uint64 range")
    return Frame(Kind.RESULT, _check_id(frame_id), pack_words(words, word_bytes), word_bytes,
                 cycles=int(cycles))


def error_frame(frame_id: int, code: int, message: str) -> Frame:
    """An ERROR frame; ``frame_id`` is the rejected frame's id when it could be read."""
    return Frame(Kind.ERROR, _check_id(frame_id), message.encode("utf-8")[:4096], 1,
                 aux=int(code) & 0xFFFFFFFF)


def weight_frames(image: bytes, first_id: int, chunk_bytes: int = 1 << 16) -> list[Frame]:
    """Split a weight image into WEIGHTS chunks; the last one carries FLAG_LAST.

    An empty image is one empty LAST chunk.  ``aux`` is each chunk's byte offset.
    """
    if not 1 <= chunk_bytes <= MAX_PAYLOAD:
        raise InputError(f"chunk_bytes {chunk_bytes!r} not in [1, {MAX_PAYLOAD}]")
    image = bytes(image)
    if len(image) > MAX_FRAME_ID:
        raise InputError(f"weight image of {len(image)} bytes exceeds the 4 GiB offset field")
    offsets = list(range(0, len(image), chunk_bytes)) or [0]
    if len(offsets) + int(first_id) - 1 > MAX_FRAME_ID:
        raise InputError("weight image needs more frame ids than remain after first_id")
    return [Frame(Kind.WEIGHTS, _check_id(first_id + i), image[off:off + chunk_bytes], 1,
                  flags=FLAG_LAST if i == len(offsets) - 1 else 0, aux=off)
            for i, off in enumerate(offsets)]


def weights_ack(frame_id: int, image: bytes) -> Frame:
    """The RESULT frame a device sends after the LAST weight chunk."""
    return result_frame(frame_id, np.array([len(image), zlib.crc32(image)], np.int64), 0)


def encode(frame: Frame) -> bytes:
    """Frame -> bytes (header with CRC32, then payload)."""
    if len(frame.payload) > MAX_PAYLOAD:
        raise InputError(f"payload of {len(frame.payload)} bytes exceeds {MAX_PAYLOAD}")
    head = HEADER.pack(MAGIC, VERSION, int(frame.kind), frame.word_bytes, frame.flags,
                       frame.frame_id, len(frame.payload), frame.cycles, frame.aux, 0)
    crc = zlib.crc32(frame.payload, zlib.crc32(head[:28]))
    return b"".join((head[:28], struct.pack("<I", crc), frame.payload))


def decode(buf: bytes) -> Frame:
    """Bytes of exactly one frame -> :class:`Frame`, validating everything.

    Raises
    ------
    Truncated, BadMagic, LengthMismatch, BadCrc, BadVersion, BadKind, BadField
        (all :class:`~fixsim.hil.errors.FrameError`) for the first check that fails.
    """
    buf = bytes(buf)
    if len(buf) < HEADER_SIZE:
        raise Truncated(f"frame of {len(buf)} bytes is shorter than the {HEADER_SIZE}-byte header")
    magic, version, kind, word_bytes, flags, frame_id, plen, cycles, aux, crc = HEADER.unpack_from(buf)
    if magic != MAGIC:
        raise BadMagic(f"magic {magic!r} is not {MAGIC!r}")
    if len(buf) < HEADER_SIZE + plen:
        raise Truncated(f"header says {plen} payload bytes, only {len(buf) - HEADER_SIZE} present")
    if len(buf) > HEADER_SIZE + plen:
        raise LengthMismatch(f"header says {plen} payload bytes, {len(buf) - HEADER_SIZE} present")
    view = memoryview(buf)  # CRC over views: no copy of the payload
    actual = zlib.crc32(view[HEADER_SIZE:], zlib.crc32(view[:28]))
    if actual != crc:
        raise BadCrc(f"CRC32 0x{actual:08x} != header 0x{crc:08x} (frame_id field {frame_id})")
    if version != VERSION:
        raise BadVersion(f"protocol version {version} not supported (this host speaks {VERSION})")
    try:
        kind = Kind(kind)
    except ValueError:
        raise BadKind(f"frame kind {kind} not one of {[int(k) for k in Kind]}") from None
    if plen > MAX_PAYLOAD:
        raise BadField(f"payload_len {plen} exceeds {MAX_PAYLOAD}")
    if kind in (Kind.INPUT, Kind.RESULT):
        if word_bytes not in WORD_DTYPES:
            raise BadField(f"word_bytes {word_bytes} not one of {sorted(WORD_DTYPES)}")
        if plen % word_bytes:
            raise LengthMismatch(f"payload of {plen} bytes is not whole {word_bytes}-byte words")
    elif word_bytes != 1:
        raise BadField(f"{kind.name} frame must have word_bytes 1, got {word_bytes}")
    if flags & ~FLAG_LAST or (flags and kind != Kind.WEIGHTS):
        raise BadField(f"flags 0x{flags:02x} invalid for a {kind.name} frame")
    if cycles and kind != Kind.RESULT:
        raise BadField(f"cycles {cycles} set on a {kind.name} frame")
    if aux and kind in (Kind.INPUT, Kind.RESULT):
        raise BadField(f"aux {aux} set on a {kind.name} frame")
    return Frame(kind, frame_id, buf[HEADER_SIZE:], word_bytes, flags, cycles, aux)


def peek_length(header: bytes) -> int:
    """Total frame length announced by a header (for stream readers); validates magic."""
    if len(header) < HEADER_SIZE:
        raise Truncated(f"need {HEADER_SIZE} header bytes, got {len(header)}")
    if header[:4] != MAGIC:
        raise BadMagic(f"magic {bytes(header[:4])!r} is not {MAGIC!r}")
    plen = struct.unpack_from("<I", header, 12)[0]
    if plen > MAX_PAYLOAD:
        raise BadField(f"payload_len {plen} exceeds {MAX_PAYLOAD}")
    return HEADER_SIZE + plen
