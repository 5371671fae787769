"""``netbench table``: the paper's Table 1/3/4 shapes from runs and a timing CSV."""
from __future__ import annotations

from pathlib import Path

import click

__all__ = ["table"]


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--timing", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Timing CSV from replay/sweep, for time-to-target (Table 3).")
@click.option("--metric", default="eval_loss", show_default=True, help="eval.csv column for the target.")
@click.option("--target", type=float, default=None, help="Target value of --metric (loss: <=, accuracy: >=).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write a CSV here.")
def table(runs: tuple[Path, ...], timing: Path | None, metric: str, target: float | None, out: Path | None) -> None:
    """Accuracy/loss and communication per run; with --timing and --target, time to reach the target."""
    import math

    from fl_core import atomic
    from fl_core.errors import NetbenchError
    from fl_core.rundir import read_run
    from harness.table import communication_table, time_to_target
    from harness.timing import read_timing

    if target is not None and not math.isfinite(target):
        raise NetbenchError(f"--target {target}: must be a finite number")
    records = [read_run(r) for r in runs]
    frame = communication_table(records)
    if timing is not None:
        if target is None:
            raise NetbenchError("--timing needs --target (the metric value to reach)")
        frame = time_to_target(records, read_timing(timing), metric, target)
    if out is not None:
        atomic.check_out_file(out)
    click.echo(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if out is not None:
        atomic.write_frame(out, frame)
