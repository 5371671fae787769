"""The shipped library of measured capacity traces: ``trace/<name>``, each with its provenance and licence.

The data lives in ``ns3_scenarios/trace_data/`` (package data, read offline): one
``time_s,mbps`` CSV per measured direction (rate per 1 s window, derived from the upstream
files by ``benchmarks/build_trace_library.py``) and ``index.json`` naming, for every trace,
the upstream repository, commit, path and git blob id, its licence and citation, what was
measured (direction, technology, mobility) and the statistics of each direction (duration,
mean, p10/p50/p90, outage share). docs/DATA.md lists them; docs/NETWORK.md shows them in use.

A trace read from the library carries ``source = "trace/<name>:<up|down>"``, so any resolved
scenario names the library traces it uses (:func:`provenance_of`).
"""
from __future__ import annotations

import dataclasses
import fnmatch
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.links import CapacityTrace

DATA = Path(__file__).with_name("trace_data")
PREFIX = "trace/"
DIRECTION_NAMES = {"up": "uplink", "down": "downlink"}
#: Where only the downlink was measured, the uplink is a constant link at this share of the downlink's mean
#: (the 1:5 up/down ratio of the paper's presets), without a trace.
UNMEASURED_UPLINK_SHARE = 0.2


@dataclass(frozen=True)
class MeasuredTrace:
    """One library entry: what was measured, where it comes from, and the statistics of each direction."""

    name: str
    operator: str
    technology: str
    mobility: str
    note: str
    source: Mapping[str, Any]
    directions: Mapping[str, Mapping[str, Any]]

    @property
    def id(self) -> str:
        return PREFIX + self.name

    @property
    def measured(self) -> tuple[str, ...]:
        return tuple(d for d in DIRECTION_NAMES if d in self.directions)

    def mean_bps(self, direction: str) -> float:
        """The measured mean rate of ``direction``; an unmeasured uplink is the stated share of the downlink's."""
        if direction in self.directions:
            return float(self.directions[direction]["mean_mbps"]) * 1e6
        if direction == "up" and "down" in self.directions:
            return UNMEASURED_UPLINK_SHARE * self.mean_bps("down")
        raise ScenarioError(f"{self.id}: no {DIRECTION_NAMES[direction]} was measured")

    def trace(self, direction: str) -> CapacityTrace:
        """The measured capacity trace of ``direction`` (``"up"``/``"down"``)."""
        if direction not in DIRECTION_NAMES:
            raise ScenarioError(f"{self.id}: invalid direction {direction!r}: expected up or down")
        if direction not in self.directions:
            only = ", ".join(DIRECTION_NAMES[d] for d in self.measured)
            raise ScenarioError(f"{self.id} has no {DIRECTION_NAMES[direction]} trace: only the {only} was measured")
        return _read(self.name, direction, self.directions[direction]["file"])

    def provenance(self) -> dict:
        """What ``netbench scenarios --show`` prints: source, licence, citation, and per direction its statistics."""
        return {"operator": self.operator, "technology": self.technology, "mobility": self.mobility,
                "note": self.note, "measured": list(self.measured), **dict(self.source),
                "directions": {d: dict(v) for d, v in self.directions.items()}}

    def summary(self) -> str:
        """One line: technology, mobility, and mean/outage of each measured direction."""
        parts = [f"{DIRECTION_NAMES[d]} {s['mean_mbps']:.2f} Mbit/s mean, {100 * s['outage_share']:.1f} % outage s"
                 for d, s in ((d, self.directions[d]) for d in self.measured)]
        return f"{self.operator} {self.technology}, {self.mobility}: " + "; ".join(parts)


@functools.lru_cache(maxsize=1)
def _index() -> dict:
    try:
        return json.loads((DATA / "index.json").read_text())
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"the trace library index {DATA / 'index.json'} cannot be read: {exc}") from None


@functools.lru_cache(maxsize=None)
def _read(name: str, direction: str, file: str) -> CapacityTrace:
    from ns3_scenarios.traces import read_trace

    return dataclasses.replace(read_trace(DATA / file), source=f"{PREFIX}{name}:{direction}")


def names() -> list[str]:
    """Every library trace, as ``trace/<name>``."""
    return [PREFIX + n for n in _index()["traces"]]


def get(name: str) -> MeasuredTrace:
    """The library entry ``trace/<name>`` (``ScenarioError`` naming the known ones if there is none)."""
    index = _index()
    key = name.removeprefix(PREFIX) if isinstance(name, str) and name.startswith(PREFIX) else None
    if key not in index["traces"]:
        raise ScenarioError(f"unknown library trace {name!r}: expected one of {', '.join(names())}")
    entry = index["traces"][key]
    source = {**index["sources"][entry["source"]], "source": entry["source"]}
    return MeasuredTrace(key, entry["operator"], entry["technology"], entry["mobility"], entry["note"], source,
                         entry["directions"])


def match(patterns: Iterable[str], where: str = "traces") -> list[str]:
    """The library traces matching any of ``patterns`` (shell globs on ``trace/<name>``), in library order."""
    patterns = list(patterns)
    for i, pattern in enumerate(patterns):
        if not isinstance(pattern, str) or not pattern.startswith(PREFIX):
            raise ScenarioError(f"{where}[{i}]: invalid pattern {pattern!r}: expected a library trace or glob such "
                                f"as \"trace/*-lte-*\" (library: {', '.join(names())})")
        if not fnmatch.filter(names(), pattern):
            raise ScenarioError(f"{where}[{i}]: {pattern!r} matches no library trace (library: {', '.join(names())})")
    return [n for n in names() if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def provenance_of(spec: Any) -> dict:
    """The library entries a resolved scenario (JSON-able data) uses, by ``trace/<name>``, with their provenance."""
    found: dict[str, dict] = {}

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            source = value.get("source")
            if isinstance(source, str) and source.startswith(PREFIX) and "bps" in value:
                name = source.rsplit(":", 1)[0]
                found.setdefault(name, get(name).provenance())
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(spec)
    return dict(sorted(found.items()))


__all__ = ["DATA", "PREFIX", "UNMEASURED_UPLINK_SHARE", "MeasuredTrace", "get", "match", "names", "provenance_of"]
