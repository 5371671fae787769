"""Golomb–Rice position coding (EcoLoRA §3.5): exact round trips, the right parameter, and refusals."""
import math
import struct
import time

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fl_core.codec.golomb import (
    HEADER_BYTES,
    MAX_LENGTH,
    decode_positions,
    encode_positions,
    entropy_bits_per_position,
    expected_bits_per_position,
    rice_parameter,
)
from fl_core.errors import CodecError, ConfigError

torch.set_num_threads(1)


def _random_positions(length: int, density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.flatnonzero(rng.random(length) < density).astype(np.int64)


def _round_trip(indices: np.ndarray, length: int) -> None:
    decoded = decode_positions(encode_positions(indices, length), length)
    assert decoded.dtype == np.int64
    np.testing.assert_array_equal(decoded, indices)


@st.composite
def position_sets(draw, max_length: int = 5000) -> tuple[np.ndarray, int]:
    """A length and a sorted, unique position set at a density from 1e-4 to 1."""
    length = draw(st.integers(1, max_length))
    density = draw(st.sampled_from([1e-4, 1e-3, 0.01, 0.05, 0.1, 0.25, 0.38, 0.5, 0.6, 0.95, 1.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    return _random_positions(length, density, seed), length


@given(position_sets())
@settings(max_examples=300, deadline=None)
def test_round_trip_at_every_density(case):
    indices, length = case
    _round_trip(indices, length)


@pytest.mark.parametrize(
    "indices, length",
    [
        (np.zeros(0, dtype=np.int64), 0),
        (np.zeros(0, dtype=np.int64), 1),
        (np.zeros(0, dtype=np.int64), 1000),
        (np.array([0]), 1),
        (np.arange(1000), 1000),
        (np.array([0]), 1000),
        (np.array([999]), 1000),
        (np.array([0, 999]), 1000),
        (np.array([2**32 + 5]), 2**33),
        (np.array([0, 2**32 - 1, 2**32, 2**40 - 1]), 2**40),
        (np.array([MAX_LENGTH - 1]), MAX_LENGTH),
    ],
)
def test_round_trip_edge_cases(indices, length):
    _round_trip(np.asarray(indices, dtype=np.int64), length)


def test_all_zero_vector_is_header_only():
    assert len(encode_positions(np.zeros(0, dtype=np.int64), 10**9)) == HEADER_BYTES


def test_all_kept_costs_one_bit_per_position():
    data = encode_positions(np.arange(8000), 8000)
    assert len(data) == HEADER_BYTES + 1000


def test_rice_parameter_minimises_expected_length():
    """The closed form agrees with a brute-force argmin over b, from p = 1e-9 to 1 and around b's 0/1 switch."""
    for p in np.concatenate([np.logspace(-9, 0, 2000), np.linspace(0.3, 0.45, 500)]):
        costs = [expected_bits_per_position(float(p), b) for b in range(64)]
        assert costs[rice_parameter(float(p))] <= min(costs) * (1 + 1e-12), p


def test_paper_example_at_k_0_1():
    """§3.5: about 4.8 bits per position at k = 0.1, near the entropy 4.69."""
    assert rice_parameter(0.1) == 3
    assert expected_bits_per_position(0.1, 3) == pytest.approx(4.76, abs=0.01)
    assert entropy_bits_per_position(0.1) == pytest.approx(4.69, abs=0.01)


@pytest.mark.parametrize("p", [0.01, 0.05, 0.1, 0.25, 0.5])
def test_measured_bits_close_to_entropy(p):
    length = 2_000_000
    indices = _random_positions(length, p, seed=1)
    bits = 8 * len(encode_positions(indices, length)) / indices.size
    assert bits == pytest.approx(expected_bits_per_position(p, rice_parameter(p)), rel=0.01)
    assert bits <= entropy_bits_per_position(p) * 1.04


@pytest.mark.parametrize("p", [0.0, -0.1, 1.5, math.nan])
def test_density_outside_unit_interval_is_refused(p):
    with pytest.raises(ConfigError, match="density"):
        rice_parameter(p)


@pytest.mark.parametrize(
    "indices, length",
    [
        (np.array([3, 2]), 10),
        (np.array([2, 2]), 10),
        (np.array([10]), 10),
        (np.array([-1]), 10),
        (np.array([0.5]), 10),
        (np.array([[1, 2]]), 10),
        (np.array([1]), MAX_LENGTH + 1),
    ],
)
def test_encode_refuses_invalid_positions(indices, length):
    with pytest.raises(CodecError):
        encode_positions(indices, length)


# -- damaged input -----------------------------------------------------------------------

_CASE = _random_positions(20_000, 0.1, seed=3), 20_000


def _valid_or_codec_error(data: bytes, length: int) -> None:
    """Decoding must either raise CodecError or return a valid position set."""
    try:
        out = decode_positions(data, length)
    except CodecError:
        return
    assert out.dtype == np.int64 and out.ndim == 1
    assert out.size == 0 or (out[0] >= 0 and out[-1] < length and np.all(np.diff(out) > 0))


def _unary_bits(data: bytes) -> int:
    return struct.unpack_from("<QQQB", data)[2]


@given(st.binary(max_size=200), st.integers(0, 2**63))
@settings(max_examples=500, deadline=1000)
def test_arbitrary_bytes_raise_only_codec_error(data, length):
    _valid_or_codec_error(data, length)


@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(0, 255), st.binary(max_size=64))
@settings(max_examples=500, deadline=1000)
def test_arbitrary_headers_raise_only_codec_error(count, unary_bits, b, body):
    length = 10**6
    _valid_or_codec_error(struct.pack("<QQQB", length, count, unary_bits, b) + body, length)


@given(st.data())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_corrupted_byte_raises_only_codec_error(data):
    indices, length = _CASE
    encoded = bytearray(encode_positions(indices, length))
    where = data.draw(st.integers(0, len(encoded) - 1))
    encoded[where] ^= data.draw(st.integers(1, 255))
    _valid_or_codec_error(bytes(encoded), length)


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_single_bit_flip_in_header_or_unary_stream_is_detected(data):
    indices, length = _CASE
    encoded = bytearray(encode_positions(indices, length))
    unary_end = HEADER_BYTES + -(-_unary_bits(bytes(encoded)) // 8)
    bit = data.draw(st.integers(0, 8 * unary_end - 1))
    encoded[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(CodecError):
        decode_positions(bytes(encoded), length)


@given(st.integers(1, 100))
@settings(max_examples=50, deadline=None)
def test_truncation_is_detected(cut):
    indices, length = _CASE
    encoded = encode_positions(indices, length)
    with pytest.raises(CodecError):
        decode_positions(encoded[:-cut], length)


@given(st.binary(min_size=1, max_size=16))
@settings(max_examples=50, deadline=None)
def test_trailing_garbage_is_detected(tail):
    indices, length = _CASE
    with pytest.raises(CodecError):
        decode_positions(encode_positions(indices, length) + tail, length)


def test_wrong_length_is_detected():
    indices, length = _CASE
    with pytest.raises(CodecError, match="vector of 20000"):
        decode_positions(encode_positions(indices, length), length + 1)


@pytest.mark.parametrize("count", [2**40, 2**63, 2**64 - 1])
def test_hostile_count_is_refused_before_allocating(count):
    indices, length = _CASE
    encoded = bytearray(encode_positions(indices, length))
    struct.pack_into("<Q", encoded, 8, count)
    start = time.perf_counter()
    with pytest.raises(CodecError):
        decode_positions(bytes(encoded), 2**62)
    with pytest.raises(CodecError):
        decode_positions(bytes(encoded), length)
    assert time.perf_counter() - start < 0.5


def test_hostile_quotient_cannot_overflow():
    """A huge gap quotient with a large b is refused, not wrapped around int64."""
    length = 2**62
    payload = struct.pack("<QQQB", length, 1, 9, 61) + bytes([0xFF, 0x00]) + bytes(8)
    with pytest.raises(CodecError, match="quotient"):
        decode_positions(payload, length)


def test_decoding_a_large_block_is_fast():
    length = 8_388_608
    indices = _random_positions(length, 0.1, seed=5)
    encoded = encode_positions(indices, length)
    start = time.perf_counter()
    decode_positions(encoded, length)
    assert time.perf_counter() - start < 2.0
