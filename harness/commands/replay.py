"""``netbench replay``: one run directory through one network scenario."""
from __future__ import annotations

from pathlib import Path

import click

from harness.params import NETWORK, scenario_options

__all__ = ["replay"]


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--network", type=NETWORK, required=True,
              help="Uplink/downlink rates in Mbps, e.g. 1/5 (the paper's: 0.2/1, 1/5, 2/10, 5/25).")
@scenario_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for timing.{csv,parquet} and summary.{csv,parquet}.")
def replay(run: Path, network, latency: float, tcp: str, compute_scale: float | None,
           server_link: float | None, exact_star: bool, out: Path) -> None:
    """Replay RUN's recorded message sizes and compute times through ns-3 TCP on NETWORK."""
    from harness.replay import replay as replay_run
    from harness.timing import summarize, write_table

    network = network.with_(latency_s=latency, tcp=tcp, server_link_bps=server_link)
    timing = replay_run(run, network, compute_scale=compute_scale, exact_star=exact_star)
    summary = summarize(timing)
    write_table(timing, out / "timing")
    write_table(summary, out / "summary")
    click.echo(summary[["scenario", "run", "method", "rounds", "total_s", "computation_s", "communication_s",
                        "goodput_up_mbps", "goodput_down_mbps"]].to_string(index=False, float_format="{:.4g}".format))
    click.echo(f"wrote {out / 'timing.csv'} and {out / 'summary.csv'}")
