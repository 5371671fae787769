"""Round-robin segment sharing (EcoLoRA §3.3, Eq. 2).

The flat LoRA vector is cut into N_s contiguous, nearly equal segments. In round
t the participant at position i of that round's client list uploads segment
(i + t) mod N_s. The paper writes the client id for i; we use the position in the
round's list, which is the same under full participation and, under client
sampling, still guarantees what the paper requires N_s <= N_t for: every segment
has an uploader in every round. The server averages each segment over its
uploaders, weighted by their sample counts (Eq. 2).
"""
from __future__ import annotations

import numpy as np
import torch

from fl_core.errors import ConfigError

Upload = tuple[int, torch.Tensor, float]
"""(segment id, that client's decoded update for the segment's slice, its sample count n_i)."""


def _check_n_segments(n_segments: int) -> None:
    """Refuse N_s < 1."""
    if n_segments < 1:
        raise ConfigError(f"N_s (={n_segments}) must be at least 1")


def segment_bounds(length: int, n_segments: int) -> list[tuple[int, int]]:
    """N_s contiguous [start, stop) ranges that partition [0, length); sizes as ``np.array_split``.

    The first ``length % N_s`` segments are one element longer; when N_s > length the
    last ones are empty.
    """
    _check_n_segments(n_segments)
    if length < 0:
        raise ConfigError(f"vector length (={length}) must be >= 0")
    sizes = np.full(n_segments, length // n_segments, dtype=np.int64)
    sizes[: length % n_segments] += 1
    stops = np.cumsum(sizes)
    return [(int(stop - size), int(stop)) for stop, size in zip(stops, sizes)]


def segment_of(position: int, round_idx: int, n_segments: int) -> int:
    """Segment uploaded in round ``round_idx`` by the participant at ``position``: (position + round) mod N_s."""
    _check_n_segments(n_segments)
    if position < 0 or round_idx < 0:
        raise ConfigError(f"position (={position}) and round (={round_idx}) must be >= 0")
    return (position + round_idx) % n_segments


def check_segments(n_segments: int, n_participants: int) -> None:
    """Refuse N_s < 1 and N_s > N_t: with fewer uploaders than segments some segment would go stale."""
    _check_n_segments(n_segments)
    if n_segments > n_participants:
        raise ConfigError(
            f"N_s (={n_segments}) must not exceed the participants per round N_t (={n_participants}): "
            "otherwise some segment has no uploader in a round (EcoLoRA §3.3)"
        )


def _check_bounds(bounds: list[tuple[int, int]], length: int) -> None:
    """Insist that ``bounds`` are contiguous, ordered and cover exactly [0, length)."""
    starts = [start for start, _ in bounds]
    stops = [stop for _, stop in bounds]
    ordered = all(start <= stop for start, stop in bounds)
    if not bounds or not ordered or starts[0] != 0 or stops[-1] != length or starts[1:] != stops[:-1]:
        raise ConfigError(f"segment bounds do not partition a vector of {length} elements")


def _weighted_sums(
    uploads: list[Upload], bounds: list[tuple[int, int]], like: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Σ n_i u_i per element and Σ n_i per segment over the uploads, in float64."""
    weighted = torch.zeros(like.numel(), dtype=torch.float64, device=like.device)
    weights = torch.zeros(len(bounds), dtype=torch.float64, device=like.device)
    for segment, update, n_samples in uploads:
        if not 0 <= segment < len(bounds):
            raise ConfigError(f"segment id {segment} outside [0, {len(bounds)})")
        start, stop = bounds[segment]
        if update.shape != (stop - start,):
            shape = tuple(update.shape)
            raise ConfigError(f"update for segment {segment} has shape {shape}, expected ({stop - start},)")
        if not (np.isfinite(n_samples) and n_samples > 0):
            raise ConfigError(f"sample count n_i (={n_samples}) must be positive")
        weighted[start:stop] += n_samples * update.to(device=like.device, dtype=torch.float64)
        weights[segment] += n_samples
    return weighted, weights


def aggregate_segments(
    previous: torch.Tensor, uploads: list[Upload], bounds: list[tuple[int, int]]
) -> torch.Tensor:
    """Eq. 2 on updates: new[s] = previous[s] + Σ_{i∈c^s} n_i u_i / Σ_{i∈c^s} n_i; other segments keep ``previous``.

    Each upload carries its update for its own segment only (length stop - start), as
    decoded from the message. Averaging updates that all start from ``previous`` equals
    Eq. 2's average of the uploaded segments. Sums are taken in float64; the result has
    ``previous``'s dtype and is a new tensor.
    """
    if previous.dim() != 1:
        raise ConfigError(f"previous must be a flat vector, got shape {tuple(previous.shape)}")
    _check_bounds(bounds, previous.numel())
    weighted, weights = _weighted_sums(uploads, bounds, previous)
    sizes = torch.tensor([stop - start for start, stop in bounds], dtype=torch.int64, device=previous.device)
    per_element = torch.repeat_interleave(weights, sizes)
    uploaded = per_element > 0
    mean = (weighted / torch.where(uploaded, per_element, 1.0)).to(previous.dtype)
    return torch.where(uploaded, previous + mean, previous)
