"""``netbench table``: the paper's Table 1/2/3/4 shapes from runs and a timing CSV."""
from __future__ import annotations

from pathlib import Path

import click

__all__ = ["table"]

_PAPER_CAPTION = {
    "table1": "paper, Table 1 (Llama2-7B/13B, r = 16, 100 clients, 10 per round; millions of parameters)",
    "table2": "paper, Table 2 (Vicuna-7B, r = 8, federated DPO on UltraFeedback; millions of parameters)",
    "table3": "paper, Table 3 (FedIT w/ EcoLoRA, Llama2-7B, Dolly; time to ARC 66.5 at 1/5 Mbps)",
}


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--timing", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Timing CSV from replay/sweep, for time-to-target (Table 3).")
@click.option("--metric", default="eval_loss", show_default=True, help="eval.csv column for the target.")
@click.option("--target", type=float, default=None,
              help="Target value of --metric (loss: <=, accuracy: >=); communication is also counted up to "
                   "the first evaluated round that reaches it, as the paper counts to a stopping point.")
@click.option("--shape", type=click.Choice(["runs", "table1", "table2", "table3"]), default="runs",
              show_default=True, help="runs: every column per run; tableN: the paper's layout, with its columns.")
@click.option("--paper/--no-paper", default=True, show_default=True,
              help="With --shape tableN, also print the paper's own table below ours.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write a CSV here.")
def table(runs: tuple[Path, ...], timing: Path | None, metric: str, target: float | None, shape: str, paper: bool,
          out: Path | None) -> None:
    """Accuracy/loss and communication per run (whole run, and to --target); with --timing and
    --target, time to reach the target; --shape table1|table2|table3 for the paper's layouts."""
    import math

    from fl_core.rundir import atomic
    from fl_core.errors import NetbenchError
    from fl_core.rundir.reader import read_run
    from harness import paper as paper_tables
    from harness.table import communication_table, paper_shape, time_to_target, weights
    from harness.timing import read_timing

    if target is not None and not math.isfinite(target):
        raise NetbenchError(f"--target {target}: must be a finite number")
    records = [read_run(r) for r in runs]
    frame = communication_table(records, metric if target is not None else None, target)
    if timing is not None:
        if target is None:
            raise NetbenchError("--timing needs --target (the metric value to reach)")
        frame = time_to_target(records, read_timing(timing), metric, target)
    if out is not None:
        atomic.check_out_file(out)
    if shape != "runs":
        frame = paper_shape(records, shape, frame)
    fmt = lambda v: f"{v:.4g}"  # noqa: E731
    click.echo(frame.to_string(index=False, float_format=fmt))
    shapes = [r.name for r in records if weights(r) != "pretrained"]
    if shapes:
        click.echo(f"note: {', '.join(shapes)}: random-init weights (shape only); their bytes and step times are "
                   "the named model's, their losses and accuracies are not")
    if shape != "runs" and paper:
        theirs = {"table1": paper_tables.TABLE1, "table2": paper_tables.TABLE2, "table3": paper_tables.TABLE3}[shape]
        click.echo(f"\n{_PAPER_CAPTION[shape]}\n"
                   + theirs.to_string(index=False, float_format=lambda v: f"{v:g}", na_rep="-"))
    if out is not None:
        atomic.write_frame(out, frame)
    if target is not None and "target_round" in frame and frame["target_round"].isna().all():
        side = "<=" if metric.endswith("loss") else ">="
        click.echo(f"note: no run reaches {metric} {side} {target:g} in any evaluated round "
                   f"(target_round is empty)", err=True)
