"""``netbench demo``: the whole pipeline on the embedded default, in minutes on 2 CPU cores.

Trains FedIT, FedIT w/ EcoLoRA, FFA-LoRA and FFA-LoRA w/ EcoLoRA on SmolLM2-135M and the
offline QA mix (small federation, few rounds), replays every run through the four
bandwidth presets of the paper in ns-3, and writes the timing CSV, a summary and the
Figure-3 PNG. Finished runs and sweep cells are reused, interrupted runs resumed.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import click

__all__ = ["demo"]

DEMO_METHODS = ("fedit", "fedit+ecolora", "ffa-lora", "ffa-lora+ecolora")


def _demo_config(label: str, model: str, rounds: int, threads: int):
    from fl_core.run.config import EcoLoRAConfig, RunConfig

    base, _, eco = label.partition("+")
    return RunConfig(
        method=base, model=model, n_clients=10, participants=5, rounds=rounds, local_steps=2, batch_size=4,
        max_len=128, per_category=40, eval_examples=32, eval_every=rounds, arc_subset=0, arc_final=20,
        threads=threads, ecolora=EcoLoRAConfig(n_segments=5) if eco else None,
    )


def _ensure_run(label: str, run_dir: Path, model: str, rounds: int, threads: int) -> Path:
    from fl_core.run import loop
    from fl_core.rundir.reader import read_meta

    if (run_dir / "run.json").is_file():
        status = read_meta(run_dir).get("status")
        if status == "complete":
            click.echo(f"  {label}: reusing {run_dir}")
            return run_dir
        click.echo(f"  {label}: resuming {run_dir}")
        return loop.resume(run_dir)
    click.echo(f"  {label}: training into {run_dir}")
    return loop.train(_demo_config(label, model, rounds, threads), run_dir)


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("results"), show_default=True,
              help="Where timing.csv, summary.csv and figure3.png go.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/demo"),
              show_default=True, help="Where the demo's run directories go (reused if complete).")
@click.option("--model", default="smollm2-135m", show_default=True)
@click.option("--rounds", type=click.IntRange(1), default=3, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=2, show_default=True, help="torch CPU threads.")
@click.option("--jobs", type=click.IntRange(1), default=1, show_default=True, help="Parallel sweep workers.")
def demo(out: Path, runs_dir: Path, model: str, rounds: int, threads: int, jobs: int) -> None:
    """Train the default methods, sweep 0.2/1, 1/5, 2/10, 5/25 Mbps, write the CSV and Figure 3."""
    from fl_core.rundir.lock import folder_lock
    from harness.cli import on_interrupt
    from fl_core.rundir.reader import read_run
    from harness.plot import figure3
    from harness.sweep import run_sweep
    from harness.table import communication_table
    from ns3_scenarios.network import PRESETS

    on_interrupt(lambda: "run the same command again: finished runs and sweep cells are reused, "
                         "an interrupted run resumes from its last round")
    click.echo(f"[1/3] training {len(DEMO_METHODS)} runs on {model}")
    runs = [_ensure_run(label, runs_dir / label, model, rounds, threads) for label in DEMO_METHODS]
    click.echo(f"[2/3] replaying {len(runs)} runs x {len(PRESETS)} networks in ns-3")
    with folder_lock(out / "sweep", "sweep"):
        result = run_sweep(runs, list(PRESETS.values()), out / "sweep", jobs=jobs)
    for name in ("timing.csv", "summary.csv"):
        shutil.copyfile(out / "sweep" / name, out / name)
    click.echo("[3/3] plotting")
    png = figure3(result.summary, out / "figure3.png", title=f"{model}: computation vs communication over {rounds} rounds")
    table = communication_table([read_run(r) for r in runs])
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    cols = [c for c in ("scenario", "run", "total_s", "computation_s", "communication_s") if c in result.summary]
    click.echo(result.summary[cols].to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    if len(result.failures):
        click.echo(f"{len(result.failures)} sweep cells failed: see {out / 'sweep' / 'failures.csv'}", err=True)
    click.echo(f"wrote {out / 'timing.csv'}, {out / 'summary.csv'} and {png}")
