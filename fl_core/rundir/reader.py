"""The run directory: the contract between training and replay (see docs/ARCHITECTURE.md).

Every file is written atomically; ``rounds.csv`` and ``eval.csv`` are rewritten whole
after each round so an interrupted run leaves only complete rounds behind.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fl_core.rundir import atomic
from fl_core.rundir.columns import COUNT, RATIO, SECONDS, Column, check_frame
from fl_core.errors import RunDirError

FORMAT_VERSION = 1

ROUND_COLUMNS = [
    "round", "client", "position", "segment", "samples", "local_steps", "train_s", "encode_s",
    "decode_s", "compute_s", "train_loss", "uplink_bytes", "downlink_bytes", "uplink_sha256",
    "downlink_sha256", "up_header_bytes", "up_position_bytes", "up_value_bytes",
    "down_header_bytes", "down_position_bytes", "down_value_bytes", "k_a", "k_b", "rank",
]
REQUIRED_ROUND_COLUMNS = ["round", "client", "compute_s", "uplink_bytes", "downlink_bytes"]
#: What every numeric column of rounds.csv may hold (checked on reading; a hand-edited file is refused).
ROUND_TYPES: dict[str, Column] = {
    **dict.fromkeys(["round", "client", "position", "samples", "local_steps", "rank", "uplink_bytes",
                     "downlink_bytes", "up_header_bytes", "up_position_bytes", "up_value_bytes",
                     "down_header_bytes", "down_position_bytes", "down_value_bytes"], COUNT),
    "segment": Column(integer=True, low=-1),  # -1: no EcoLoRA segment
    **dict.fromkeys(["train_s", "encode_s", "decode_s", "compute_s", "server_s"], SECONDS),
    "train_loss": Column(low=None, nan_ok=True),
    "k_a": RATIO, "k_b": RATIO,
}
#: The numeric columns of eval.csv (round -1 is the base model; metrics may be absent for a run).
EVAL_TYPES: dict[str, Column] = {
    "round": Column(integer=True, low=-1), "eval_loss": Column(low=None, nan_ok=True),
    "arc_questions": Column(integer=True, nan_ok=True),
    **dict.fromkeys(["arc", "arc_easy", "arc_challenge", "pref_accuracy", "policy_pref_accuracy"], RATIO),
}


def blob_path(run: Path, round_idx: int, client: int, direction: str) -> Path:
    """Where the exact bytes of one message live: ``blobs/rNNNN/cNNNNN.{up,down}.bin``."""
    return Path(run) / "blobs" / f"r{round_idx:04d}" / f"c{client:05d}.{direction}.bin"


def sha256(data: bytes) -> str:
    """Hex SHA-256 of a message."""
    return hashlib.sha256(data).hexdigest()


@dataclass
class RunWriter:
    """Accumulates rows and writes the run directory atomically as rounds complete."""

    path: Path
    keep_blobs: bool = True
    rounds: list[dict] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.path.mkdir(parents=True, exist_ok=True)

    def write_meta(self, meta: dict) -> None:
        """Write ``run.json`` (adds the format version)."""
        atomic.write_json(self.path / "run.json", {"format_version": FORMAT_VERSION, **meta})

    def update_meta(self, **fields) -> None:
        """Merge ``fields`` into ``run.json``."""
        meta = json.loads((self.path / "run.json").read_text())
        meta.update(fields)
        atomic.write_json(self.path / "run.json", meta)

    def save_blob(self, round_idx: int, client: int, direction: str, data: bytes) -> None:
        """Keep the exact bytes of a message, if blobs are on."""
        if self.keep_blobs:
            atomic.write_bytes(blob_path(self.path, round_idx, client, direction), data)

    def add_round(self, rows: list[dict]) -> None:
        """Append one round's rows and rewrite ``rounds.csv``."""
        self.rounds.extend(rows)
        frame = pd.DataFrame(self.rounds)
        ordered = [c for c in ROUND_COLUMNS if c in frame] + [c for c in frame if c not in ROUND_COLUMNS]
        atomic.write_frame(self.path / "rounds.csv", frame[ordered])

    def add_eval(self, row: dict) -> None:
        """Append one evaluation and rewrite ``eval.csv``."""
        self.evals.append(row)
        atomic.write_frame(self.path / "eval.csv", pd.DataFrame(self.evals))

    def load_existing(self, upto_round: int) -> None:
        """On resume: keep the rows of rounds ``< upto_round`` already on disk."""
        for name, rows in (("rounds.csv", self.rounds), ("eval.csv", self.evals)):
            file = self.path / name
            if file.is_file() and file.stat().st_size:
                frame = pd.read_csv(file)
                frame = frame[frame["round"] < upto_round]
                rows[:] = frame.to_dict("records")


