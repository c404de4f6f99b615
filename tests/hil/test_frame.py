"""The frame codec: round trips, strict validation, every single-bit flip detected."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixsim.errors import FixsimError, InputError
from fixsim.hil import frame as fr
from fixsim.hil.errors import (BadCrc, BadField, BadKind, BadMagic, BadVersion, FrameError,
                               LengthMismatch, Truncated)

ids = st.integers(0, fr.MAX_FRAME_ID)
widths = st.sampled_from([2, 4, 8])


@st.composite
def word_arrays(draw, max_len=24):
    wb = draw(widths)
    lim = 1 << (8 * wb - 1)
    words = draw(st.lists(st.integers(-lim, lim - 1), max_size=max_len))
    return wb, np.array(words, dtype=np.int64)


@st.composite
def frames(draw, max_len=24):
    kind = draw(st.sampled_from(list(fr.Kind)))
    fid = draw(ids)
    if kind == fr.Kind.INPUT:
        wb, w = draw(word_arrays(max_len))
        return fr.input_frame(fid, w, wb)
    if kind == fr.Kind.RESULT:
        wb, w = draw(word_arrays(max_len))
        return fr.result_frame(fid, w, draw(st.integers(0, (1 << 64) - 1)), wb)
    if kind == fr.Kind.ERROR:
        return fr.error_frame(fid, draw(st.integers(0, 2**32 - 1)), draw(st.text(max_size=20)))
    image = draw(st.binary(max_size=3 * max_len))
    chunks = fr.weight_frames(image, min(fid, fr.MAX_FRAME_ID - 200), draw(st.integers(1, 32)))
    return draw(st.sampled_from(chunks))


def reseal(buf: bytearray) -> bytes:
    """Recompute the CRC after a deliberate field change (to reach post-CRC checks)."""
    struct.pack_into("<I", buf, 28, zlib.crc32(bytes(buf[32:]), zlib.crc32(bytes(buf[:28]))))
    return bytes(buf)


@given(frames())
def test_round_trip(f):
    assert fr.decode(fr.encode(f)) == f


@given(word_arrays())
def test_words_round_trip_exactly(wa):
    wb, w = wa
    back = fr.decode(fr.encode(fr.input_frame(7, w, wb)))
    assert back.word_bytes == wb
    np.testing.assert_array_equal(back.words(), w)
    assert back.words().dtype == np.int64


def test_layout_is_little_endian_and_documented():
    buf = fr.encode(fr.result_frame(0x01020304, np.array([-2, 3]), cycles=9003, word_bytes=4))
    assert buf[:4] == b"FXSH" and buf[4] == 1 and buf[5] == fr.Kind.RESULT and buf[6] == 4
    assert buf[8:12] == bytes([4, 3, 2, 1])
    assert struct.unpack_from("<I", buf, 12)[0] == 8
    assert struct.unpack_from("<Q", buf, 16)[0] == 9003
    assert buf[32:] == struct.pack("<ii", -2, 3)
    assert struct.unpack_from("<I", buf, 28)[0] == zlib.crc32(buf[:28] + buf[32:])


@given(frames(max_len=12))
def test_every_single_bit_flip_is_detected(f):
    good = fr.encode(f)
    for bit in range(len(good) * 8):
        bad = bytearray(good)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(FrameError):
            fr.decode(bytes(bad))


@given(frames(max_len=8))
def test_every_truncation_and_extension_is_detected(f):
    good = fr.encode(f)
    for n in range(len(good)):
        with pytest.raises(Truncated):
            fr.decode(good[:n])
    with pytest.raises(LengthMismatch):
        fr.decode(good + b"\0")


@given(st.binary(max_size=80))
def test_arbitrary_bytes_never_crash(data):
    try:
        f = fr.decode(data)
    except FrameError:
        return
    assert fr.encode(f) == data  # only a genuinely valid frame decodes


@given(st.binary(min_size=28, max_size=28), st.binary(max_size=16))
def test_resealed_garbage_headers_decode_or_raise_frame_error(head, payload):
    buf = bytearray(b"FXSH" + head[4:12] + struct.pack("<I", len(payload)) + head[16:] + b"\0" * 4 + payload)
    try:
        fr.decode(reseal(buf))
    except FrameError:
        pass


def test_specific_errors():
    good = bytearray(fr.encode(fr.input_frame(1, [1, 2, 3], 2)))
    with pytest.raises(BadMagic, match="magic"):
        fr.decode(b"XXXX" + bytes(good[4:]))
    bad = bytearray(good)
    bad[-1] ^= 0xFF
    with pytest.raises(BadCrc, match="CRC32"):
        fr.decode(bytes(bad))
    bad = bytearray(good)
    bad[4] = 2
    with pytest.raises(BadVersion):
        fr.decode(reseal(bad))
    bad = bytearray(good)
    bad[5] = 9
    with pytest.raises(BadKind):
        fr.decode(reseal(bad))
    bad = bytearray(good)
    bad[6] = 3
    with pytest.raises(BadField, match="word_bytes"):
        fr.decode(reseal(bad))
    bad = bytearray(fr.encode(fr.input_frame(1, [1, 2, 3], 4)))
    bad[6] = 8  # 12-byte payload is not whole 8-byte words
    with pytest.raises(LengthMismatch):
        fr.decode(reseal(bad))
    bad = bytearray(good)
    bad[7] = fr.FLAG_LAST  # LAST only on weight chunks
    with pytest.raises(BadField, match="flags"):
        fr.decode(reseal(bad))
    bad = bytearray(good)
    struct.pack_into("<Q", bad, 16, 5)  # cycles only on results
    with pytest.raises(BadField, match="cycles"):
        fr.decode(reseal(bad))
    # Each specific error is a FixsimError and a ValueError, never a bare crash.
    assert issubclass(BadCrc, FixsimError) and issubclass(BadCrc, ValueError)


def test_words_must_fit_their_width():
    with pytest.raises(InputError, match="does not fit int16"):
        fr.input_frame(0, [40000], 2)
    with pytest.raises(InputError, match="integers"):
        fr.input_frame(0, np.array([1.5]), 8)
    with pytest.raises(InputError, match="word_bytes"):
        fr.input_frame(0, [1], 3)
    with pytest.raises(InputError, match="frame_id"):
        fr.input_frame(-1, [1], 8)


@given(st.binary(max_size=300), st.integers(1, 64))
def test_weight_chunks_reassemble(image, chunk):
    chunks = fr.weight_frames(image, 100, chunk)
    assert [c.last for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert b"".join(fr.decode(fr.encode(c)).payload for c in chunks) == image
    assert [c.aux for c in chunks] == [i * chunk for i in range(len(chunks))]


def test_weights_ack_carries_length_and_crc():
    ack = fr.decode(fr.encode(fr.weights_ack(5, b"abc")))
    assert list(ack.words()) == [3, zlib.crc32(b"abc")]


def test_peek_length():
    buf = fr.encode(fr.input_frame(1, [1, 2], 8))
    assert fr.peek_length(buf[:32]) == len(buf)
    with pytest.raises(Truncated):
        fr.peek_length(buf[:10])
    with pytest.raises(BadMagic):
        fr.peek_length(b"nope" + buf[4:32])
