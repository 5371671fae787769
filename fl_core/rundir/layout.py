"""What a run directory holds: its format version, the rounds.csv columns, where message bytes live.

The one declaration of a client round's row (:class:`RoundRow`; ``ROUND_COLUMNS`` is its
field list) that the round loop fills and the writer orders ``rounds.csv`` by. Schedules add
their own columns after these (see docs/ARCHITECTURE.md).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from pathlib import Path

FORMAT_VERSION = 1
META_FILE = "run.json"


@dataclass(frozen=True)
class RoundRow:
    """The columns every schedule writes for one client in one round (units in the names)."""

    round: int
    client: int
    position: int
    segment: int
    samples: int
    local_steps: int
    train_s: float
    encode_s: float
    decode_s: float
    compute_s: float
    train_loss: float
    uplink_bytes: int
    downlink_bytes: int
    uplink_sha256: str
    downlink_sha256: str
    up_header_bytes: int
    up_position_bytes: int
    up_value_bytes: int
    down_header_bytes: int
    down_position_bytes: int
    down_value_bytes: int
    k_a: float
    k_b: float
    rank: int

    def to_dict(self) -> dict:
        """The row as ``rounds.csv`` gets it (a schedule may add its own columns)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


ROUND_COLUMNS = [f.name for f in fields(RoundRow)]
REQUIRED_ROUND_COLUMNS = ["round", "client", "compute_s", "uplink_bytes", "downlink_bytes"]


def blob_path(run: Path, round_idx: int, client: int, direction: str) -> Path:
    """Where the exact bytes of one message live: ``blobs/rNNNN/cNNNNN.{up,down}.bin``."""
    return Path(run) / "blobs" / f"r{round_idx:04d}" / f"c{client:05d}.{direction}.bin"


def sha256(data: bytes) -> str:
    """Hex SHA-256 of a message."""
    return hashlib.sha256(data).hexdigest()
