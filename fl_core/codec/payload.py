"""Payload codecs: a (possibly sparse) float vector to bytes and back, with a byte account.

- ``dense-fp16``   every element as IEEE fp16 (FedIT-style messages).
- ``sparse-golomb`` kept positions Golomb–Rice coded as gaps (EcoLoRA 3.5), values fp16.
- ``sparse-raw``   kept positions as 32-bit integers, values fp16 (the "w/o encoding" ablation).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import torch

from fl_core.codec import golomb
from fl_core.errors import CodecError

_LEN = struct.Struct("<Q")


@dataclass
class SparseVector:
    """Kept positions (sorted int64), their fp16 values and the length of the dense vector."""

    indices: np.ndarray
    values: np.ndarray
    length: int

    def to_dense(self) -> torch.Tensor:
        """The dense float32 vector with zeros at positions that were not kept."""
        out = torch.zeros(self.length, dtype=torch.float32)
        if len(self.indices):
            out[torch.from_numpy(self.indices)] = torch.from_numpy(self.values.astype(np.float32))
        return out

    @classmethod
    def from_dense(cls, vector: torch.Tensor) -> "SparseVector":
        """All nonzero entries of ``vector`` (rounded to fp16)."""
        v = vector.detach().float().numpy()
        idx = np.flatnonzero(v).astype(np.int64)
        return cls(idx, v[idx].astype(np.float16), v.size)


@dataclass
class ByteAccount:
    """Bytes a payload spent on positions and on values."""

    position_bytes: int
    value_bytes: int


def _fp16_bytes(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype="<f2").tobytes()


def _fp16_from(data: bytes, count: int) -> np.ndarray:
    if len(data) != 2 * count:
        raise CodecError(f"value block has {len(data)} bytes, expected {2 * count} for {count} fp16 values")
    return np.frombuffer(data, dtype="<f2").astype(np.float16)


class DenseFP16:
    """Every element as fp16."""

    codec_id = 1
    name = "dense-fp16"

    def encode(self, vec: SparseVector | torch.Tensor) -> tuple[bytes, ByteAccount]:
        dense = vec.to_dense() if isinstance(vec, SparseVector) else vec.detach().float()
        data = _fp16_bytes(dense.numpy().astype(np.float16))
        return data, ByteAccount(0, len(data))

    def decode(self, data: bytes, length: int) -> SparseVector:
        values = _fp16_from(data, length)
        return SparseVector(np.arange(length, dtype=np.int64), values, length)


class _SparseCodec:
    """Shared framing of the sparse codecs: u64 position-block length, positions, fp16 values."""

    def encode_positions(self, indices: np.ndarray, length: int) -> bytes:
        raise NotImplementedError

    def decode_positions(self, data: bytes, length: int) -> np.ndarray:
        raise NotImplementedError

    def encode(self, vec: SparseVector | torch.Tensor) -> tuple[bytes, ByteAccount]:
        sparse = vec if isinstance(vec, SparseVector) else SparseVector.from_dense(vec)
        positions = self.encode_positions(sparse.indices, sparse.length)
        values = _fp16_bytes(sparse.values)
        return _LEN.pack(len(positions)) + positions + values, ByteAccount(_LEN.size + len(positions), len(values))

    def decode(self, data: bytes, length: int) -> SparseVector:
        if len(data) < _LEN.size:
            raise CodecError("sparse payload is shorter than its position-block length field")
        (n_pos,) = _LEN.unpack_from(data)
        if n_pos > len(data) - _LEN.size:
            raise CodecError(f"position block claims {n_pos} bytes but only {len(data) - _LEN.size} remain")
        indices = self.decode_positions(data[_LEN.size : _LEN.size + n_pos], length)
        values = _fp16_from(data[_LEN.size + n_pos :], len(indices))
        return SparseVector(indices, values, length)


class SparseGolomb(_SparseCodec):
    """Positions as Golomb–Rice coded gaps (EcoLoRA Section 3.5)."""

    codec_id = 2
    name = "sparse-golomb"

    def encode_positions(self, indices: np.ndarray, length: int) -> bytes:
        return golomb.encode_positions(indices, length)

    def decode_positions(self, data: bytes, length: int) -> np.ndarray:
        return golomb.decode_positions(data, length)


class SparseRaw(_SparseCodec):
    """Positions as plain little-endian uint32 (the ablation without lossless encoding)."""

    codec_id = 3
    name = "sparse-raw"

    def encode_positions(self, indices: np.ndarray, length: int) -> bytes:
        if length > 2**32:
            raise CodecError("sparse-raw positions are 32-bit; vector too long")
        return np.ascontiguousarray(indices, dtype="<u4").tobytes()

    def decode_positions(self, data: bytes, length: int) -> np.ndarray:
        if len(data) % 4:
            raise CodecError(f"raw position block of {len(data)} bytes is not a multiple of 4")
        idx = np.frombuffer(data, dtype="<u4").astype(np.int64)
        if idx.size > length or (idx.size and (idx.max() >= length or np.any(np.diff(idx) <= 0))):
            raise CodecError("raw positions are out of range or not strictly increasing")
        return idx


CODECS = {c.codec_id: c for c in (DenseFP16(), SparseGolomb(), SparseRaw())}
CODECS_BY_NAME = {c.name: c for c in CODECS.values()}
