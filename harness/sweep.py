"""Sweeps: every run directory replayed through every network, in ns-3 worker processes.

A *cell* is one (run, network). Each finished cell's timing table is written atomically
to ``OUT/cells/<key>.csv``; a second sweep into the same folder skips those cells, so an
interrupted sweep resumes. A cell that fails (an ns-3 abort, a ``ScenarioError``) is
written to ``OUT/failures.csv`` while the other cells go on. At the end all finished
cells are merged into ``OUT/timing.{csv,parquet}`` and ``OUT/summary.{csv,parquet}``.

``jobs`` workers each import ns-3 once (6-11 s, ~640 MB). On a 2-core machine a second
worker brings little (NS3.md section 4); the default is one.
"""
from __future__ import annotations

import hashlib
import json
import queue
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from fl_core import atomic
from fl_core.errors import ConfigError, NetbenchError
from fl_core.rundir import RunRecord, read_run
from harness.replay import compute_source, replay_record, round_transfers
from harness.timing import read_timing, summarize, timing_frame, write_table
from ns3_scenarios.network import Network
from ns3_scenarios.transfers import check_round
from ns3_scenarios.worker import NsWorker, shared_worker

#: What a cell runs in a worker: ``(record, network, *, scenario, compute_scale, exact_star) -> timing table``.
CellFn = Callable[..., pd.DataFrame]

FAILURE_COLUMNS = ["scenario", "run", "network", "error"]


@dataclass(frozen=True)
class Cell:
    """One run replayed on one network."""

    run: str
    network: Network

    @property
    def scenario(self) -> str:
        return self.network.label

    @property
    def key(self) -> str:
        """A file-name-safe, collision-free name for this cell's result file."""
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{self.run}__{self.scenario}")
        digest = hashlib.sha1(f"{self.run}\0{self.scenario}".encode()).hexdigest()[:8]
        return f"{slug}-{digest}"


@dataclass
class SweepResult:
    """The merged tables of a sweep and how many cells ran, were skipped or failed."""

    timing: pd.DataFrame
    summary: pd.DataFrame
    failures: pd.DataFrame
    ran: int
    skipped: int


def _read_runs(runs: Sequence[str | Path | RunRecord]) -> dict[str, RunRecord]:
    records: dict[str, RunRecord] = {}
    for run in runs:
        record = run if isinstance(run, RunRecord) else read_run(run)
        if record.name in records:
            raise ConfigError(f"two run directories share the run name {record.name!r}: {records[record.name].path}, "
                              f"{record.path}")
        records[record.name] = record
    return records


def _check_manifest(out: Path, options: dict) -> None:
    """Refuse to resume into a folder whose finished cells used other options."""
    manifest = out / "sweep.json"
    if manifest.is_file():
        previous = json.loads(manifest.read_text())
        if previous != options:
            raise ConfigError(f"{out} holds a sweep made with {previous}, not {options}; choose another --out")
    else:
        atomic.write_json(manifest, options)


def run_sweep(
    runs: Sequence[str | Path | RunRecord],
    networks: Sequence[Network],
    out: str | Path,
    *,
    jobs: int = 1,
    compute_scale: float | None = None,
    exact_star: bool = False,
    cell_fn: CellFn = replay_record,
    workers: Sequence[NsWorker] | None = None,
    progress: bool = True,
) -> SweepResult:
    """Replay each run on each network (see the module doc for the files written under ``out``).

    ``workers`` overrides the worker processes (default: the shared worker plus
    ``jobs - 1`` new ones); ``cell_fn`` what each cell runs (default: :func:`replay_record`).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"invalid jobs {jobs!r}: expected an integer >= 1")
    if not networks:
        raise ConfigError("a sweep needs at least one network")
    records = _read_runs(runs)
    compute_source(compute_scale)
    for record in records.values():
        for network in networks:
            for _, transfers in round_transfers(record, compute_scale):
                check_round(network, transfers)
    out = Path(out)
    _check_manifest(out, {"compute_scale": compute_scale, "exact_star": exact_star})
    cells_dir = out / "cells"
    cells_dir.mkdir(parents=True, exist_ok=True)

    cells = [Cell(run, network) for run in records for network in networks]
    pending = [c for c in cells if not (cells_dir / f"{c.key}.csv").is_file()]
    failures: list[dict] = []
    own = [] if workers is not None else [NsWorker() for _ in range(min(jobs, max(len(pending), 1)) - 1)]
    pool_workers = list(workers) if workers is not None else [shared_worker(), *own]
    idle: queue.Queue[NsWorker] = queue.Queue()
    for w in pool_workers:
        idle.put(w)

    def run_cell(cell: Cell) -> str | None:
        worker = idle.get()
        try:
            frame = worker.call(cell_fn, records[cell.run], cell.network, scenario=cell.scenario,
                                compute_scale=compute_scale, exact_star=exact_star)
        except NetbenchError as exc:
            return str(exc)
        finally:
            idle.put(worker)
        atomic.write_frame(cells_dir / f"{cell.key}.csv", frame)
        return None

    try:
        with tqdm(total=len(cells), initial=len(cells) - len(pending), desc="sweep", unit="cell",
                  disable=not progress) as bar, ThreadPoolExecutor(len(pool_workers)) as executor:
            futures = {executor.submit(run_cell, cell): cell for cell in pending}
            for future in as_completed(futures):
                cell, error = futures[future], future.result()
                if error is not None:
                    failures.append({"scenario": cell.scenario, "run": cell.run, "network": cell.network.name,
                                     "error": error})
                    bar.write(f"cell {cell.run} @ {cell.scenario} failed: {error}")
                bar.update()
    finally:
        for w in own:
            w.close()

    finished = [cells_dir / f"{c.key}.csv" for c in cells if (cells_dir / f"{c.key}.csv").is_file()]
    timing = pd.concat([read_timing(f) for f in finished], ignore_index=True) if finished else timing_frame([])
    summary = summarize(timing)
    failure_frame = pd.DataFrame(failures, columns=FAILURE_COLUMNS)
    write_table(timing, out / "timing")
    write_table(summary, out / "summary")
    atomic.write_frame(out / "failures.csv", failure_frame)
    return SweepResult(timing, summary, failure_frame, ran=len(pending), skipped=len(cells) - len(pending))
