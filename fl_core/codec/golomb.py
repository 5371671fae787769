"""Lossless coding of the kept positions of a sparse vector (EcoLoRA §3.5).

Top-k sparsification keeps each element with probability about p = count/length,
so the gaps between kept positions are geometric, P(g = n) = (1 - p)^n p, and a
Golomb code is optimal for them (Golomb, 1966). We use its Rice subset (the
Golomb modulus M restricted to a power of two, M = 2^b): the remainder is then a
plain b-bit field and the whole code vectorises.

Layout (all integers little-endian)::

    header   25 bytes   length:u64  count:u64  unary_bits:u64  b:u8
    unary    ceil(unary_bits / 8) bytes   per gap g_j: (g_j >> b) ones, then a zero
    rem      ceil(count * b / 8) bytes    per gap g_j: the low b bits of g_j, MSB first

with g_0 = i_0 and g_j = i_j - i_{j-1} - 1. Each stream is padded with zero bits
to a whole byte. Putting the quotient of gap j next to its remainder would give
the textbook bit order; splitting the two streams keeps the same code words (and
the same length up to one byte of padding) but lets the decoder find every
quotient at once from the positions of the zero terminators.

Any input that is not exactly such an encoding raises ``CodecError``; every size
field is checked against the real byte count before anything is allocated.
"""
from __future__ import annotations

import math
import struct

import numpy as np

from fl_core.errors import CodecError, ConfigError

_HEADER = struct.Struct("<QQQB")
HEADER_BYTES = _HEADER.size
MAX_LENGTH = 2**62
"""Longest vector the code accepts; it keeps every gap and prefix sum inside int64."""

_GOLDEN_RATIO = (1.0 + math.sqrt(5.0)) / 2.0
_WORD_DTYPES = ((8, ">u1"), (16, ">u2"), (32, ">u4"), (64, ">u8"))


def _check_density(p: float) -> None:
    """Refuse densities outside (0, 1] (NaN included)."""
    if not 0.0 < p <= 1.0:
        raise ConfigError(f"density p (={p}) must lie in (0, 1]")


def rice_parameter(p: float) -> int:
    """Rice parameter b (modulus M = 2^b) minimising the expected code length for density ``p``.

    b = max(0, 1 + floor(log2(log(phi - 1) / log(1 - p)))), phi the golden ratio
    (Kiely, 2004; the choice of Sattler et al.'s STC): going from b to b + 1 saves
    bits exactly while (1 - p)^(2^b) > phi - 1. ``tests/test_golomb.py`` checks it
    against the argmin over b of :func:`expected_bits_per_position`; docs/CODEC.md derives it.
    """
    _check_density(p)
    if p >= 1.0 - (_GOLDEN_RATIO - 1.0):
        return 0
    return max(0, 1 + math.floor(math.log2(math.log(_GOLDEN_RATIO - 1.0) / math.log1p(-p))))


def expected_bits_per_position(p: float, b: int) -> float:
    """Expected Rice code length of one geometric(p) gap: b + 1 + E[g >> b] = b + 1 + θ^M / (1 - θ^M), θ = 1 - p."""
    _check_density(p)
    if b < 0:
        raise ConfigError(f"Rice parameter b (={b}) must be >= 0")
    if p == 1.0:
        return float(b + 1)
    x = -(2.0**b) * math.log1p(-p)
    return b + 1 + math.exp(-x) / -math.expm1(-x)


def entropy_bits_per_position(p: float) -> float:
    """Entropy of a geometric(p) gap, H = (-(1 - p) log2(1 - p) - p log2 p) / p: no code can beat it on average."""
    _check_density(p)
    if p == 1.0:
        return 0.0
    return (-(1.0 - p) * math.log2(1.0 - p) - p * math.log2(p)) / p


def _word_dtype(b: int) -> tuple[int, str]:
    """Smallest big-endian unsigned word that holds a b-bit remainder."""
    return next((width, dtype) for width, dtype in _WORD_DTYPES if b <= width)


def _check_indices(indices: np.ndarray, length: int) -> None:
    """Refuse anything but a sorted, unique 1-D integer array inside [0, length)."""
    if not 0 <= length <= MAX_LENGTH:
        raise CodecError(f"length (={length}) must lie in [0, 2^62]")
    if indices.ndim != 1 or (indices.size and not np.issubdtype(indices.dtype, np.integer)):
        raise CodecError(f"positions must be a 1-D integer array, got shape {indices.shape} dtype {indices.dtype}")
    if indices.size and (indices[0] < 0 or indices[-1] >= length):
        raise CodecError(f"positions must lie in [0, {length}), got {indices[0]} .. {indices[-1]}")
    if indices.size > 1 and not np.all(np.diff(indices) > 0):
        raise CodecError("positions must be sorted and unique")


def _unary_stream(quotients: np.ndarray) -> tuple[bytes, int]:
    """Per quotient q: q one-bits then a zero terminator; returns the packed bytes and the bit count."""
    terminators = np.cumsum(quotients + 1) - 1
    n_bits = int(terminators[-1]) + 1 if terminators.size else 0
    bits = np.ones(n_bits, dtype=bool)
    bits[terminators] = False
    return np.packbits(bits).tobytes(), n_bits


