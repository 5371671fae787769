"""``netbench plot``: Figure 3 (computation vs communication time per method and network)."""
from __future__ import annotations

from pathlib import Path

import click

__all__ = ["plot"]


@click.command()
@click.argument("timing", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Image file to write (PNG, PDF or SVG by suffix) [default: results/<kind>.png].")
@click.option("--kind", type=click.Choice(["figure3", "divergence"]), default="figure3", show_default=True,
              help="figure3: computation/communication bars; divergence: ns-3 over the closed form per impairment "
                   "(scenarios named <factor>=<level>, e.g. the divergence/... built-ins).")
@click.option("--unit", type=click.Choice(["auto", "hours", "minutes", "seconds"]), default="auto",
              show_default=True, help="Time unit of the y axis.")
def plot(timing: Path, out: Path | None, kind: str, unit: str) -> None:
    """Stacked computation/communication bars per method, grouped by network, from a timing or summary CSV
    (or, with --kind divergence, ns-3 / closed form across impairments)."""
    from fl_core.atomic import check_out_file
    from harness.plot import DIVERGENCE_COLUMNS, divergence, figure3, load_summary

    out = out or Path("results") / f"{kind}.png"
    if kind == "divergence":
        summary = load_summary(timing, DIVERGENCE_COLUMNS)
        divergence(summary, check_out_file(out))
    else:
        summary = load_summary(timing)
        figure3(summary, check_out_file(out), unit=unit)
    click.echo(f"wrote {out}")
