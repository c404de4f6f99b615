"""Weight images: layout, round trips, element order, and every rejection."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from fixsim.layers import hwc_permutation
from fixsim.network.weights import random_weights
from fixsim.vectors import weight_image as wi
from fixsim.vectors.errors import (ImageCrcError, ImageFieldError, ImageMagicError,
                                   ImageShapeError, ImageTruncatedError, RawRangeError,
                                   SpecHashMismatch, WeightImageError)


def recrc(buf: bytearray) -> bytes:
    """Re-seal an edited image so that only the field checks can catch the edit."""
    end = len(buf) - wi.TRAILER_SIZE
    buf[end:end + 4] = struct.pack("<I", zlib.crc32(bytes(buf[:end])))
    return bytes(buf)


def test_round_trip_every_word_width(snl_spec):
    w = random_weights(snl_spec, seed=3)
    for bits in (None, 16, 32, 64):
        blob = wi.build_image(snl_spec, w, word_bits=bits)
        img = wi.parse_image(blob, snl_spec)
        assert img.word_bits == (bits or 16) and img.flags == (0 if bits is None else 1)
        assert img.spec_hash == snl_spec.spec_hash() and img.length == len(blob)
        for k, v in w.items():
            assert np.array_equal(img.weights[k], v) and img.weights[k].dtype == np.int64
        assert all(t.offset % wi.ALIGN == 0 for t in img.tensors)
    assert wi.build_image(snl_spec, w) == wi.build_image(snl_spec, {k: v.copy() for k, v in w.items()})


def test_header_fields_are_where_the_doc_says(snl_spec):
    blob = wi.build_image(snl_spec, random_weights(snl_spec, seed=1))
    assert blob[:8] == b"FIXSIMWI" and blob[-4:] == b"WEND"
    version, hsize, esize, bits, count = struct.unpack_from("<HHHHI", blob, 8)
    assert (version, hsize, esize, bits, count) == (1, 96, 192, 16, 8)
    assert struct.unpack_from("<Q", blob, 32)[0] == len(blob)
    assert blob[40:72].hex() == snl_spec.spec_hash()
    assert struct.unpack_from("<I", blob, len(blob) - 8)[0] == zlib.crc32(blob[:-8])
    entry = blob[96:96 + 192]
    assert entry[:6] == b"conv1\0" and entry[64:92] == b"ap_fixed<16,4,AP_RND,AP_SAT>"
    n, off, nbytes = struct.unpack_from("<QQQ", entry, 168)
    assert (n, nbytes) == (175, 350) and off == 1664  # 96 + 8*192 = 1632 -> aligned to 64


def test_hwc_dense_is_stored_in_memory_order_and_unsigned_zero_extended(small_spec, small_weights):
    blob = wi.build_image(small_spec, small_weights)
    img = wi.parse_image(blob, small_spec)
    assert img.word_bits == 32  # the 20-bit dense weights
    dense = next(t for t in img.tensors if t.name == "d.weight")
    assert dense.order == "dense_hwc" and dense.chw == (3, 2, 3)
    stored = np.frombuffer(blob, "<i4", dense.raw.size, dense.offset).reshape(dense.shape)
    assert np.array_equal(stored, small_weights["d.weight"][:, hwc_permutation(3, 2, 3)])
    conv = next(t for t in img.tensors if t.name == "c.weight")
    assert not conv.format.signed and conv.order == "pytorch"
    assert np.array_equal(np.frombuffer(blob, "<u4", conv.raw.size, conv.offset),
                          small_weights["c.weight"].reshape(-1))
    assert [t.name for t in img.tensors] == ["c.weight", "d.weight", "d.bias"]


def test_writer_rejects_bad_weights_and_widths(snl_spec, small_spec, small_weights):
    w = random_weights(snl_spec, seed=1)
    with pytest.raises(ImageFieldError, match="not one of"):
        wi.build_image(snl_spec, w, word_bits=8)
    with pytest.raises(ImageFieldError, match="cannot hold"):
        wi.build_image(small_spec, small_weights, word_bits=16)
    bad = dict(w, **{"fc2.bias": w["fc2.bias"] + (1 << 20)})
    with pytest.raises(Exception, match="outside the raw range"):
        wi.build_image(snl_spec, bad)


def test_reader_rejections(snl_spec, small_spec, small_weights):
    blob = wi.build_image(snl_spec, random_weights(snl_spec, seed=2))
    with pytest.raises(ImageMagicError):
        wi.parse_image(b"NOTANIMG" + blob[8:])
    with pytest.raises(ImageTruncatedError):
        wi.parse_image(blob[:-1])
    with pytest.raises(ImageTruncatedError):
        wi.parse_image(blob[:50])
    with pytest.raises(ImageFieldError, match="declares"):
        wi.parse_image(blob + b"\0")
    flipped = bytearray(blob)
    flipped[3000] ^= 0x10
    with pytest.raises(ImageCrcError):
        wi.parse_image(bytes(flipped))
    with pytest.raises(SpecHashMismatch):
        wi.parse_image(blob, small_spec)
    # a word beyond its 16-bit format in 32-bit words, re-sealed: only the range check sees it
    wide = bytearray(wi.build_image(snl_spec, random_weights(snl_spec, seed=2), word_bits=32))
    off = wi.parse_image(bytes(wide)).tensors[0].offset
    wide[off:off + 4] = struct.pack("<i", 40000)
    with pytest.raises(RawRangeError, match="40000"):
        wi.parse_image(recrc(wide))
    # a format edited consistently in the table: a valid image, but not of this spec
    small = bytearray(wi.build_image(small_spec, small_weights))
    e = wi.HEADER_SIZE + 2 * wi.ENTRY_SIZE  # d.bias ap_fixed<8,2,...>
    text = bytes(small[e + 64:e + 128]).rstrip(b"\0")
    small[e + 64:e + 64 + len(text)] = text.replace(b"<8,2", b"<8,3")
    struct.pack_into("<h", small, e + 134, 3)
    img = wi.parse_image(recrc(small))
    assert str(img.tensors[2].format).startswith("ap_fixed<8,3")
    with pytest.raises(ImageShapeError, match="does not match"):
        wi.parse_image(recrc(small), small_spec)


def test_read_image_names_the_file(tmp_path, snl_spec):
    path = tmp_path / "w.img"
    wi.write_image(path, snl_spec, random_weights(snl_spec, seed=4))
    assert wi.read_image(path, snl_spec).word_bits == 16
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ImageTruncatedError, match="^w.img: "):
        wi.read_image(path)
    with pytest.raises(WeightImageError, match="does not exist"):
        wi.read_image(tmp_path / "none.img")