@dataclass
class RunRecord:
    """A run directory read back."""

    path: Path
    meta: dict
    rounds: pd.DataFrame  # one row per message exchange (round, client)
    evals: pd.DataFrame
    invitations: pd.DataFrame | None = None  # deadline runs: also the invited clients that were unavailable

    @property
    def name(self) -> str:
        return self.meta.get("run_name") or self.path.name

    @property
    def method(self) -> str:
        return self.meta.get("method", "unknown")

    def blob_path(self, round_idx: int, client: int, direction: str) -> Path:
        return blob_path(self.path, round_idx, client, direction)


def read_run(path: str | Path) -> RunRecord:
    """Read and validate a run directory; ``RunDirError`` names what is missing or wrong."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"run directory {str(path)!r} does not exist")
    meta_file = path / "run.json"
    if not meta_file.is_file():
        raise RunDirError(f"{str(path)!r} is not a run directory: run.json is missing")
    try:
        meta = json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{meta_file}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise RunDirError(f"{meta_file}: expected a JSON object")
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise RunDirError(f"{meta_file}: format_version is missing")
    if version > FORMAT_VERSION:
        raise RunDirError(
            f"{path} has run-directory format {version}, newer than this netbench reads ({FORMAT_VERSION}); upgrade"
        )
    rounds_file = path / "rounds.csv"
    if not rounds_file.is_file():
        raise RunDirError(f"{path}: rounds.csv is missing (the run recorded no round)")
    try:
        rounds = pd.read_csv(rounds_file)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{rounds_file}: cannot parse ({str(exc).splitlines()[0]})") from None
    invitations = rounds
    if "unavailable" in rounds:  # deadline schedule: unavailable invitees exchanged nothing
        rounds = rounds[pd.to_numeric(rounds["unavailable"], errors="coerce") != 1].reset_index(drop=True)
    missing = [c for c in REQUIRED_ROUND_COLUMNS if c not in rounds]
    if missing:
        raise RunDirError(f"{rounds_file}: missing columns {', '.join(missing)}")
    if rounds.empty:
        raise RunDirError(f"{rounds_file}: no rounds recorded")
    rounds = check_frame(rounds, ROUND_TYPES, str(rounds_file), RunDirError)
    eval_file = path / "eval.csv"
    evals = pd.DataFrame()
    if eval_file.is_file() and eval_file.stat().st_size:
        try:
            evals = check_frame(pd.read_csv(eval_file), EVAL_TYPES, str(eval_file), RunDirError)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise RunDirError(f"{eval_file}: cannot parse ({str(exc).splitlines()[0]})") from None
    return RunRecord(path, meta, rounds, evals, invitations)


def verify_blobs(run: RunRecord) -> int:
    """Check every blob against its recorded size and SHA-256 and decode it; returns the count checked.

    Raises ``RunDirError`` for a missing or mismatching blob and ``CodecError`` (naming the
    file) for one that does not decode.
    """
    from fl_core.codec.wire import decode_message
    from fl_core.errors import CodecError

    checked = 0
    for row in run.rounds.itertuples():
        for direction, size, digest in (("down", row.downlink_bytes, row.downlink_sha256),
                                        ("up", row.uplink_bytes, row.uplink_sha256)):
            path = run.blob_path(row.round, row.client, direction)
            if not path.is_file():
                raise RunDirError(f"{path}: blob missing")
            data = path.read_bytes()
            if len(data) != size or sha256(data) != digest:
                raise RunDirError(f"{path}: {len(data)} bytes / sha256 differ from rounds.csv ({size} bytes)")
            try:
                decode_message(data)
            except CodecError as exc:
                raise CodecError(f"{path}: {exc}") from None
            checked += 1
    return checked
