"""Rounding a vector to what a ``dense-fp16`` message carries, so a sender can keep exactly what it sent."""
from __future__ import annotations

import torch


def fp16_exact(vector: torch.Tensor) -> torch.Tensor:
    """``vector`` rounded to fp16 values, as float32."""
    return vector.detach().half().float()
