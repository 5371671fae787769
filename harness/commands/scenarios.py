"""``netbench scenarios``: list the built-in scenarios, show one resolved, or check scenario files."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

__all__ = ["scenarios"]


@click.command()
@click.option("--check", "check", type=click.Path(path_type=Path), multiple=True,
              help="Validate this scenario file (repeatable): prints its name and hash, or one error line.")
@click.option("--show", default=None, metavar="FILE_OR_NAME",
              help="Print the resolved spec (JSON) of a built-in or a file; with measured traces, also their "
                   "provenance, licence and statistics (key measured_traces).")
def scenarios(check: tuple[Path, ...], show: str | None) -> None:
    """List the built-in scenarios (name, hash, description); with --check, validate files instead."""
    from fl_core.errors import NetbenchError
    from harness.scenario import builtins as scenario_builtins
    from harness.scenario import load_scenario
    from harness.scenario.toml import load_file

    if check:
        bad = 0
        for path in check:  # every file is checked: one line each, an error line for each bad one
            try:
                scenario = load_file(path)
            except NetbenchError as exc:
                click.echo(f"error: {exc}", err=True)
                bad += 1
                continue
            click.echo(f"ok: {path}: scenario {scenario.name!r}, hash {scenario.hash}, engine {scenario.engine}")
        if bad:
            sys.exit(2)
        return
    if show is not None:
        from ns3_scenarios.trace_library import provenance_of

        scenario = load_scenario(show)
        spec = scenario.resolved()
        measured = provenance_of(spec)
        click.echo(json.dumps({**spec, "hash": scenario.hash, **({"measured_traces": measured} if measured else {})},
                              indent=2, sort_keys=True))
        return
    rows = []
    for name in scenario_builtins.names():
        scenario = scenario_builtins.get(name)
        rows.append((name, scenario.hash, scenario.engine, scenario.description or scenario.network.label))
    width = max(len(r[0]) for r in rows)
    for name, digest, engine, text in rows:
        click.echo(f"{name:<{width}}  {digest}  {engine:<8}  {text}")
