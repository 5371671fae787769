"""Writing a run directory: ``run.json``, message blobs, ``rounds.csv`` and ``eval.csv``.

Every file is written atomically; ``rounds.csv`` and ``eval.csv`` are rewritten whole
after each round so an interrupted run leaves only complete rounds behind.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fl_core.rundir import atomic
from fl_core.rundir.layout import FORMAT_VERSION, META_FILE, ROUND_COLUMNS, blob_path


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
        atomic.write_json(self.path / META_FILE, {"format_version": FORMAT_VERSION, **meta})

    def update_meta(self, **fields) -> None:
        """Merge ``fields`` into ``run.json``."""
        meta = json.loads((self.path / META_FILE).read_text())
        meta.update(fields)
        atomic.write_json(self.path / META_FILE, meta)

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
