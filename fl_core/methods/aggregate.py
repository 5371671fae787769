"""The server's arithmetic: Eq. 2 averaging and FedBuff's staleness weighting (as Flower keeps its in ``aggregate.py``).

Pure functions of tensors and numbers; the methods (:meth:`~fl_core.methods.base.SingleAdapterMethod.aggregate`)
and the FedBuff schedule call them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where a tensor is computed: the schedules registry reads this module
    import torch

    from fl_core.transports.messages import Upload


def masked_weighted_average(previous: torch.Tensor, uploads: list[Upload]) -> torch.Tensor:
    """Eq. 2 generalised: per entry, the sample-weighted mean over the uploads covering it.

    Entries no upload covers keep ``previous``; with full coverage this is FedAvg.
    """
    import torch

    num = torch.zeros_like(previous)
    den = torch.zeros_like(previous)
    for u in uploads:
        w = torch.full_like(previous, u.weight) if u.covered is None else u.covered.float() * u.weight
        num += w * u.vector
        den += w
    return torch.where(den > 0, num / den.clamp_min(1e-30), previous)


def staleness_weight(staleness: int, exponent: float) -> float:
    """FedBuff's weight of an update computed ``staleness`` aggregations ago: ``(1 + staleness) ** -exponent``."""
    return (1 + staleness) ** -exponent


def stale_step(current: torch.Tensor, reference: torch.Tensor, vector: torch.Tensor, weight: float) -> torch.Tensor:
    """A stale upload as a weighted step from ``current``: ``current + weight * (vector - reference)``.

    ``reference`` is what the client started from (the global vector at its dispatch, or
    ``current`` when uploads are already updates).
    """
    return current + weight * (vector - reference)
