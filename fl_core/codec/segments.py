"""Round-robin segment sharing (EcoLoRA §3.3, Eq. 2).

The flat LoRA vector is cut into N_s contiguous, nearly equal segments. In round
t the participant at position i of that round's client list uploads segment
(i + t) mod N_s. The paper writes the client id for i; we use the position in the
round's list, which is the same under full participation and, under client
sampling, still guarantees what the paper requires N_s <= N_t for: every segment
has an uploader in every round. The server averages each segment over its
uploaders, weighted by their sample counts (Eq. 2): ``fl_core.methods.aggregate.masked_weighted_average``
over the decoded segment updates, which also serves the dense methods.
"""
from __future__ import annotations

import numpy as np

from fl_core.errors import ConfigError


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