def _remainder_stream(remainders: np.ndarray, b: int) -> bytes:
    """The low ``b`` bits of every remainder, MSB first, packed back to back."""
    if b == 0:
        return b""
    width, dtype = _word_dtype(b)
    bits = np.unpackbits(remainders.astype(dtype).view(np.uint8).reshape(-1, width // 8), axis=1)
    return np.packbits(bits[:, width - b :]).tobytes()


def encode_positions(indices: np.ndarray, length: int) -> bytes:
    """Golomb–Rice encode sorted, unique positions in [0, length) (EcoLoRA §3.5); see the module layout."""
    idx = np.asarray(indices)
    _check_indices(idx, length)
    idx = idx.astype(np.int64, copy=False)
    count = idx.size
    b = rice_parameter(count / length) if count else 0
    gaps = np.diff(idx, prepend=-1) - 1
    unary, unary_bits = _unary_stream(gaps >> b)
    remainders = _remainder_stream(gaps & ((1 << b) - 1), b)
    return _HEADER.pack(length, count, unary_bits, b) + unary + remainders


def _read_header(data: bytes, length: int) -> tuple[int, int, int]:
    """Parse and validate the header against ``length`` and the real data size; returns (count, unary_bits, b)."""
    if not 0 <= length <= MAX_LENGTH:
        raise CodecError(f"length (={length}) must lie in [0, 2^62]")
    if len(data) < HEADER_BYTES:
        raise CodecError(f"position block of {len(data)} bytes is shorter than its {HEADER_BYTES}-byte header")
    stored_length, count, unary_bits, b = _HEADER.unpack_from(data)
    if stored_length != length:
        raise CodecError(f"position block is for a vector of {stored_length} elements, expected {length}")
    if count > length:
        raise CodecError(f"position block claims {count} positions in a vector of {length}")
    if (1 << b) > max(length, 1):
        raise CodecError(f"Rice parameter b (={b}) too large for a vector of {length}")
    if unary_bits < count or (count == 0 and unary_bits != 0):
        raise CodecError(f"unary stream of {unary_bits} bits cannot hold {count} gaps")
    expected = HEADER_BYTES + -(-unary_bits // 8) + -(-count * b // 8)
    if expected != len(data):
        raise CodecError(f"position block is {len(data)} bytes, its header implies {expected}")
    return count, unary_bits, b


def _unpack_exact(buffer: np.ndarray, n_bits: int, what: str) -> np.ndarray:
    """Unpack ``n_bits`` bits and insist that the padding after them is zero."""
    bits = np.unpackbits(buffer)
    if bits[n_bits:].any():
        raise CodecError(f"non-zero padding after the {what} stream")
    return bits[:n_bits]


def _read_quotients(buffer: np.ndarray, unary_bits: int, count: int) -> np.ndarray:
    """Quotients from the unary stream: the run lengths of ones before each of the ``count`` zeros."""
    bits = _unpack_exact(buffer, unary_bits, "unary")
    terminators = np.flatnonzero(bits == 0)
    if terminators.size != count or (count and terminators[-1] != unary_bits - 1):
        raise CodecError(f"unary stream has {terminators.size} terminators for {count} gaps or trailing bits")
    return np.diff(terminators, prepend=-1) - 1


def _read_remainders(buffer: np.ndarray, count: int, b: int) -> np.ndarray:
    """The ``count`` b-bit remainders, each left-padded to a whole big-endian word and read as an integer."""
    if b == 0:
        return np.zeros(count, dtype=np.int64)
    bits = _unpack_exact(buffer, count * b, "remainder").reshape(count, b)
    width, dtype = _word_dtype(b)
    words = np.zeros((count, width), dtype=np.uint8)
    words[:, width - b :] = bits
    return np.packbits(words, axis=1).view(dtype).ravel().astype(np.int64)


def decode_positions(data: bytes, length: int) -> np.ndarray:
    """Exact inverse of :func:`encode_positions`: the sorted int64 positions; ``CodecError`` on any inconsistency."""
    raw = bytes(data)
    count, unary_bits, b = _read_header(raw, length)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    buffer = np.frombuffer(raw, dtype=np.uint8, offset=HEADER_BYTES)
    unary_bytes = -(-unary_bits // 8)
    quotients = _read_quotients(buffer[:unary_bytes], unary_bits, count)
    if quotients.max() > (length - 1) >> b:
        raise CodecError("a gap quotient points past the end of the vector")
    gaps = (quotients << b) | _read_remainders(buffer[unary_bytes:], count, b)
    if gaps.max() >= length:
        raise CodecError("a gap points past the end of the vector")
    # Each term gaps + 1 is now <= length <= 2^62, so the first prefix sum that passes length - 1
    # is still exact in int64 (later ones may wrap): checking the maximum is sound.
    positions = np.cumsum(gaps + 1) - 1
    if positions.max() >= length:
        raise CodecError(f"decoded position {int(positions.max())} outside a vector of {length}")
    return positions


class GolombPositions:
    """Position stage of the registry (``fl_core.codec.stages``): Golomb–Rice coded gaps (EcoLoRA §3.5)."""

    name = "golomb"
    stage_id = 1

    def encode(self, indices: np.ndarray, length: int) -> bytes:
        return encode_positions(indices, length)

    def decode(self, data: bytes, length: int) -> np.ndarray:
        return decode_positions(data, length)
