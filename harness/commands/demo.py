"""``netbench demo``: the whole pipeline on the embedded default, in minutes on 2 CPU cores.

Trains FedIT, FedIT w/ EcoLoRA, FFA-LoRA and FFA-LoRA w/ EcoLoRA on SmolLM2-135M and the
offline QA mix (small federation, few rounds), replays every run through the four
bandwidth presets of the paper in ns-3, and writes the timing CSV, a summary and the
Figure-3 PNG. Finished runs and sweep cells are reused, interrupted runs resumed.

What it evaluates: the held-out loss (32 examples) of the base model and of each final
adapter, which is what moves at 135M parameters and 3 rounds; ARC (``--arc N`` questions
per level) only on request. Runs train ``--parallel`` at a time, each in its own process
with ``--threads`` torch threads (two one-thread runs use two cores better than one run on
two threads). What repeats across demos is cached: the model conversion and base-model
scores in ``~/.cache/fedlora-netbench``, ns-3 flows in the flow cache, finished runs and
sweep cells in ``--runs-dir`` and ``--out``.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import click

__all__ = ["demo"]

if TYPE_CHECKING:
    import pandas as pd

DEMO_METHODS = ("fedit", "fedit+ecolora", "ffa-lora", "ffa-lora+ecolora")


def _demo_config(label: str, model: str, rounds: int, threads: int, arc: int = 0):
    from fl_core.run.config import EcoLoRAConfig, RunConfig

    base, _, eco = label.partition("+")
    return RunConfig(
        method=base, model=model, n_clients=10, participants=5, rounds=rounds, local_steps=2, batch_size=2,
        max_len=128, per_category=40, eval_examples=32, eval_every=rounds, arc_subset=0, arc_final=arc,
        evals=("arc",) if arc else (), threads=threads, ecolora=EcoLoRAConfig(n_segments=5) if eco else None,
    )


def _ensure_run(label: str, run_dir: Path, model: str, rounds: int, threads: int, arc: int = 0,
                progress: bool = True) -> Path:
    from fl_core.run import loop
    from fl_core.rundir.reader import read_meta

    if (run_dir / "run.json").is_file():
        status = read_meta(run_dir).get("status")
        if status == "complete":
            click.echo(f"  {label}: reusing {run_dir}")
            return run_dir
        click.echo(f"  {label}: resuming {run_dir}")
        return loop.resume(run_dir, progress=progress)
    click.echo(f"  {label}: training into {run_dir}")
    out = loop.train(_demo_config(label, model, rounds, threads, arc), run_dir, progress=progress)
    click.echo(f"  {label}: done")
    return out


def _train_all(runs_dir: Path, model: str, rounds: int, threads: int, arc: int, parallel: int) -> list[Path]:
    """Every demo run, ``parallel`` at a time in their own processes (one here when ``parallel`` is 1)."""
    if parallel == 1:
        return [_ensure_run(label, runs_dir / label, model, rounds, threads, arc) for label in DEMO_METHODS]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(parallel, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [pool.submit(_ensure_run, label, runs_dir / label, model, rounds, threads, arc, False)
                   for label in DEMO_METHODS]
        runs = [f.result() for f in futures]
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return runs


def savings_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per network preset and EcoLoRA run: its communication and total time, and what it saves against
    the same method without EcoLoRA (percent), from a sweep summary."""
    import pandas as pd

    indexed = summary.set_index(["scenario", "method"])
    rows = []
    for (scenario, method), row in indexed.iterrows():
        base, _, eco = method.partition("+")
        if not eco or (scenario, base) not in indexed.index:
            continue
        ref = indexed.loc[(scenario, base)]
        rows.append({"network": scenario, "method": method, "communication_s": row["communication_s"],
                     "communication_saved_%": 100 * (1 - row["communication_s"] / ref["communication_s"]),
                     "total_s": row["total_s"], "total_saved_%": 100 * (1 - row["total_s"] / ref["total_s"])})
    return pd.DataFrame(rows)


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("results"), show_default=True,
              help="Where timing.csv, summary.csv and figure3.png go.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/demo"),
              show_default=True, help="Where the demo's run directories go (reused if complete).")
@click.option("--model", default="smollm2-135m", show_default=True)
@click.option("--rounds", type=click.IntRange(1), default=3, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True, help="torch CPU threads per run.")
@click.option("--parallel", type=click.IntRange(1), default=None,
              help="Runs trained at a time, each in its own process [default: 2 on 2 or more cores, else 1].")
@click.option("--arc", type=click.IntRange(0), default=0, show_default=True,
              help="Also score this many ARC questions per level for the base model and each final adapter "
                   "(0: held-out loss only, which is what moves at this scale).")
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True, help="Parallel sweep workers.")
def demo(out: Path, runs_dir: Path, model: str, rounds: int, threads: int, parallel: int | None, arc: int,
         jobs: int) -> None:
    """Train the default methods, sweep 0.2/1, 1/5, 2/10, 5/25 Mbps, write the CSV and Figure 3."""
    import os

    from fl_core.rundir.lock import folder_lock
    from fl_core.rundir.reader import read_run
    from harness.cli import on_interrupt
    from harness.plot import figure3
    from harness.sweep import run_sweep
    from harness.table import communication_table
    from ns3_scenarios.network import PRESETS

    on_interrupt(lambda: "run the same command again: finished runs and sweep cells are reused, "
                         "an interrupted run resumes from its last round")
    if parallel is None:
        parallel = 2 if (os.cpu_count() or 1) >= 2 else 1
    click.echo(f"[1/3] training {len(DEMO_METHODS)} runs on {model}, {parallel} at a time")
    runs = _train_all(runs_dir, model, rounds, threads, arc, parallel)
    click.echo(f"[2/3] replaying {len(runs)} runs x {len(PRESETS)} networks in ns-3")
    with folder_lock(out / "sweep", "sweep"):
        result = run_sweep(runs, list(PRESETS.values()), out / "sweep", jobs=jobs)
    for name in ("timing.csv", "summary.csv"):
        shutil.copyfile(out / "sweep" / name, out / name)
    click.echo("[3/3] plotting")
    png = figure3(result.summary, out / "figure3.png", title=f"{model}: computation vs communication over {rounds} rounds")
    table = communication_table([read_run(r) for r in runs])
    cols = [c for c in ("run", "eval_loss", "arc", "upload_mb", "total_mb") if c in table]
    click.echo("\nruns (final held-out loss; megabytes sent):")
    click.echo(table[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    click.echo("\nEcoLoRA against the same method without it, per network (ns-3 replay):")
    click.echo(savings_table(result.summary).to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    if len(result.failures):
        click.echo(f"{len(result.failures)} sweep cells failed: see {out / 'sweep' / 'failures.csv'}", err=True)
    click.echo(f"\nfiles: {out / 'timing.csv'} (one row per round and client), {out / 'summary.csv'} (per run and "
               f"network), {png} (Figure 3); runs in {runs_dir}, sweep cells in {out / 'sweep'}")
