"""``netbench replay``: one run directory through one scenario (a file, a built-in, or the shorthand flags)."""
from __future__ import annotations

from pathlib import Path

import click

from harness.params import NETWORK, SCENARIO, SHORTHANDS, explicit, links_option, scenario_options, \
    shorthand_scenario

__all__ = ["replay"]


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--scenario", "scenario", type=SCENARIO, default=None,
              help="A scenario file (TOML) or a built-in name (see `netbench scenarios`); replaces the flags below.")
@click.option("--network", type=NETWORK, default=None,
              help="Uplink/downlink rates in Mbps, e.g. 1/5 (the paper's: 0.2/1, 1/5, 2/10, 5/25).")
@scenario_options
@click.option("--links", callback=links_option, default=None,
              help="Heterogeneous clients: per-client UP/DOWN links cycled by client id (e.g. 0.2/1,1/5,5/25); "
                   "--network then only names the scenario's default.")
@click.option("--links-seed", type=int, default=None,
              help="Draw each client's link uniformly from --links with this seed.")
@click.option("--compute-profile", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="TOML of measured seconds per step per (shape, tokens, device) that replaces the recorded "
                   "compute times (docs/SCALE.md); named in compute_source and scenario.json.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for timing.{csv,parquet}, summary.{csv,parquet} and scenario.json (the resolved spec).")
@click.pass_context
def replay(ctx: click.Context, run: Path, scenario, network, links, links_seed: int | None, compute_profile: Path | None,
           out: Path, **shorthands) -> None:
    """Replay RUN's recorded message sizes and compute times through ns-3 on a scenario."""
    from fl_core.rundir import atomic
    from fl_core.rundir.atomic import check_can_create
    from fl_core.rundir.lock import folder_lock
    from fl_core.rundir.reader import read_run
    from harness.cli import continue_command, on_interrupt
    from harness.replay import replay as replay_run
    from harness.timing import summarize, write_table

    if scenario is not None:
        mixed = explicit(ctx, ["network", *SHORTHANDS, "links", "links_seed"])
        if mixed:
            raise click.UsageError(f"--scenario replaces {', '.join(mixed)}: put them in the scenario file")
    elif network is None:
        raise click.UsageError("give --network UP/DOWN (with the shorthand flags) or --scenario FILE_OR_NAME")
    else:
        scenario = shorthand_scenario(network, links=links, links_seed=links_seed, **shorthands)
    if compute_profile is not None:
        from harness.compute_profile import load_profile

        scenario = scenario.with_(compute_profile=load_profile(compute_profile))
    record = read_run(run)
    check_can_create(out)
    on_interrupt(lambda: f"nothing was written to {out}; start again with: {continue_command()}")
    with folder_lock(out, "replay"):  # one writer per folder; a failed replay leaves no folder it created
        timing = replay_run(record, scenario)
        summary = summarize(timing)
        atomic.write_json(out / "scenario.json", {**scenario.recorded(), "hash": scenario.hash})
        write_table(timing, out / "timing")
        write_table(summary, out / "summary")
    click.echo(summary[["scenario", "run", "method", "rounds", "total_s", "computation_s", "communication_s",
                        "goodput_up_mbps", "goodput_down_mbps", "ns3_over_analytic"]]
               .to_string(index=False, float_format="{:.4g}".format))
    click.echo(f"wrote {out / 'timing.csv'}, {out / 'summary.csv'} and {out / 'scenario.json'}")
