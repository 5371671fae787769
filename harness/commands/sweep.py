"""``netbench sweep``: run directories x networks, resumable, one failure does not stop the rest."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.params import NETWORK_LIST, scenario_options

__all__ = ["sweep"]


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--networks", type=NETWORK_LIST, default="0.2/1,1/5,2/10,5/25", show_default=True,
              help="Comma-separated UP/DOWN pairs in Mbps.")
@scenario_options
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes; each imports ns-3 once (~10 s, ~640 MB). 2 cores gain little from 2.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Sweep folder: cells/, timing.*, summary.*, failures.csv. Finished cells are skipped on rerun.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
def sweep(runs: tuple[Path, ...], networks, latency: float, tcp: str, compute_scale: float | None,
          server_link: float | None, exact_star: bool, jobs: int, out: Path, progress: bool) -> None:
    """Replay every RUN through every network; merge into one timing and one summary table."""
    from harness.sweep import run_sweep

    networks = [n.with_(latency_s=latency, tcp=tcp, server_link_bps=server_link) for n in networks]
    result = run_sweep(list(runs), networks, out, jobs=jobs, compute_scale=compute_scale, exact_star=exact_star,
                       progress=progress)
    if not result.summary.empty:
        click.echo(result.summary[["scenario", "run", "method", "total_s", "computation_s", "communication_s"]]
                   .to_string(index=False, float_format="{:.4g}".format))
    click.echo(f"{result.ran} cells run, {result.skipped} already done; wrote {out / 'timing.csv'} "
               f"and {out / 'summary.csv'}")
    if not result.failures.empty:
        click.echo(f"error: {len(result.failures)} cells failed; see {out / 'failures.csv'}", err=True)
        sys.exit(1)
