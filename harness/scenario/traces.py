"""Built-in scenarios on measured networks: ``trace/<name>`` for every library trace, and mixes of them.

``trace/<name>`` puts the library trace's measured uplink on the uplink and its measured
downlink on the downlink (:func:`harness.scenario.toml.trace_link`), 50 ms one way (the
Saturator traces carry capacity, not delay), Linux TCP; the link's nominal rates are the
traces' means, so ``analytic_*`` is the closed form at the mean rate and ``theory_*`` the
trace integral. Where only the downlink was measured the uplink is constant at a fifth of
the downlink's mean (the presets' 1:5 ratio) and the description says so. A mix gives every
client its own seeded choice of the traces its globs match (``[links] traces = [...]``).
"""
from __future__ import annotations

from harness.scenario.spec import Scenario
from ns3_scenarios import trace_library

LATENCY = "50ms"
#: name -> (globs over the library, description)
MIXES: dict[str, tuple[tuple[str, ...], str]] = {
    "trace/us-lte-mix": (("trace/*-lte-*",), "every client draws one of the measured US LTE traces (seeded)"),
    "trace/us-3g-mix": (("trace/*-umts-*", "trace/*-evdo-*"),
                        "every client draws one of the measured US 3G traces, UMTS or EV-DO (seeded)"),
}


def names() -> list[str]:
    """Every built-in scenario on measured traces."""
    return [*trace_library.names(), *MIXES]


def _description(entry: trace_library.MeasuredTrace) -> str:
    text = f"measured {entry.summary()}; {entry.source['source']} ({entry.source['licence']}), {LATENCY}"
    if "up" not in entry.measured:
        text += (f"; uplink not measured: constant {entry.mean_bps('up') / 1e6:.3g} Mbit/s "
                 f"({trace_library.UNMEASURED_UPLINK_SHARE:g} x the downlink mean)")
    return text


def get(name: str) -> Scenario:
    """The built-in scenario ``name`` (one of :func:`names`)."""
    from harness.scenario.toml import from_mapping, trace_link

    if name in MIXES:
        globs, description = MIXES[name]
        first = trace_library.match(globs)[0]
        plain = {k: v for k, v in trace_link(first).items() if k in ("up", "down")}
        doc = {"description": f"{description}; [link] = {first}'s mean rates without its traces",
               "seed": 1, "link": {**plain, "latency": LATENCY}, "links": {"traces": list(globs)}}
    else:
        entry = trace_library.get(name)
        doc = {"description": _description(entry), "seed": 1, "link": {**trace_link(name), "latency": LATENCY}}
    return from_mapping(doc, name=name, origin=f"built-in scenario {name!r}")


__all__ = ["LATENCY", "MIXES", "get", "names"]
