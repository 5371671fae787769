"""Figure 3 of the paper, and a per-round timeline, from timing or summary tables.

Figure 3: for each network, one group of bars, one bar per method, computation time at
the bottom and communication time stacked on top (critical path, summed over rounds).
"""
from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from fl_core import atomic
from fl_core.errors import DataError
from harness.timing import TIMING_COLUMNS, check_columns, read_timing, summarize

FIGURE3_COLUMNS = ["scenario", "method", "up_mbps", "down_mbps", "computation_s", "communication_s"]
TIMELINE_COLUMNS = ["scenario", "run", "round", "client", "download_s", "compute_s", "upload_s"]
_UNITS = {"hours": 3600.0, "minutes": 60.0, "seconds": 1.0}


def load_summary(path: str | Path) -> pd.DataFrame:
    """A summary table from a summary CSV, or computed from a timing CSV (it has ``round_s``)."""
    frame = read_timing(path)
    if "round_s" in frame.columns:
        check_columns(frame, TIMING_COLUMNS, f"timing table {path}")
        return summarize(frame)
    check_columns(frame, FIGURE3_COLUMNS, f"{path} (neither a timing nor a summary table)")
    return frame


def _unit(seconds: float, unit: str) -> str:
    if unit != "auto":
        if unit not in _UNITS:
            raise DataError(f"invalid unit {unit!r}: expected auto, {', '.join(_UNITS)}")
        return unit
    return "hours" if seconds >= 2 * 3600 else "minutes" if seconds >= 120 else "seconds"


def _scenario_label(scenario: str, sep: str = "\n") -> str:
    """``"1/5 20ms"`` -> ``"1/5 Mbps"`` + ``sep`` + ``"20ms"``: units on the rates, extras apart."""
    rates, _, extras = scenario.partition(" ")
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
