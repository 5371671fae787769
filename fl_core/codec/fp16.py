"""Value stage: each kept value as an IEEE half-precision float (what every message carries)."""
from __future__ import annotations

import numpy as np

from fl_core.errors import CodecError


class FP16Values:
    """Values as little-endian fp16, 2 bytes each."""

    name = "fp16"
    stage_id = 1

    def size(self, count: int) -> int:
        """Bytes for ``count`` values."""
        return 2 * count

    def encode(self, values: np.ndarray) -> bytes:
        """The values rounded to fp16."""
        return np.ascontiguousarray(values, dtype="<f2").tobytes()

    def decode(self, data: bytes, count: int) -> np.ndarray:
        """``count`` fp16 values; ``CodecError`` unless ``data`` holds exactly that many."""
        if len(data) != 2 * count:
            raise CodecError(f"value block has {len(data)} bytes, expected {2 * count} for {count} fp16 values")
        return np.frombuffer(data, dtype="<f2").astype(np.float16)
