"""Registries of the payload codec's stages: position coding and value coding.

A payload is a pair of stages (GRACE's compressor split): the *position stage* says
which elements of the covered slice are present, the *value stage* how each present
value is written. A dense payload has no position stage (every element is present).
Adding a stage is one module with a class like the ones below and one
``register_*`` line here; its codecs are then named ``sparse-<positions>`` (fp16
values) or ``sparse-<positions>-<values>`` / ``dense-<values>``, and the wire header
carries the two stage ids (``fl_core.codec.wire``).

Position stage: ``name``, ``stage_id`` (1..127), ``encode(indices, length) -> bytes`` and
``decode(data, length) -> int64 array`` (sorted, unique, inside the slice; ``CodecError``
on anything else). Value stage: ``name``, ``stage_id`` (1..255), ``size(count)``,
``encode(values) -> bytes``, ``decode(data, count) -> array``.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from fl_core.codec.fixed import FixedWidthPositions
from fl_core.codec.fp16 import FP16Values
from fl_core.codec.golomb import GolombPositions
from fl_core.errors import ConfigError


class PositionStage(Protocol):
    name: str
    stage_id: int

    def encode(self, indices: np.ndarray, length: int) -> bytes: ...
    def decode(self, data: bytes, length: int) -> np.ndarray: ...


class ValueStage(Protocol):
    name: str
    stage_id: int

    def size(self, count: int) -> int: ...
    def encode(self, values: np.ndarray) -> bytes: ...
    def decode(self, data: bytes, count: int) -> np.ndarray: ...


POSITION_STAGES: dict[str, PositionStage] = {}
VALUE_STAGES: dict[str, ValueStage] = {}


def _register(registry: dict, stage, max_id: int) -> None:
    if not 1 <= stage.stage_id <= max_id or "-" in stage.name or stage.name == "dense":
        raise ConfigError(f"stage {stage.name!r}: id must lie in [1, {max_id}], the name be no 'dense' and hold no '-'")
    for other in registry.values():
        if stage.name == other.name or stage.stage_id == other.stage_id:
            raise ConfigError(f"stage {stage.name!r} (id {stage.stage_id}) clashes with {other.name!r}")
    registry[stage.name] = stage


def register_position_stage(stage: PositionStage) -> None:
    """Add a position stage (name and id unique; id 0 means dense on the wire)."""
    _register(POSITION_STAGES, stage, 127)


def register_value_stage(stage: ValueStage) -> None:
    """Add a value stage (name and id unique)."""
    _register(VALUE_STAGES, stage, 255)


register_position_stage(GolombPositions())  # §3.5: Golomb–Rice coded gaps
register_position_stage(FixedWidthPositions("raw", 2, 32))  # absolute uint32 (wire v1's "w/o encoding")
register_position_stage(FixedWidthPositions("raw16", 3, 16))  # the paper's 16 bits, relative to 2^16 blocks
register_value_stage(FP16Values())
