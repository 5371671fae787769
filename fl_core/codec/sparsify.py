"""Adaptive top-k sparsification with error-feedback residuals (EcoLoRA §3.4, Eq. 4–6).

``adaptive_k`` is the loss-driven sparsity schedule (Eq. 4); ``topk_mask`` keeps
the ceil(k·n) largest magnitudes; ``sparsify_with_residual`` adds the residual
memory to the update, keeps top-k within each group (e.g. the A entries and the
B entries of a segment, which get different k), rounds what it keeps to fp16
(what the wire carries) and returns what was not sent as the new residual
(Eq. 5–6), so that sent + new_residual == update + residual bit for bit.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch

from fl_core.errors import CodecError, ConfigError

Group = tuple[torch.Tensor | slice, float]
"""An index set of the flat vector (int64 positions or a slice) and the k to keep in it."""

_FP16_MAX = float(torch.finfo(torch.float16).max)
_INTEGER_TOLERANCE = 1e-9


def adaptive_k(k_max: float, k_min: float, gamma: float, loss0: float, loss_prev: float | None) -> float:
    """Eq. 4: k^t = k_min + (k_max - k_min) · exp(-γ (L_0 - L_{t-1})), clipped to [k_min, k_max].

    ``loss_prev`` is None in the first round, which sends at k_max. A loss above
    L_0 would push k past k_max; the clip keeps it there.
    """
    if not 0.0 < k_min <= k_max <= 1.0:
        raise ConfigError(f"need 0 < k_min (={k_min}) <= k_max (={k_max}) <= 1")
    if not (math.isfinite(gamma) and gamma >= 0.0):
        raise ConfigError(f"gamma (={gamma}) must be a finite number >= 0")
    if loss_prev is None:
        return k_max
    if not (math.isfinite(loss0) and math.isfinite(loss_prev)):
        raise ConfigError(f"losses must be finite, got L_0={loss0}, L_t-1={loss_prev}")
    k = k_min + (k_max - k_min) * math.exp(min(-gamma * (loss0 - loss_prev), 0.0))
    return min(max(k, k_min), k_max)


def keep_count(k: float, n: int) -> int:
    """ceil(k·n) for k in (0, 1]; a product within 1e-9 (relative) of an integer counts as that integer.

    The tolerance makes decimal k behave as written (0.7 · 10 is 7.000000000000001 in
    floating point, but keeps 7). At least one element is kept when n > 0.
    """
    if not (isinstance(k, numbers.Real) and 0.0 < k <= 1.0):
        raise ConfigError(f"top-k fraction k (={k}) must lie in (0, 1]")
    product = k * n
    nearest = round(product)
    count = nearest if abs(product - nearest) <= _INTEGER_TOLERANCE * max(1.0, product) else math.ceil(product)
    return min(n, max(count, 1 if n else 0))


def topk_mask(x: torch.Tensor, k: float) -> torch.Tensor:
    """Boolean mask of the keep_count(k, n) largest |x| (the SC_k of Eq. 5); ties go to the lower index.

    Linear time: the threshold magnitude comes from ``kthvalue``, everything above it
    is kept, and the remaining slots go to the first entries equal to it.
    """
    flat = x.reshape(-1)
    n_keep = keep_count(k, flat.numel())
    if n_keep == flat.numel():
        return torch.ones_like(x, dtype=torch.bool)
    magnitude = flat.abs()
    if not torch.isfinite(magnitude).all():
        raise CodecError("cannot sparsify a vector that holds NaN or infinity")
    threshold = torch.kthvalue(magnitude, flat.numel() - n_keep + 1).values
    mask = magnitude > threshold
    ties = torch.nonzero(magnitude == threshold).squeeze(1)
    mask[ties[: n_keep - int(mask.sum())]] = True
    return mask.reshape(x.shape)


@dataclass(frozen=True)
class SparseResult:
    """What one sparsification step sends and keeps back.

    ``indices`` (sorted int64) and ``values`` (float16, same order) are the message;
    ``sent`` is the same thing as a dense float32 vector; ``residual`` is R^{t+1} of
    Eq. 6; ``k_used`` is the fraction actually kept in each group (kept / group size).
    """

    indices: torch.Tensor
    values: torch.Tensor
    sent: torch.Tensor
    residual: torch.Tensor
    k_used: tuple[float, ...]


def _group_positions(index: torch.Tensor | slice, length: int) -> torch.Tensor:
    """The int64 positions a group covers in a flat vector of ``length``."""
    if isinstance(index, slice):
        return torch.arange(*index.indices(length), dtype=torch.int64)
    if index.dtype.is_floating_point or index.dtype in (torch.bool, torch.complex64, torch.complex128):
        raise ConfigError(f"group positions must be an integer tensor or a slice, got {index.dtype}")
    positions = index.reshape(-1).to(torch.int64)
    if positions.numel() and (positions.min() < 0 or positions.max() >= length):
        raise ConfigError(f"group positions must lie in [0, {length})")
    return positions


def _select(combined: torch.Tensor, groups: list[Group]) -> tuple[torch.Tensor, tuple[float, ...]]:
    """Top-k positions of ``combined`` within each group, merged and sorted; and the k kept per group."""
    chosen, k_used = [], []
    for index, k in groups:
        positions = _group_positions(index, combined.numel())
        kept = positions[topk_mask(combined[positions], k)]
        chosen.append(kept)
        k_used.append(kept.numel() / positions.numel() if positions.numel() else 0.0)
    indices = torch.sort(torch.cat(chosen)).values if chosen else torch.zeros(0, dtype=torch.int64)
    if indices.numel() > 1 and not bool((indices[1:] > indices[:-1]).all()):
        raise ConfigError("sparsification groups overlap")
    return indices, tuple(k_used)


def sparsify_with_residual(update: torch.Tensor, residual: torch.Tensor, groups: list[Group]) -> SparseResult:
    """Eq. 5–6 with error feedback: send SC_k(update + residual) per group, keep the rest as residual.

    Both inputs are flat float32 vectors of one length. Kept values are rounded to
    fp16, and the residual is computed from the rounded values, so the rounding
    error stays in memory too and sent + residual == update + residual exactly
    (c - fp16(c) is exact in float32 by Sterbenz' lemma). Entries outside every
    group are not sent at all. ``CodecError`` if a kept value is not finite or exceeds fp16's range.
    """
    if update.dtype != torch.float32 or residual.dtype != torch.float32:
        raise ConfigError(f"update and residual must be float32, got {update.dtype} and {residual.dtype}")
    if update.dim() != 1 or update.shape != residual.shape:
        raise ConfigError(f"update and residual must be flat and equal, got {tuple(update.shape)}, {tuple(residual.shape)}")
    combined = update + residual
    indices, k_used = _select(combined, groups)
    kept = combined[indices]
    if not bool((kept.abs() <= _FP16_MAX).all()):
        raise CodecError("kept values must be finite and within the float16 range (|v| <= 65504)")
    values = kept.to(torch.float16)
    sent = torch.zeros_like(combined)
    sent[indices] = values.to(torch.float32)
    return SparseResult(indices=indices, values=values, sent=sent, residual=combined - sent, k_used=k_used)
