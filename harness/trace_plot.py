"""``netbench plot --kind trace``: what a capacity trace, a library trace or a scenario's links contain.

The rate over time of every capacity trace found, one panel per direction (uplink,
downlink; a bare trace file has one panel), with each trace's mean as a dashed line and
its outages (rate 0) shaded.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fl_core.errors import DataError
from ns3_scenarios import trace_library
from ns3_scenarios.links import CapacityTrace

PANELS = {"up": "uplink", "down": "downlink"}


def traces_of(source: str) -> dict[str, dict[str, CapacityTrace]]:
    """``{panel: {label: trace}}`` for a library trace (``trace/<name>``), a scenario (built-in name or TOML file),
    or a trace file (time/rate CSV or mahimahi)."""
    from harness.scenario import builtins as scenario_builtins
    from harness.scenario import load_scenario
    from ns3_scenarios.traces import read_trace

    if source in trace_library.names():
        entry = trace_library.get(source)
        return {PANELS[d]: {source: entry.trace(d)} for d in entry.measured}
    if source in scenario_builtins.names() or Path(source).suffix == ".toml":
        scenario = load_scenario(source)
        links = [scenario.network, *scenario.client_links.mix, *scenario.client_links.overrides.values()]
        panels: dict[str, dict[str, CapacityTrace]] = {}
        for link in links:
            for direction, panel in PANELS.items():
                trace = getattr(link, direction).trace
                if trace is not None:
                    panels.setdefault(panel, {}).setdefault(trace.source.rsplit(":", 1)[0] or "trace", trace)
        if not panels:
            raise DataError(f"scenario {source!r} has no capacity trace to plot")
        return {p: panels[p] for p in PANELS.values() if p in panels}
    if not Path(source).is_file():
        raise DataError(f"{source!r} is neither a library trace ({', '.join(trace_library.names())}), a scenario "
                        "nor a trace file")
    return {"trace": {Path(source).name: read_trace(source)}}


def _steps(trace: CapacityTrace) -> tuple[np.ndarray, np.ndarray]:
    times = np.append(np.asarray(trace.times_s), trace.period_s)
    mbps = np.asarray(trace.bps) / 1e6
    return times, np.append(mbps, mbps[-1])


def trace_figure(panels: dict[str, dict[str, CapacityTrace]], title: str) -> Figure:
    """One panel per direction: each trace's rate (Mbit/s) over one period, its mean dashed, outages shaded."""
    fig = Figure(figsize=(9, 2.4 * len(panels) + 0.6))
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (panel, traces) in zip(axes, panels.items()):
        for i, (label, trace) in enumerate(traces.items()):
            color = f"C{i % 10}"
            times, mbps = _steps(trace)
            ax.step(times, mbps, where="post", lw=0.8, color=color,
                    label=f"{label}: mean {trace.mean_bps / 1e6:.2f} Mbit/s")
            ax.axhline(trace.mean_bps / 1e6, color=color, ls="--", lw=0.8)
            ax.fill_between(times, 0, 1, where=mbps == 0, step="post", color=color, alpha=0.15,
                            transform=ax.get_xaxis_transform(), lw=0)
        ax.set_ylabel(f"{panel}\nMbit/s")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7, loc="upper right")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("trace time (s); shaded: outage (rate 0)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


__all__ = ["traces_of", "trace_figure"]
