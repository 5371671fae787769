"""Sweeps: every run directory replayed through every scenario, in three steps.

* **plan** (:func:`plan_sweep`): read the runs, check every round of every cell (a *cell*
  is one run x one scenario), write ``OUT/scenarios.json`` (each scenario's resolved spec,
  by hash) and list the cells not finished yet. Nothing runs if any input is bad.
* **execute** (an :data:`EXECUTORS` entry, default ``local``): run the pending cells and
  yield each one's timing table or error as it finishes. ``local`` is a thread pool over
  ns-3 worker processes; another executor (a Ray cluster) only has to yield the same.
* **merge** (:func:`merge_cells`): write each finished cell to ``OUT/cells/<key>.csv``
  atomically as it arrives, failures to ``OUT/failures.csv``, and at the end all finished
  cells into ``OUT/timing.{csv,parquet}`` and ``OUT/summary.{csv,parquet}``.

A second sweep into the same folder skips finished cells, so an interrupted sweep resumes;
a cell's key holds its scenario's hash, so a changed scenario is a new cell. A cell that
fails (an ns-3 abort, a ``ScenarioError``) is recorded while the others go on.

``jobs`` workers each import ns-3 once (6-11 s, ~640 MB). On a 2-core machine a second
worker brings little (NS3.md section 4); the default is one.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import functools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from fl_core.rundir import atomic
from fl_core.errors import ConfigError, NetbenchError
from fl_core.rundir.reader import RunRecord, read_run
from harness.replay import checked_rounds, replay_record
from harness.scenario import Scenario, as_scenario
from harness.timing import read_timing, summarize, timing_frame, write_table
from ns3_scenarios.network import Network
from ns3_scenarios.worker import NsWorker, WorkerPool, shared_worker

#: What a cell runs in a worker: ``(record, scenario) -> timing table``.
CellFn = Callable[..., pd.DataFrame]

FAILURE_COLUMNS = ["scenario", "run", "network", "error"]
#: What ``OUT/sweep.json`` records; a folder made by another layout is refused, not mixed.
MANIFEST = {"cells": "run x scenario, keyed by scenario hash"}


@dataclass(frozen=True)
class Cell:
    """One run replayed through one scenario."""

    run: str
    scenario: Scenario

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def key(self) -> str:
        """A file-name-safe, collision-free name for this cell's result file."""
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{self.run}__{self.name}")
        digest = hashlib.sha1(f"{self.run}\0{self.name}\0{self.scenario.hash}".encode()).hexdigest()[:8]
        return f"{slug}-{digest}"


@dataclass
class SweepPlan:
    """What :func:`plan_sweep` decided: the runs, every cell, the cells still to run, where results go."""

    out: Path
    records: dict[str, RunRecord]
    cells: list[Cell]
    pending: list[Cell]

    def cell_path(self, cell: Cell) -> Path:
        return self.out / "cells" / f"{cell.key}.csv"


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


def _check_manifest(out: Path) -> None:
    """Refuse to resume into a folder whose finished cells were made another way."""
    manifest = out / "sweep.json"
    if manifest.is_file():
        previous = json.loads(manifest.read_text())
        if previous != MANIFEST:
            raise ConfigError(f"{out} holds a sweep made with {previous}, not {MANIFEST}; choose another --out")
    else:
        atomic.write_json(manifest, MANIFEST)


def _write_scenarios(out: Path, scenarios: Sequence[Scenario]) -> None:
    """``OUT/scenarios.json``: every scenario's recorded spec (traces as digests) by hash, merged with earlier sweeps into ``out``."""
    path = out / "scenarios.json"
    specs = json.loads(path.read_text()) if path.is_file() else {}
    specs.update({s.hash: s.recorded() for s in scenarios})
    atomic.write_json(path, specs)


def plan_sweep(
    runs: Sequence[str | Path | RunRecord],
    scenarios: Sequence[Scenario | Network],
    out: str | Path,
    *,
    compute_scale: float | None = None,
    exact_star: bool = False,
) -> SweepPlan:
    """Read and check everything, prepare ``out``, list the pending cells (see the module doc)."""
    if not scenarios:
        raise ConfigError("a sweep needs at least one scenario")
    scenarios = [as_scenario(s, compute_scale=compute_scale, exact_star=exact_star) for s in scenarios]
    seen: dict[str, str] = {}
    for s in scenarios:
        if seen.get(s.name, s.hash) != s.hash:
            raise ConfigError(f"two different scenarios are both named {s.name!r}; rename one")
        seen[s.name] = s.hash
    records = _read_runs(runs)
    for record in records.values():
        for scenario in scenarios:
            checked_rounds(record, scenario)
    out = Path(out)
    _check_manifest(out)
    _write_scenarios(out, scenarios)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    cells = list(dict.fromkeys(Cell(run, s) for run in records for s in scenarios))
    plan = SweepPlan(out, records, cells, [])
    plan.pending = [c for c in cells if not plan.cell_path(c).is_file()]
    return plan


