"""``netbench replay``: one run directory through one network scenario."""
from __future__ import annotations

from pathlib import Path

import click

from harness.params import NETWORK, links_option, scenario_options

__all__ = ["replay"]


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--network", type=NETWORK, required=True,
              help="Uplink/downlink rates in Mbps, e.g. 1/5 (the paper's: 0.2/1, 1/5, 2/10, 5/25).")
@scenario_options
@click.option("--links", callback=links_option, default=None,
              help="Heterogeneous clients: per-client UP/DOWN links cycled by client id (e.g. 0.2/1,1/5,5/25); "
                   "--network then only names the scenario's default.")
@click.option("--links-seed", type=int, default=None,
              help="Draw each client's link uniformly from --links with this seed.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for timing.{csv,parquet} and summary.{csv,parquet}.")
def replay(run: Path, network, latency: float, tcp: str, compute_scale: float | None,
           server_link: float | None, exact_star: bool, links, links_seed: int | None, out: Path) -> None:
    """Replay RUN's recorded message sizes and compute times through ns-3 TCP on NETWORK."""
    from fl_core.rundir import read_run
    from harness.arrivals import assign_links
    from harness.replay import replay as replay_run
    from harness.timing import summarize, write_table

    network = network.with_(latency_s=latency, tcp=tcp, server_link_bps=server_link)
    record = read_run(run)
    client_links, scenario = None, None
    if links:
        links = [n.with_(latency_s=latency, tcp=tcp) for n in links]
        n_clients = int(record.meta.get("config", {}).get("n_clients", record.rounds["client"].max() + 1))
        client_links = dict(enumerate(assign_links(links, n_clients, links_seed)))
        scenario = "links " + ",".join(n.name for n in links)
    timing = replay_run(record, network, scenario=scenario, compute_scale=compute_scale, exact_star=exact_star,
                        client_links=client_links)
    summary = summarize(timing)
    write_table(timing, out / "timing")
    write_table(summary, out / "summary")
    click.echo(summary[["scenario", "run", "method", "rounds", "total_s", "computation_s", "communication_s",
                        "goodput_up_mbps", "goodput_down_mbps"]].to_string(index=False, float_format="{:.4g}".format))
    click.echo(f"wrote {out / 'timing.csv'} and {out / 'summary.csv'}")
