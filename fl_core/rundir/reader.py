"""Reading a run directory back: the contract between training and replay (see docs/ARCHITECTURE.md).

Every read of ``run.json`` goes through :func:`read_meta`; :func:`read_run` also reads and
checks ``rounds.csv`` and ``eval.csv``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fl_core.errors import RunDirError
from fl_core.rundir.columns import EVAL_TYPES, ROUND_TYPES, check_frame
from fl_core.rundir.layout import FORMAT_VERSION, META_FILE, REQUIRED_ROUND_COLUMNS, blob_path, sha256


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


def read_meta(path: str | Path, missing: str | None = None) -> dict:
    """``run.json`` of the run directory ``path``, checked: a JSON object of a format this netbench reads.

    ``missing``: the message when there is no ``run.json`` (default: not a run directory).
    """
    path = Path(path)
    meta_file = path / META_FILE
    if not meta_file.is_file():
        raise RunDirError(missing or f"{str(path)!r} is not a run directory: run.json is missing")
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
    return meta


def read_run(path: str | Path) -> RunRecord:
    """Read and validate a run directory; ``RunDirError`` names what is missing or wrong."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"run directory {str(path)!r} does not exist")
    meta = read_meta(path)
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