#: ``executor(plan, cell_fn, jobs=, workers=) -> iterator of (cell, timing table or error text)``.
Executor = Callable[..., Iterator[tuple[Cell, "pd.DataFrame | str"]]]


def execute_local(plan: SweepPlan, cell_fn: CellFn, *, jobs: int = 1, workers: Sequence[NsWorker] | None = None,
                  progress: bool = False) -> Iterator[tuple[Cell, pd.DataFrame | str]]:
    """Run the pending cells on ``jobs`` ns-3 worker processes of this machine (the shared one plus new ones).

    Cells whose engine is slow per round (WiFi, LTE) first have their rounds simulated on all
    workers in parallel into the round cache (:mod:`harness.cellrounds`, a bar per cell).
    """
    from harness.cellrounds import prefill, round_cached
    from harness.scenario.spec import engines

    slow = sum(1 for c in plan.pending if round_cached(engines()[c.scenario.engine]))
    wanted = max(len(plan.pending), jobs if slow else 1)
    own = [] if workers is not None else [NsWorker() for _ in range(min(jobs, wanted) - 1)]
    pool = WorkerPool(list(workers) if workers is not None else [shared_worker(), *own])
    if slow and cell_fn is replay_record:
        prefill(plan, pool, progress=progress)

    def run_cell(cell: Cell) -> pd.DataFrame | str:
        try:
            return pool.call(cell_fn, plan.records[cell.run], cell.scenario)
        except NetbenchError as exc:
            return str(exc)

    try:
        yield from pool.run((cell, functools.partial(run_cell, cell)) for cell in plan.pending)
    finally:
        for w in own:
            w.close()


def execute_ray(plan: SweepPlan, cell_fn: CellFn, **options) -> Iterator[tuple[Cell, pd.DataFrame | str]]:
    """The pending cells as Ray tasks (:mod:`harness.sweep_ray`; needs the ``ray`` extra)."""
    from harness.sweep_ray import execute_ray as run

    return run(plan, cell_fn, **options)


#: Sweep executors by name; each yields ``(cell, timing table or error text)`` as cells finish.
EXECUTORS: dict[str, Executor] = {"local": execute_local, "ray": execute_ray}


def merge_cells(plan: SweepPlan, failures: Sequence[dict]) -> SweepResult:
    """Merge every finished cell of ``plan`` into the sweep's timing, summary and failure tables."""
    finished = [plan.cell_path(c) for c in plan.cells if plan.cell_path(c).is_file()]
    timing = pd.concat([read_timing(f) for f in finished], ignore_index=True) if finished else timing_frame([])
    summary = summarize(timing)
    failure_frame = pd.DataFrame(list(failures), columns=FAILURE_COLUMNS)
    write_table(timing, plan.out / "timing")
    write_table(summary, plan.out / "summary")
    atomic.write_frame(plan.out / "failures.csv", failure_frame)
    return SweepResult(timing, summary, failure_frame, ran=len(plan.pending),
                       skipped=len(plan.cells) - len(plan.pending))


def run_sweep(
    runs: Sequence[str | Path | RunRecord],
    scenarios: Sequence[Scenario | Network],
    out: str | Path,
    *,
    jobs: int = 1,
    compute_scale: float | None = None,
    exact_star: bool = False,
    cell_fn: CellFn = replay_record,
    workers: Sequence[NsWorker] | None = None,
    executor: str = "local",
    progress: bool = True,
) -> SweepResult:
    """Replay each run through each scenario: plan, execute, merge (see the module doc).

    ``scenarios`` may be plain networks with the shorthand ``compute_scale`` / ``exact_star``.
    ``workers`` overrides the worker processes of the local executor; ``cell_fn`` what each
    cell runs (default: :func:`~harness.replay.replay_record`).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"invalid jobs {jobs!r}: expected an integer >= 1")
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}: expected one of {', '.join(EXECUTORS)}")
    plan = plan_sweep(runs, scenarios, out, compute_scale=compute_scale, exact_star=exact_star)
    failures: list[dict] = []
    options: dict = {"workers": workers} if workers is not None else {}
    if executor == "local":
        options["progress"] = progress
    finished = EXECUTORS[executor](plan, cell_fn, jobs=jobs, **options)
    with tqdm(total=len(plan.cells), initial=len(plan.cells) - len(plan.pending), desc="sweep", unit="cell",
              disable=not progress) as bar, contextlib.closing(finished):  # Ctrl-C here stops the executor too
        for cell, result in finished:
            if isinstance(result, str):
                failures.append({"scenario": cell.name, "run": cell.run, "network": cell.scenario.network.name,
                                 "error": result})
                bar.write(f"cell {cell.run} @ {cell.name} failed: {result}")
            else:
                atomic.write_frame(plan.cell_path(cell), result)
            bar.update()
    return merge_cells(plan, failures)
