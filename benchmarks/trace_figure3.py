"""Figure 3 on measured networks: runs swept through every ``trace/...`` built-in (and the four presets).

    python benchmarks/trace_figure3.py runs/demo/fedit runs/demo/fedit+ecolora --out results/trace_sweep

writes the sweep (``OUT/timing.csv``, ``OUT/summary.csv``), the per-trace table
``OUT/trace_table.csv`` and the figure ``OUT/trace_figure3.png``. Per scenario and method the
table holds ns-3's communication time (critical path, summed over rounds), the closed form at
the trace's mean rate (``analytic``: what a constant preset of that mean would predict), the
trace-integral theory, EcoLoRA's saving in total and communication time against the first
non-EcoLoRA method, and two things a measured link does that a constant one cannot:

* ``outage_rounds``: the share of rounds whose critical client's transfers overlapped an outage
  second (rate 0) of its own traces, in the data or the ACK direction, at its seeded trace clock;
* ``spread``: the mean over rounds of the last client's communication time over the median
  client's (1 = every client equally fast).
"""
from __future__ import annotations

import argparse
import bisect
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.scenario import traces as scenario_traces  # noqa: E402
from harness.scenario import load_scenario  # noqa: E402
from harness.sweep import run_sweep  # noqa: E402
from ns3_scenarios.network import PRESETS  # noqa: E402
from ns3_scenarios.seeds import flow_seed, unit_draw  # noqa: E402


def _outage_overlap(trace, clock_s: float, span_s: float) -> bool:
    """Whether ``trace`` has a zero-rate step within trace time ``[clock_s, clock_s + span_s]`` (wrapping)."""
    if trace is None or span_s <= 0:
        return False
    edges = (*trace.times_s, trace.period_s)
    t, left = clock_s % trace.period_s, span_s
    while left > 0:
        i = bisect.bisect_right(trace.times_s, t) - 1
        if trace.bps[i] == 0:
            return True
        left -= edges[i + 1] - t
        t = edges[i + 1] % trace.period_s
    return False


def round_effects(timing: pd.DataFrame, scenarios: dict) -> pd.DataFrame:
    """Per (scenario, run, round): whether the critical client met an outage, and the spread of client times."""
    rows = []
    for (name, run, rnd), t in timing.groupby(["scenario", "run", "round"], sort=False):
        scenario = scenarios[name]
        crit = t[t["client"] == t["critical_client"]].iloc[0]
        link = scenario.link_of(int(crit["client"]))
        offset = unit_draw(flow_seed(scenario.round_seed(run, int(rnd)), int(crit["client"]), "trace"))
        up, down = link.up.trace, link.down.trace
        clock = {d: offset * tr.period_s for d, tr in (("up", up), ("down", down)) if tr is not None}
        start_up = crit["download_s"] + crit["compute_s"]
        hit = any([
            _outage_overlap(down, clock.get("down", 0.0), crit["download_s"]),
            _outage_overlap(up, clock.get("up", 0.0), crit["download_s"]),  # the download's ACKs
            _outage_overlap(up, clock.get("up", 0.0) + start_up, crit["upload_s"]),
            _outage_overlap(down, clock.get("down", 0.0) + start_up, crit["upload_s"]),  # the upload's ACKs
        ])
        comm = t["download_s"] + t["upload_s"]
        rows.append({"scenario": name, "run": run, "round": rnd, "outage": hit, "spread": comm.max() / comm.median()})
    return pd.DataFrame(rows)


def trace_table(summary: pd.DataFrame, effects: pd.DataFrame) -> pd.DataFrame:
    """One row per (scenario, method): ns-3 vs closed form at the mean vs trace integral, EcoLoRA's saving."""
    eff = effects.groupby(["scenario", "run"]).agg(outage_rounds=("outage", "mean"), spread=("spread", "mean"))
    table = summary.merge(eff, left_on=["scenario", "run"], right_index=True)
    table = table[["scenario", "method", "up_mbps", "down_mbps", "total_s", "computation_s", "communication_s",
                   "analytic_communication_s", "theory_communication_s", "ns3_over_analytic", "ns3_over_theory",
                   "outage_rounds", "spread"]].copy()
    base = table[~table["method"].str.contains("ecolora")].drop_duplicates("scenario").set_index("scenario")
    for column in ("total_s", "communication_s"):
        table[f"eco_saving_{column.removesuffix('_s')}"] = np.where(
            table["method"].str.contains("ecolora"), 1 - table[column] / table["scenario"].map(base[column]), np.nan)
    return table


def figure(table: pd.DataFrame, out: Path) -> None:
    """Stacked computation/communication bars per scenario and method, with the two references as markers."""
    from matplotlib.figure import Figure

    from harness.plot import save

    scenarios = list(dict.fromkeys(table["scenario"]))
    methods = list(dict.fromkeys(table["method"]))
    width = 0.8 / len(methods)
    fig = Figure(figsize=(max(10, 0.9 * len(scenarios)) + 2.5, 5.2))
    ax = fig.subplots()
    for j, method in enumerate(methods):
        m = table[table["method"] == method].set_index("scenario").reindex(scenarios)
        x = np.arange(len(scenarios)) + (j - (len(methods) - 1) / 2) * width
        comp, comm = m["computation_s"] / 60, m["communication_s"] / 60
        ax.bar(x, comp, width, color="0.75", edgecolor="black", lw=0.4, label="computation" if j == 0 else None)
        ax.bar(x, comm, width, bottom=comp, color=f"C{j}", edgecolor="black", lw=0.4,
               label=f"{method}: communication (ns-3)")
        ax.scatter(x, comp + m["analytic_communication_s"] / 60, marker="_", s=120, color="black", zorder=3,
                   label="closed form at the mean rate" if j == 0 else None)
        ax.scatter(x, comp + m["theory_communication_s"] / 60, marker="x", s=25, color="red", zorder=3,
                   label="trace-integral theory" if j == 0 else None)
    ax.set_xticks(np.arange(len(scenarios)), [s.removeprefix("trace/") for s in scenarios], rotation=35,
                  ha="right", fontsize=8)
    presets = sum(1 for name in scenarios if not name.startswith("trace/"))
    if 0 < presets < len(scenarios):
        ax.axvline(presets - 0.5, color="0.4", lw=0.8, ls=":")
        for text, align in (("presets  ", "right"), ("  measured traces", "left")):
            ax.text(presets - 0.5, 0.98, text, ha=align, va="top", fontsize=7, transform=ax.get_xaxis_transform())
    ax.set_ylabel("time over all rounds (minutes)")
    ax.set_title("Computation vs communication on measured networks (mahimahi traces) and the presets", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save(fig, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("results/trace_sweep"))
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    names = [*PRESETS, *scenario_traces.names()]
    scenarios = {n: load_scenario(n) for n in names}
    result = run_sweep(args.runs, list(scenarios.values()), args.out, jobs=args.jobs)
    table = trace_table(result.summary, round_effects(result.timing, scenarios))
    table.to_csv(args.out / "trace_table.csv", index=False)
    figure(table, args.out / "trace_figure3.png")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table.round(3).to_string(index=False))
    print(f"wrote {args.out / 'trace_table.csv'} and {args.out / 'trace_figure3.png'}")


if __name__ == "__main__":
    main()
