"""What transports, methods and schedules share: decoded uploads, sent uploads, Eq. 2 averaging.

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


def masked_weighted_average(previous: torch.Tensor, uploads: list[Upload]) -> torch.Tensor:
    """Eq. 2 generalised: per entry, the sample-weighted mean over the uploads covering it.

    Entries no upload covers keep ``previous``; with full coverage this is FedAvg.
    """
    num = torch.zeros_like(previous)
    den = torch.zeros_like(previous)
    for u in uploads:
        w = torch.full_like(previous, u.weight) if u.covered is None else u.covered.float() * u.weight
        num += w * u.vector
        den += w
    return torch.where(den > 0, num / den.clamp_min(1e-30), previous)
