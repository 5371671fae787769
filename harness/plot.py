"""Figure 3 of the paper, and a per-round timeline, from timing or summary tables.

Figure 3: for each network, one group of bars, one bar per method, computation time at
the bottom and communication time stacked on top (critical path, summed over rounds).
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from fl_core.rundir import atomic
from fl_core.errors import DataError
from harness.timing import CORE_TIMING_COLUMNS, check_columns, read_timing, summarize

FIGURE3_COLUMNS = ["scenario", "method", "up_mbps", "down_mbps", "computation_s", "communication_s"]
TIMELINE_COLUMNS = ["scenario", "run", "round", "client", "download_s", "compute_s", "upload_s"]
_UNITS = {"hours": 3600.0, "minutes": 60.0, "seconds": 1.0}


def load_summary(path: str | Path, required: list[str] | None = None) -> pd.DataFrame:
    """A summary table from a summary CSV, or computed from a timing CSV (it has ``round_s``)."""
    frame = read_timing(path)
    if "round_s" in frame.columns:
        check_columns(frame, CORE_TIMING_COLUMNS, f"timing table {path}")
        return summarize(frame)
    check_columns(frame, required or FIGURE3_COLUMNS, f"{path} (neither a timing nor a summary table)")
    return frame


def _unit(seconds: float, unit: str) -> str:
    if unit != "auto":
        if unit not in _UNITS:
            raise DataError(f"invalid unit {unit!r}: expected auto, {', '.join(_UNITS)}")
        return unit
    return "hours" if seconds >= 2 * 3600 else "minutes" if seconds >= 120 else "seconds"


def _scenario_label(scenario: str, sep: str = "\n") -> str:
    """``"1/5 20ms"`` -> ``"1/5 Mbps"`` + ``sep`` + ``"20ms"``: units on the rates, extras apart.

    A named scenario (``"wifi-home"``, a file's name) is shown as it is.
    """
    rates, _, extras = scenario.partition(" ")
    if not re.fullmatch(r"[0-9.]+/[0-9.]+", rates):
        return scenario
    return f"{rates} Mbps" + (f"{sep}{extras}" if extras else "")


def figure3_figure(summary: pd.DataFrame, unit: str = "auto", title: str | None = None) -> Figure:
    """The Figure-3 bars as a matplotlib ``Figure`` (runs of one method and network are averaged)."""
    check_columns(summary, FIGURE3_COLUMNS, "summary table")
    if summary.empty:
        raise DataError("summary table has no rows to plot")
    data = summary.groupby(["scenario", "method"], sort=False).agg(
        up=("up_mbps", "first"), down=("down_mbps", "first"),
        computation=("computation_s", "mean"), communication=("communication_s", "mean")).reset_index()
    scenarios = data.drop_duplicates("scenario").sort_values(["up", "down", "scenario"])["scenario"].tolist()
    methods = list(dict.fromkeys(data["method"]))
    unit = _unit(float((data["computation"] + data["communication"]).max()), unit)
    scale = _UNITS[unit]

    fig = Figure(figsize=(max(6.0, 1.6 * len(scenarios) + 0.35 * len(methods)), 4.2), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(methods)
    colors = [f"C{i % 10}" for i in range(len(methods))]
    for j, method in enumerate(methods):
        rows = data[data["method"] == method].set_index("scenario").reindex(scenarios)
        x = [i + (j - (len(methods) - 1) / 2) * width for i in range(len(scenarios))]
        comp = rows["computation"].fillna(0) / scale
        comm = rows["communication"].fillna(0) / scale
        ax.bar(x, comp, width, color=colors[j], edgecolor="black", linewidth=0.5)
        ax.bar(x, comm, width, bottom=comp, color=colors[j], alpha=0.45, hatch="//", edgecolor="black",
               linewidth=0.5)
    ax.set_xticks(range(len(scenarios)), [_scenario_label(s) for s in scenarios])
    ax.set_xlabel("network (uplink/downlink)")
    ax.set_ylabel(f"time ({unit})")
    handles = [Patch(facecolor=c, edgecolor="black", label=m) for m, c in zip(methods, colors)]
    handles += [Patch(facecolor="white", edgecolor="black", label="computation"),
                Patch(facecolor="white", edgecolor="black", hatch="//", label="communication")]
    ax.legend(handles=handles, fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title or "Computation and communication time per network")
    if "compute_source" in summary and summary["compute_source"].notna().any():
        sources = "; ".join(dict.fromkeys(summary["compute_source"].dropna().astype(str)))
        fig.suptitle(f"compute: {sources}", fontsize="x-small", wrap=True)
    return fig


def timeline_figure(timing: pd.DataFrame, scenario: str, run: str, round_idx: int) -> Figure:
    """One round of one run as a Gantt chart: download, compute and upload per client."""
    check_columns(timing, TIMELINE_COLUMNS, "timing table")
    rows = timing[(timing["scenario"] == scenario) & (timing["run"] == run) & (timing["round"] == round_idx)]
    if rows.empty:
        raise DataError(f"timing table has no round {round_idx} of run {run!r} on {scenario!r}")
    rows = rows.sort_values("client")
    fig = Figure(figsize=(7.0, 0.45 * len(rows) + 1.5), layout="constrained")
    ax = fig.add_subplot()
    phases = (("download", "C0"), ("compute", "C2"), ("upload", "C3"))
    for y, r in enumerate(rows.itertuples(index=False)):
        start = 0.0
        for phase, color in phases:
            length = getattr(r, f"{phase}_s")
            ax.broken_barh([(start, length)], (y - 0.35, 0.7), facecolors=color)
            start += length
    ax.set_yticks(range(len(rows)), [f"client {c}" for c in rows["client"]])
    ax.set_xlabel("simulated time in the round (s)")
    ax.legend(handles=[Patch(facecolor=c, label=p) for p, c in phases], fontsize="small", loc="upper left",
              bbox_to_anchor=(1.0, 1.0))
    ax.set_title(f"{run}, round {round_idx}, {_scenario_label(scenario, sep=', ')}")
    return fig


def save(fig: Figure, out: str | Path) -> Path:
    """Write ``fig`` atomically; the format follows the suffix (png, pdf, svg)."""
    out = Path(out)
    fmt = out.suffix.lstrip(".").lower() or "png"
    if fmt not in ("png", "pdf", "svg"):
        raise DataError(f"cannot write a figure as {out.name!r}: use .png, .pdf or .svg")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=150)
    atomic.write_bytes(out, buf.getvalue())
    return out


def figure3(summary: pd.DataFrame, out: str | Path, unit: str = "auto", title: str | None = None) -> Path:
    """Draw Figure 3 from ``summary`` and write it to ``out``."""
    return save(figure3_figure(summary, unit, title), out)


_FACTOR_RE = re.compile(r"^(?:.*/)?([A-Za-z][A-Za-z_-]*)=([-+0-9.eE]+)$")
DIVERGENCE_COLUMNS = ["scenario", "ns3_over_analytic", "ns3_over_theory", "ns3_over_plain"]
DIVERGENCE_RATIOS = {"ns3_over_analytic": "ns-3 / closed form", "ns3_over_theory": "ns-3 / theory (PFTK, trace)"}
#: What each factor's level means, for the axis labels; level 0 of loss, trace-cv and cross is the plain link.
FACTOR_LABELS = {"loss": "random loss rate", "burst": "mean loss burst at 1 % loss (packets)",
                 "trace-cv": "capacity trace coefficient of variation", "cross": "competing bulk TCP flows (uplink)",
                 "queue": "DropTail buffer under 1 bulk upload (packets)"}
_BASELINE_FACTORS = ("loss", "trace-cv", "cross")


def divergence_table(summary: pd.DataFrame, baseline: str = "1/5") -> pd.DataFrame:
    """One row per (factor, level): the mean over runs of ns-3 / closed form (and / theory, / size-rate).

    Factors and levels come from scenario names ``<factor>=<level>`` (the ``divergence/...``
    built-ins); the ``baseline`` scenario (the plain link they vary) is level 0 of loss,
    trace-cv and cross.
    """
    check_columns(summary, DIVERGENCE_COLUMNS, "summary table")
    rows = []
    for scenario, group in summary.groupby("scenario", sort=False):
        match = _FACTOR_RE.match(str(scenario))
        ratios = {c: group[c].mean() for c in (*DIVERGENCE_RATIOS, "ns3_over_plain")}
        if match:
            rows.append({"factor": match.group(1), "level": float(match.group(2)), "scenario": scenario, **ratios})
        elif scenario == baseline:
            rows += [{"factor": f, "level": 0.0, "scenario": scenario, **ratios} for f in _BASELINE_FACTORS]
    table = pd.DataFrame(rows, columns=["factor", "level", "scenario", *DIVERGENCE_RATIOS, "ns3_over_plain"])
    if table.empty or not (table["scenario"] != baseline).any():
        raise DataError("summary table has no scenario named <factor>=<level> (e.g. divergence/loss=0.01) to plot")
    return table.sort_values(["factor", "level"], key=lambda s: s.map(_factor_order) if s.name == "factor" else s,
                             ignore_index=True)


def _factor_order(factor: str) -> int:
    order = list(FACTOR_LABELS)
    return order.index(factor) if factor in order else len(order)


def divergence_figure(summary: pd.DataFrame, baseline: str = "1/5", title: str | None = None) -> Figure:
    """One panel per impairment factor: ns-3's communication time over the closed form's (and theory's).

    Levels sit at even spacing (their values label the ticks); the y axis is logarithmic.
    """
    table = divergence_table(summary, baseline)
    factors = list(dict.fromkeys(table["factor"]))
    fig = Figure(figsize=(2.9 * len(factors) + 1.6, 3.6), layout="constrained")
    axes = fig.subplots(1, len(factors), sharey=True, squeeze=False)[0]
    for ax, factor in zip(axes, factors):
        rows = table[table["factor"] == factor]
        x = range(len(rows))
        for (column, label), style in zip(DIVERGENCE_RATIOS.items(), ("o-", "s--")):
            ax.plot(x, rows[column], style, label=label)
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_xticks(x, [f"{v:g}" for v in rows["level"]])
        ax.set_xlabel(FACTOR_LABELS.get(factor, factor).replace(" (", "\n("), fontsize="small")
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("communication time ratio")
    axes[-1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(title or f"Where packet level matters: ns-3 over closed form, one impairment at a time ({baseline})")
    return fig


def divergence(summary: pd.DataFrame, out: str | Path, baseline: str = "1/5", title: str | None = None) -> Path:
    """Draw the divergence figure from ``summary`` and write it to ``out``."""
    return save(divergence_figure(summary, baseline, title), out)


def k_trajectories(runs) -> pd.DataFrame:
    """Per EcoLoRA run and round: k_A, k_B (Eq. 4, as sent) and the round's mean training loss."""
    frames = []
    for run in runs:
        r = run.rounds
        if "k_a" not in r or (r["k_a"] >= 1.0).all():
            continue
        per_round = r.groupby("round").agg(k_a=("k_a", "first"), k_b=("k_b", "first"), train_loss=("train_loss", "mean"))
        frames.append(per_round.reset_index().assign(run=run.name, objective=run.meta.get("objective", "sft")))
    if not frames:
        raise DataError("no EcoLoRA run with an adaptive k among the runs given")
    return pd.concat(frames, ignore_index=True)


def k_figure(runs) -> Figure:
    """k_A and k_B per round for each EcoLoRA run, beside the mean k the paper's tables imply
    (QA rows of Tables 1 and 4: 0.66–0.72; DPO, Table 2: 0.95), and the training loss driving them."""
    from harness.paper import implied_k_rows

    traj = k_trajectories(runs)
    implied = implied_k_rows()
    fig = Figure(figsize=(11, 4.2))
    ax_k, ax_loss = fig.subplots(1, 2)
    for i, (name, t) in enumerate(traj.groupby("run", sort=False)):
        colour = f"C{i}"
        ax_k.plot(t["round"], t["k_a"], color=colour, marker="o", label=f"{name} k_A")
        ax_k.plot(t["round"], t["k_b"], color=colour, marker="s", linestyle="--", label=f"{name} k_B")
        ax_loss.plot(t["round"], t["train_loss"], color=colour, marker="o", label=name)
    qa = implied[implied["table"] == "1"]["implied_k"]
    ax_k.axhspan(qa.min(), qa.max(), color="grey", alpha=0.25, label="paper QA rows, implied mean k")
    dpo = implied[implied["table"] == "2"]["implied_k"].iloc[0]
    ax_k.axhline(dpo, color="black", linestyle=":", label=f"paper DPO row, implied k = {dpo:.3f}")
    ax_k.set_xlabel("round")
    ax_k.set_ylabel("k (kept fraction)")
    ax_k.set_ylim(0.4, 1.0)
    ax_k.legend(fontsize="x-small")
    ax_k.set_title("Eq. 4 sparsity per round")
    ax_loss.set_xlabel("round")
    ax_loss.set_ylabel("mean training loss of the round")
    ax_loss.legend(fontsize="x-small")
    ax_loss.set_title("loss driving Eq. 4")
    fig.tight_layout()
    return fig
