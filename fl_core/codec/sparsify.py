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

import numpy as np
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


def k_trajectory(losses: list[float], k_max: float, k_min: float, gamma: float) -> list[float]:
    """Eq. 4 over a run: k of round t for t = 0..len(losses)-1, given each round's global training loss.

    Round 0 sends at k_max; round t >= 1 uses L_0 = ``losses[0]`` and L_{t-1} = ``losses[t-1]``,
    as the transport does (the loss of a round is known only after it).
    """
    if not losses:
        return []
    return [adaptive_k(k_max, k_min, gamma, losses[0], None if t == 0 else losses[t - 1]) for t in range(len(losses))]


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

    Linear time: the threshold magnitude comes from a partition (introselect), every
    entry above it is kept, and the remaining slots go to the first entries equal to it.
    """
    n = x.numel()
    n_keep = keep_count(k, n)
    if n_keep == n:
        return torch.ones_like(x, dtype=torch.bool)
    magnitude = x.detach().reshape(-1).abs().float().cpu().numpy()
    if not np.isfinite(magnitude.max()):
        raise CodecError("cannot sparsify a vector that holds NaN or infinity")
    threshold = np.partition(magnitude, n - n_keep)[n - n_keep]
    mask = magnitude > threshold
    mask[np.flatnonzero(magnitude == threshold)[: n_keep - np.count_nonzero(mask)]] = True
    return torch.from_numpy(mask).reshape(x.shape).to(x.device)


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


def _checked_index(index: torch.Tensor | slice, length: int) -> torch.Tensor | slice:
    """Validate a group's index set (a forward slice or integer positions in [0, length))."""
    if isinstance(index, slice):
        if index.step is not None and index.step <= 0:
            raise ConfigError(f"group slices must step forward, got step {index.step}")
        return index
    if index.dtype == torch.bool or index.is_floating_point() or index.is_complex():
        raise ConfigError(f"group positions must be an integer tensor or a slice, got {index.dtype}")
    positions = index.reshape(-1).to(torch.int64)
    if positions.numel() and (positions.min() < 0 or positions.max() >= length):
        raise ConfigError(f"group positions must lie in [0, {length})")
    return positions


def _select(combined: torch.Tensor, groups: list[Group]) -> tuple[torch.Tensor, tuple[float, ...]]:
    """Sorted positions of the top-k of ``combined`` within each group, and the fraction kept per group."""
    selected = torch.zeros_like(combined, dtype=torch.bool)
    claimed = torch.zeros_like(combined, dtype=torch.bool)
    k_used, group_sizes = [], 0
    for index, k in groups:
        index = _checked_index(index, combined.numel())
        candidates = combined[index]
        selected[index] = topk_mask(candidates, k)
        claimed[index] = True
        group_sizes += candidates.numel()
        k_used.append(keep_count(k, candidates.numel()) / candidates.numel() if candidates.numel() else 0.0)
    if int(torch.count_nonzero(claimed)) != group_sizes:
        raise ConfigError("sparsification groups overlap or repeat a position")
    return torch.from_numpy(np.flatnonzero(selected.cpu().numpy())).to(combined.device), tuple(k_used)


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
        shapes = f"{tuple(update.shape)} and {tuple(residual.shape)}"
        raise ConfigError(f"update and residual must be flat and of one length, got {shapes}")
    combined = update + residual
    indices, k_used = _select(combined, groups)
    kept = combined[indices]
    if not bool((kept.abs() <= _FP16_MAX).all()):
        raise CodecError("kept values must be finite and within the float16 range (|v| <= 65504)")
    values = kept.to(torch.float16)
    sent = torch.zeros_like(combined)
    sent[indices] = values.to(torch.float32)
    return SparseResult(indices=indices, values=values, sent=sent, residual=combined - sent, k_used=k_used)
