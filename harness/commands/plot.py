"""``netbench plot``: Figure 3 (computation vs communication time per method and network), the
ns-3 / closed-form divergence per impairment, the k schedule of EcoLoRA runs beside the k the
paper's tables imply (``--kind k``), or a capacity trace over time (``--kind trace``)."""
from __future__ import annotations

from pathlib import Path

import click

__all__ = ["plot"]


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Image file to write (PNG, PDF or SVG by suffix) [default: results/<kind>.png].")
@click.option("--kind", type=click.Choice(["figure3", "divergence", "k", "trace"]), default="figure3",
              show_default=True,
              help="figure3: computation/communication bars; divergence: ns-3 over the closed form per impairment "
                   "(scenarios named <factor>=<level>, e.g. the divergence/... built-ins); both read one timing or "
                   "summary CSV. k: EcoLoRA's k_A/k_B per round of the run directories given, beside the paper's "
                   "implied k. trace: the rate over time (uplink, downlink) of one library trace (trace/<name>), "
                   "scenario (built-in or file) or trace file.")
@click.option("--unit", type=click.Choice(["auto", "hours", "minutes", "seconds"]), default="auto",
              show_default=True, help="Time unit of the y axis.")
def plot(inputs: tuple[Path, ...], out: Path | None, kind: str, unit: str) -> None:
    """Stacked computation/communication bars per method, grouped by network, from a timing or summary CSV
    (or, with --kind divergence, ns-3 / closed form across impairments; --kind k, the k schedule of runs)."""
    from fl_core.rundir import atomic
    from fl_core.rundir.atomic import check_out_file
    from fl_core.errors import NetbenchError
    from harness.plot import (DIVERGENCE_COLUMNS, divergence, divergence_table, figure3, k_figure, load_summary,
                              save)

    out = out or Path("results") / f"{kind}.png"
    if kind == "trace":
        from harness.trace_plot import trace_figure, traces_of

        if len(inputs) != 1:
            raise NetbenchError(f"--kind trace draws exactly one trace, scenario or trace file, got {len(inputs)}")
        source = str(inputs[0])
        save(trace_figure(traces_of(source), source), check_out_file(out))
        click.echo(f"wrote {out}")
        return
    if kind == "k":
        from fl_core.rundir.reader import read_run

        save(k_figure([read_run(p) for p in inputs]), check_out_file(out))
        click.echo(f"wrote {out}")
        return
    if len(inputs) != 1:
        raise NetbenchError(f"--kind {kind} reads exactly one timing or summary CSV, got {len(inputs)} paths")
    if kind == "divergence":
        summary = load_summary(inputs[0], DIVERGENCE_COLUMNS)
        divergence(summary, check_out_file(out))
        table = divergence_table(summary)
        atomic.write_frame(out.with_suffix(".csv"), table)
        click.echo(table.to_string(index=False, float_format="{:.3f}".format))
        click.echo(f"wrote {out.with_suffix('.csv')}")
    else:
        figure3(load_summary(inputs[0]), check_out_file(out), unit=unit)
    click.echo(f"wrote {out}")
