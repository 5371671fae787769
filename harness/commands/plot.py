"""``netbench plot``: Figure 3 (computation vs communication time per method and network)."""
from __future__ import annotations

from pathlib import Path

import click

__all__ = ["plot"]


@click.command()
@click.argument("timing", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("results/figure3.png"),
              show_default=True, help="Image file to write (PNG, PDF or SVG by suffix).")
@click.option("--unit", type=click.Choice(["auto", "hours", "minutes", "seconds"]), default="auto",
              show_default=True, help="Time unit of the y axis.")
def plot(timing: Path, out: Path, unit: str) -> None:
    """Stacked computation/communication bars per method, grouped by network, from a timing or summary CSV."""
    from harness.plot import figure3, load_summary

    figure3(load_summary(timing), out, unit=unit)
    click.echo(f"wrote {out}")
