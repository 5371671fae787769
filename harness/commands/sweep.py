"""``netbench sweep``: run directories x scenarios, resumable, one failure does not stop the rest."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from harness.params import NETWORK_LIST, SCENARIOS, SHORTHANDS, explicit, scenario_options, shorthand_scenario

__all__ = ["sweep"]


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--scenario", "scenarios", type=SCENARIOS, multiple=True,
              help="A scenario file (TOML), a built-in name or a glob over built-in names ('divergence/*'; see "
                   "`netbench scenarios`); repeatable. Without --networks only these are swept.")
@click.option("--networks", type=NETWORK_LIST, default="0.2/1,1/5,2/10,5/25", show_default=True,
              help="Comma-separated UP/DOWN pairs in Mbps, each a shorthand scenario with the flags below.")
@scenario_options
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes; each imports ns-3 once (~10 s, ~640 MB); at most the machine's cores. 2 cores "
                   "gain little from 2.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: --jobs ns-3 worker processes here; ray: cells as Ray tasks (RAY_ADDRESS joins a "
                   "cluster, else a local instance), each Ray worker importing ns-3 once; --jobs caps the cells "
                   "in flight.")
@click.option("--compute-profile", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="TOML of measured seconds per step per (shape, tokens, device) that replaces the recorded "
                   "compute times in every cell (docs/SCALE.md); named in compute_source and scenarios.json.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Sweep folder: cells/, timing.*, summary.*, failures.csv, scenarios.json. Finished cells are "
                   "skipped on rerun.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@click.pass_context
def sweep(ctx: click.Context, runs: tuple[Path, ...], scenarios: tuple, networks, jobs: int, executor: str,
          compute_profile: Path | None, out: Path, progress: bool, **shorthands) -> None:
    """Replay every RUN through every scenario; merge into one timing and one summary table."""
    from fl_core.rundir.lock import folder_lock
    from harness.cli import continue_command, on_interrupt
    from harness.sweep import run_sweep

    on_interrupt(lambda: f"finished cells are kept; continue with: {continue_command()}")

    chosen = [s for group in scenarios for s in group]
    if not scenarios or explicit(ctx, ["networks"]):
        chosen += [shorthand_scenario(n, **shorthands) for n in networks]
    elif explicit(ctx, SHORTHANDS):
        raise click.UsageError(f"{', '.join(explicit(ctx, SHORTHANDS))} shape the --networks scenarios; with "
                               "--scenario alone put them in the scenario file, or give --networks too")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if executor == "local" and jobs > cores:
        click.echo(f"--jobs {jobs}: this machine has {cores} cores; running {cores} ns-3 workers", err=True)
        jobs = cores
    if compute_profile is not None:
        from harness.compute_profile import load_profile

        profile = load_profile(compute_profile)
        chosen = [s.with_(compute_profile=profile) for s in chosen]
    if executor == "ray":
        from fl_core.executors import import_ray

        import_ray()
    with folder_lock(out, "sweep"):
        result = run_sweep(list(runs), chosen, out, jobs=jobs, executor=executor, progress=progress)
    if not result.summary.empty:
        click.echo(result.summary[["scenario", "run", "method", "total_s", "computation_s", "communication_s",
                                   "ns3_over_analytic"]].to_string(index=False, float_format="{:.4g}".format))
    click.echo(f"{result.ran} cells run, {result.skipped} already done; wrote {out / 'timing.csv'}, "
               f"{out / 'summary.csv'} and {out / 'scenarios.json'}")
    if not result.failures.empty:
        click.echo(f"error: {len(result.failures)} cells failed; see {out / 'failures.csv'}", err=True)
        sys.exit(1)
