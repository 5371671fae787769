"""Payload codecs: a (possibly sparse) float vector to bytes and back, with a byte account.

A codec is a position stage and a value stage from ``fl_core.codec.stages``:

- ``dense-fp16``    every element as IEEE fp16 (no positions on the wire).
- ``sparse-golomb`` kept positions Golomb–Rice coded as gaps (EcoLoRA §3.5), values fp16.
- ``sparse-raw16``  kept positions as 16-bit integers relative to 2^16-element blocks,
  values fp16: the paper's "w/o Encoding" ablation (Table 3).
- ``sparse-raw``    kept positions as absolute 32-bit integers, values fp16 (the ablation
  before wire v2; kept as an option).

Sparse framing: u64 length of the position block, the position block, the value block.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import torch

from fl_core.codec.stages import POSITION_STAGES, VALUE_STAGES, PositionStage, ValueStage
from fl_core.errors import CodecError

_LEN = struct.Struct("<Q")
DENSE = "dense"


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

    @classmethod
    def full(cls, vector: torch.Tensor) -> "SparseVector":
        """Every entry of ``vector`` (rounded to fp16), zeros included: a dense payload."""
        v = vector.detach().float().numpy().astype(np.float16)
        return cls(np.arange(v.size, dtype=np.int64), v, v.size)


@dataclass
class ByteAccount:
    """Bytes a payload spent on positions and on values, the codec that wrote it, and whether
    that codec is the dense fallback of a sparse message (``fl_core.codec.wire.encode_smallest``)."""

    position_bytes: int
    value_bytes: int
    codec: str = ""
    fallback: bool = False


@dataclass(frozen=True)
class PayloadCodec:
    """A position stage (None: dense) and a value stage."""

    positions: PositionStage | None
    values: ValueStage

    @property
    def name(self) -> str:
        if self.positions is None:
            return f"{DENSE}-{self.values.name}"
        suffix = "" if self.values.name == "fp16" else f"-{self.values.name}"
        return f"sparse-{self.positions.name}{suffix}"

    @property
    def wire_id(self) -> int:
        """(position stage id << 8) | value stage id; position id 0 is dense."""
        return (0 if self.positions is None else self.positions.stage_id) << 8 | self.values.stage_id

    @property
    def dense(self) -> "PayloadCodec":
        """The dense codec with the same value stage."""
        return PayloadCodec(None, self.values)

    def encode(self, vec: SparseVector | torch.Tensor) -> tuple[bytes, ByteAccount]:
        if self.positions is None:
            dense = vec.to_dense() if isinstance(vec, SparseVector) else vec.detach().float()
            data = self.values.encode(dense.numpy())
            return data, ByteAccount(0, len(data), self.name)
        sparse = vec if isinstance(vec, SparseVector) else SparseVector.from_dense(vec)
        positions = self.positions.encode(sparse.indices, sparse.length)
        values = self.values.encode(sparse.values)
        account = ByteAccount(_LEN.size + len(positions), len(values), self.name)
        return _LEN.pack(len(positions)) + positions + values, account

    def decode(self, data: bytes, length: int) -> SparseVector:
        if self.positions is None:
            values = self.values.decode(data, length)  # checks the size before anything is allocated
            return SparseVector(np.arange(length, dtype=np.int64), values, length)
        if len(data) < _LEN.size:
            raise CodecError("sparse payload is shorter than its position-block length field")
        (n_pos,) = _LEN.unpack_from(data)
        if n_pos > len(data) - _LEN.size:
            raise CodecError(f"position block claims {n_pos} bytes but only {len(data) - _LEN.size} remain")
        indices = self.positions.decode(data[_LEN.size : _LEN.size + n_pos], length)
        values = self.values.decode(data[_LEN.size + n_pos :], len(indices))
        return SparseVector(indices, values, length)


def codecs() -> dict[str, PayloadCodec]:
    """Every codec the registered stages make, by name."""
    out = {}
    for values in VALUE_STAGES.values():
        for positions in (None, *POSITION_STAGES.values()):
            codec = PayloadCodec(positions, values)
            out[codec.name] = codec
    return out


def get_codec(name: str) -> PayloadCodec:
    """The codec called ``name``; ``CodecError`` listing the known ones otherwise."""
    known = codecs()
    if name not in known:
        raise CodecError(f"unknown payload codec {name!r}; known: {', '.join(sorted(known))}")
    return known[name]


def codec_from_wire(wire_id: int) -> PayloadCodec:
    """The codec whose stage ids make ``wire_id``; ``CodecError`` for unknown ids."""
    for codec in codecs().values():
        if codec.wire_id == wire_id:
            return codec
    raise CodecError(f"unknown payload codec id {wire_id:#06x} (position stage {wire_id >> 8}, value stage {wire_id & 255})")


def sparse_codec_name(positions: str, values: str = "fp16") -> str:
    """Name of the sparse codec for the given stages (checked against the registries)."""
    if positions not in POSITION_STAGES or values not in VALUE_STAGES:
        raise CodecError(f"unknown stages {positions!r}/{values!r}; position stages: {', '.join(POSITION_STAGES)}")
    return PayloadCodec(POSITION_STAGES[positions], VALUE_STAGES[values]).name
