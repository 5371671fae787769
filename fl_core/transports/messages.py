"""What transports, methods and schedules share: decoded uploads and sent uploads.

A leaf module (it imports only the codec), so that methods, transports and the round
loop can all use it without importing each other.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from fl_core.codec.wire import Encoded


@dataclass
class Upload:
    """One client's contribution as the server decoded it."""

    client: int
    vector: torch.Tensor
    weight: float
    covered: torch.Tensor | None = None  # bool mask of entries the client sent; None = all


@dataclass
class SentUpload:
    """A client's upload message plus what the round table records about it."""

    encoded: Encoded
    segment: int = -1
    k_a: float = 1.0
    k_b: float = 1.0
