"""Entry points of training: start a run or resume one (the round loop is a schedule's).

Each round: participants are chosen by the schedule (:mod:`fl_core.schedules`); for each,
the server encodes its download, the client decodes it, trains ``local_steps`` steps,
encodes its upload; the server decodes and aggregates only what it decoded
(:class:`fl_core.context.RunContext`). Rows, blobs, evaluation and a checkpoint are written
atomically at the end of every round, so ``resume`` continues from the last whole round
with the same bytes an uninterrupted run would have produced.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from fl_core.capabilities import check
from fl_core.config import RunConfig
from fl_core.context import RunContext
from fl_core.errors import ConfigError, RunDirError
from fl_core.lock import LOCK_NAME, folder_lock

__all__ = ["RunContext", "resume", "train"]


def train(cfg: RunConfig, out: str | Path, progress: bool = True, arrivals=None, executor=None) -> Path:
    """Start a new run in ``out`` (which must not hold a run already).

    ``arrivals`` (an ``ArrivalModel`` for FedBuff, a ``RoundArrivals`` for deadline rounds;
    :mod:`fl_core.schedules.base`) is required by schedules that take times from the network.
    ``executor`` trains the clients (:mod:`fl_core.executors`; default: one after another here).
    """
    out = Path(out)
    schedule = check(cfg, arrivals)["schedule"]
    if schedule.needs_arrivals and arrivals is None:
        raise ConfigError(f"{schedule.label} needs arrival times: pass arrivals= (the CLI builds them from "
                          "--links or --scenario)")
    with folder_lock(out, "train"):
        if (out / "run.json").exists():
            raise RunDirError(f"{out} already holds a run; use --resume to continue it or choose another --out")
        before = set(out.iterdir())
        try:
            return schedule().run(RunContext(cfg, out, progress, executor), arrivals)
        except BaseException:
            if not (out / "rounds.csv").is_file():  # failed or stopped before its first round: keep nothing
                _remove_new(out, before)
            raise


def _remove_new(out: Path, before: set[Path]) -> None:
    """Remove what a run that recorded no round wrote into ``out`` (``before``: what was there already), so
    neither a corrected command nor ``--resume`` meets a half-made run directory."""
    for path in set(out.iterdir()) - before:
        if path.name == LOCK_NAME:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def saved_config(out: str | Path) -> tuple[dict, RunConfig]:
    """``run.json`` of a run directory and its config; ``RunDirError`` if there is nothing to resume."""
    out = Path(out)
    meta_file = out / "run.json"
    if not meta_file.is_file():
        raise RunDirError(f"{out} is not a run directory (no run.json): nothing to resume")
    meta = json.loads(meta_file.read_text())
    return meta, RunConfig.from_dict(meta["config"])


def resume(out: str | Path, progress: bool = True, arrivals=None, threads: int | None = None,
           executor=None) -> Path:
    """Continue an interrupted run from its last completed round (``threads``: change the torch threads,
    which does not change what the run computes; ``executor``: as for :func:`train`)."""
    out = Path(out)
    saved_config(out)  # refuses a folder that holds no run before taking its lock
    with folder_lock(out, "train --resume"):
        meta, cfg = saved_config(out)
        if threads is not None:
            cfg.threads = threads
        if meta.get("status") == "complete":
            raise RunDirError(f"{out} is already complete")
        schedule = check(cfg, arrivals)["schedule"]
        if not schedule.resumable:
            raise RunDirError(f"{out} is an asynchronous (FedBuff) run; those cannot be resumed, start it again")
        if schedule.needs_arrivals and arrivals is None:
            raise ConfigError(f"resuming {schedule.label} needs arrival times: pass arrivals=")
        return schedule().run(RunContext(cfg, out, progress, executor), arrivals)
