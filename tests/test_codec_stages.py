"""Codec stages: fixed 16-bit positions, the dense fallback, old messages, and the stage registry."""
import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from fl_core.codec import stages
from fl_core.codec.payload import SparseVector, codecs, get_codec
from fl_core.codec.wire import SERVER, Header, decode_message, encode_message, encode_smallest
from fl_core.errors import CodecError


def _header(codec: str, length: int) -> Header:
    return Header("fedit+ecolora", 2, 4, SERVER, codec, b"\x07" * 8, 0, length, 1, 0.75, 0.5)


def _sparse(length: int, count: int, seed: int = 0) -> SparseVector:
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(length, size=count, replace=False)).astype(np.int64)
    return SparseVector(idx, rng.standard_normal(count).astype(np.float16), length)


def _body(enc) -> int:
    return len(enc.data) - enc.header_bytes


@pytest.mark.parametrize("length,count", [(1_000, 0), (1_000, 1), (1_000, 600), (65_536, 40_000),
                                          (200_000, 0), (200_000, 120_000), (262_145, 7)])
def test_raw16_costs_16_bits_per_kept_position_plus_framing(length, count):
    payload = _sparse(length, count, seed=length + count)
    enc = encode_message(_header("sparse-raw16", length), payload)
    n_blocks = -(-length // 2**16)
    framing = 8 + (4 * n_blocks if n_blocks > 1 else 0)  # u64 position-block length, u32 count per block
    assert enc.account.position_bytes == framing + 2 * count
    assert enc.account.value_bytes == 2 * count
    assert _body(enc) == framing + 4 * count
    _, got = decode_message(enc.data)
    assert np.array_equal(got.indices, payload.indices) and torch.equal(got.to_dense(), payload.to_dense())


def test_raw32_keeps_the_version_1_layout_and_old_messages_decode():
    payload = _sparse(5_000, 900, seed=1)
    for old_id, name in ((1, "dense-fp16"), (2, "sparse-golomb"), (3, "sparse-raw")):
        data = bytearray(encode_message(_header(name, payload.length), payload).data)
        data[4:8] = struct.pack("<HH", 1, old_id)  # what a version-1 writer put there
        data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
        header, got = decode_message(bytes(data))
        assert header == _header(name, payload.length)
        assert torch.equal(got.to_dense(), payload.to_dense())
    raw = encode_message(_header("sparse-raw", payload.length), payload)
    assert raw.account.position_bytes == 8 + 4 * 900  # absolute uint32 positions, as before


@pytest.mark.parametrize("codec", ["sparse-golomb", "sparse-raw16", "sparse-raw"])
def test_dense_fallback_triggers_exactly_when_dense_is_smaller(codec):
    length = 96
    crossings = 0
    for count in range(length + 1):
        payload = _sparse(length, count, seed=count)
        sparse = encode_message(_header(codec, length), payload)
        dense_vector = torch.randn(length)  # what a sender that sparsified it would send dense
        chosen = encode_smallest(_header(codec, length), payload, dense_vector)
        fallback = 2 * length < _body(sparse)
        crossings += fallback
        assert chosen.account.fallback == fallback and len(chosen.data) == min(len(sparse.data), len(chosen.data))
        header, got = decode_message(chosen.data)
        assert header.fallback == fallback
        if fallback:
            assert header.codec == chosen.account.codec == "dense-fp16" and chosen.account.position_bytes == 0
            assert torch.equal(got.to_dense(), dense_vector.half().float())
        else:
            assert chosen.data == sparse.data and chosen.account.codec == codec
    assert 0 < crossings < length + 1


def test_fallback_crossovers_at_the_documented_densities():
    """16-bit positions lose to dense fp16 above k = 1/2; Golomb positions near k = 0.94."""
    length = 184_320  # one of five segments of the default model's r = 16 adapter
    def falls_back(codec, k):
        return encode_smallest(_header(codec, length), _sparse(length, int(k * length))).account.fallback

    assert not falls_back("sparse-raw16", 0.49) and falls_back("sparse-raw16", 0.51)
    assert not falls_back("sparse-golomb", 0.93) and falls_back("sparse-golomb", 0.95)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600), length=st.sampled_from([10, 70_000, 300_000]))
def test_fuzz_raw16_positions_raise_only_codec_error(data, length):
    try:
        idx = stages.POSITION_STAGES["raw16"].decode(data, length)
    except CodecError:
        return
    assert idx.size <= length and (idx.size == 0 or (idx.max() < length and np.all(np.diff(idx) > 0)))


@pytest.fixture
def toy_stages():
    class Fp32Values:
        name, stage_id = "fp32", 200

        def size(self, count):
            return 4 * count

        def encode(self, values):
            return np.ascontiguousarray(values, dtype="<f4").tobytes()

        def decode(self, data, count):
            if len(data) != 4 * count:
                raise CodecError("bad fp32 block")
            return np.frombuffer(data, dtype="<f4").copy()

    class Bitmap:
        name, stage_id = "bitmap", 100

        def encode(self, indices, length):
            bits = np.zeros(length, dtype=bool)
            bits[indices] = True
            return np.packbits(bits).tobytes()

        def decode(self, data, length):
            if len(data) != -(-length // 8):
                raise CodecError("bad bitmap")
            return np.flatnonzero(np.unpackbits(np.frombuffer(data, np.uint8))[:length]).astype(np.int64)

    stages.register_value_stage(Fp32Values())  # the one registry line a new stage needs
    stages.register_position_stage(Bitmap())
    yield
    del stages.VALUE_STAGES["fp32"], stages.POSITION_STAGES["bitmap"]


def test_a_new_stage_is_one_class_and_one_registry_line(toy_stages):
    assert {"sparse-bitmap", "sparse-golomb-fp32", "dense-fp32", "sparse-bitmap-fp32"} <= set(codecs())
    payload = _sparse(3_000, 700, seed=5)
    for name in ("sparse-bitmap", "sparse-bitmap-fp32", "sparse-raw16-fp32"):
        enc = encode_message(_header(name, payload.length), payload)
        header, got = decode_message(enc.data)
        assert header.codec == name and torch.equal(got.to_dense(), payload.to_dense())
    assert encode_message(_header("sparse-bitmap", 3_000), payload).account.position_bytes == 8 + 375
    with pytest.raises(Exception, match="clashes"):
        stages.register_position_stage(type("Again", (), {"name": "bitmap", "stage_id": 101})())


def test_unknown_codec_names_and_ids_are_refused():
    with pytest.raises(CodecError, match="unknown payload codec 'sparse-zip'"):
        get_codec("sparse-zip")
    data = bytearray(encode_message(_header("sparse-golomb", 10), _sparse(10, 3)).data)
    data[6:8] = struct.pack("<H", 0x7F01)
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    with pytest.raises(CodecError, match="unknown payload codec id"):
        decode_message(bytes(data))
