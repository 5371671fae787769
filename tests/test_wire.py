"""Wire format: exact round trips and clear refusals of damaged messages."""
import numpy as np
import pytest
import torch

from fl_core.codec.payload import SparseVector
from fl_core.codec.wire import SERVER, Header, decode_message, encode_message
from fl_core.errors import WireFormatError, CodecError


def _header(codec: str, length: int) -> Header:
    return Header("fedit", 3, 7, SERVER, codec, b"\x01" * 8, 0, length, 2, 0.75, 0.5)


def _sparse(length: int, density: float, seed: int = 0) -> SparseVector:
    rng = np.random.default_rng(seed)
    idx = np.flatnonzero(rng.random(length) < density).astype(np.int64)
    return SparseVector(idx, rng.standard_normal(idx.size).astype(np.float16), length)


@pytest.mark.parametrize("codec", ["dense-fp16", "sparse-golomb", "sparse-raw", "sparse-raw16"])
def test_round_trip_is_exact(codec):
    payload = _sparse(10_000, 0.2)
    header = _header(codec, payload.length)
    enc = encode_message(header, payload)
    got_header, got = decode_message(enc.data, header.fingerprint)
    assert got_header == header
    assert torch.equal(got.to_dense(), payload.to_dense())
    assert enc.header_bytes + enc.account.position_bytes + enc.account.value_bytes == len(enc.data)


def test_golomb_beats_raw_positions():
    payload = _sparse(100_000, 0.1)
    golomb = encode_message(_header("sparse-golomb", payload.length), payload)
    raw = encode_message(_header("sparse-raw", payload.length), payload)
    assert golomb.account.value_bytes == raw.account.value_bytes
    assert golomb.account.position_bytes < raw.account.position_bytes / 5


@pytest.mark.parametrize("codec", ["dense-fp16", "sparse-golomb"])
def test_every_flipped_byte_is_refused(codec):
    payload = _sparse(2_000, 0.3, seed=1)
    data = encode_message(_header(codec, payload.length), payload).data
    for pos in range(0, len(data), max(1, len(data) // 97)):
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        with pytest.raises(CodecError):
            decode_message(bytes(bad))


def test_cut_message_is_refused_with_clear_error():
    payload = _sparse(1_000, 0.5)
    data = encode_message(_header("dense-fp16", payload.length), payload).data
    for cut in (0, 10, len(data) // 2, len(data) - 1):
        with pytest.raises(WireFormatError, match="truncated"):
            decode_message(data[:cut])


def test_wrong_layout_and_newer_version_are_named():
    payload = _sparse(100, 0.5)
    data = encode_message(_header("dense-fp16", payload.length), payload).data
    with pytest.raises(WireFormatError, match="fingerprint"):
        decode_message(data, b"\x02" * 8)
    import struct
    import zlib

    newer = bytearray(data)
    newer[4:6] = struct.pack("<H", 99)
    newer[-4:] = struct.pack("<I", zlib.crc32(bytes(newer[:-4])))
    with pytest.raises(WireFormatError, match="newer"):
        decode_message(bytes(newer))


from hypothesis import given, settings, strategies as st


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_arbitrary_bytes_raise_only_codec_error(data):
    with pytest.raises(CodecError):
        decode_message(data)


def _refit_crc(data: bytearray) -> bytes:
    import struct
    import zlib

    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    return bytes(data)


@settings(max_examples=300, deadline=None)
@given(codec=st.sampled_from(["dense-fp16", "sparse-golomb", "sparse-raw", "sparse-raw16"]),
       edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6))
def test_fuzz_hostile_fields_behind_a_valid_checksum(codec, edits):
    """Mutations with a recomputed CRC reach the header and codec parsers: they must refuse cleanly."""
    payload = _sparse(3_000, 0.2, seed=3)
    data = bytearray(encode_message(_header(codec, payload.length), payload).data)
    for pos, value in edits:
        data[pos % (len(data) - 4)] = value
    try:
        _, got = decode_message(_refit_crc(data))
    except CodecError:
        return
    assert got.length < 2**40  # decoded without error: it must be a well-formed vector
    assert len(got.indices) == len(got.values) <= got.length


def test_hostile_length_field_does_not_allocate():
    import struct

    payload = _sparse(100, 0.5)
    data = bytearray(encode_message(_header("dense-fp16", payload.length), payload).data)
    data[32:40] = struct.pack("<Q", 2**62)  # the covered length
    with pytest.raises(CodecError):
        decode_message(_refit_crc(data))


def test_slice_beyond_the_receivers_vector_is_refused():
    payload = _sparse(100, 0.5)
    data = encode_message(_header("sparse-golomb", payload.length), payload).data
    with pytest.raises(WireFormatError, match="beyond"):
        decode_message(data, vector_length=50)
