"""Capacity traces: read the community formats, or generate one with a stated, seeded model.

Two formats, told apart by their content (:func:`read_trace`):

* **time/rate CSV** (Pensieve-style, also whitespace-separated): one ``time_s, mbps`` pair a line,
  an optional header line (``time_s,mbps``), ``#`` comments. Times are shifted so the first is 0;
  the last rate lasts one more step (the last interval), then the trace repeats.
* **mahimahi** packet-delivery opportunities: one integer a line, the millisecond at which one
  1500-byte packet may be delivered (repeats = several packets in that millisecond); the trace
  repeats after its last timestamp. Read as the rate per ``bin_s`` window (default 0.5 s):
  ``opportunities x 1500 x 8 / bin_s``; an empty window is an outage.

The generator (:func:`generate_trace`) is a log-normal AR(1) process around a mean, because no
trace set is installable offline: ``x[k+1] = rho x[k] + sqrt(1 - rho^2) sigma e[k]`` with
``e ~ N(0, 1)``, ``sigma^2 = ln(1 + cv^2)``, rate ``mean x exp(x[k] - sigma^2 / 2)`` (so its
expectation is ``mean`` and its coefficient of variation ``cv``), held for ``step_s`` each.
"""
from __future__ import annotations

import math
import random
import re
from pathlib import Path

from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.links import MAX_TRACE_POINTS, MIN_TRACE_STEP_S, CapacityTrace

#: Bytes one mahimahi delivery opportunity carries.
MAHIMAHI_PACKET_BYTES = 1500
DEFAULT_BIN_S = 0.5
#: Rates below this (bits per second) are read as an outage: ns-3 would stall a frame for minutes.
MIN_TRACE_BPS = 1e3

_SPLIT = re.compile(r"[,\s;]+")


def _data_lines(text: str) -> list[tuple[int, list[str]]]:
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append((number, [f for f in _SPLIT.split(line) if f]))
    return lines


def _float(field: str) -> float | None:
    try:
        value = float(field)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_trace(path: str | Path, *, bin_s: float = DEFAULT_BIN_S) -> CapacityTrace:
    """The trace in ``path`` (time/rate CSV or mahimahi, detected); one ``ScenarioError`` per problem.

    The error names the file and, for a bad line, its number: missing file, empty trace,
    a malformed line, time not increasing, a negative rate.
    """
    path = Path(path)
    if isinstance(bin_s, bool) or not isinstance(bin_s, (int, float)) or not bin_s > 0:
        raise ScenarioError(f"invalid trace bin {bin_s!r}: expected seconds > 0")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not data
    except FileNotFoundError:
        raise ScenarioError(f"trace file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"trace file {path} cannot be read: {exc}") from None
    head = _data_lines(text[:4096])
    if head and len(head[0][1]) >= 2 and text.count("\n") > 2 * MAX_TRACE_POINTS:  # time/rate CSV: a point a line
        raise ScenarioError(f"trace file {path}: {text.count(chr(10)):,} lines; a time/rate trace has at most "
                            f"{MAX_TRACE_POINTS:,} points (resample it to coarser steps)")
    lines = _data_lines(text)
    if lines and len(lines[0][1]) >= 2 and any(_float(f) is None for f in lines[0][1]):
        lines = lines[1:]  # a header such as "time_s,mbps"
    if not lines:
        raise ScenarioError(f"trace file {path} is empty")
    if all(len(fields) == 1 for _, fields in lines):
        return _mahimahi(path, lines, float(bin_s))
    return _csv(path, lines)


def _csv(path: Path, lines: list[tuple[int, list[str]]]) -> CapacityTrace:
    times, rates = [], []
    for number, fields in lines:
        values = [_float(f) for f in fields]
        if len(fields) != 2 or None in values:
            raise ScenarioError(f"trace file {path} line {number}: expected 'time_s, mbps', got {' '.join(fields)!r}")
        t, mbps = values
        if mbps < 0:
            raise ScenarioError(f"trace file {path} line {number}: negative rate {mbps} Mbps")
        if times and t <= times[-1]:
            raise ScenarioError(f"trace file {path} line {number}: time {t} does not increase (previous {times[-1]})")
        times.append(t)
        rates.append(mbps * 1e6)
    start = times[0]
    times = [t - start for t in times]
    step = times[-1] - times[-2] if len(times) > 1 else 1.0
    return _trace(times, rates, times[-1] + step, path.name, path)


def _mahimahi(path: Path, lines: list[tuple[int, list[str]]], bin_s: float) -> CapacityTrace:
    stamps = []
    for number, (field,) in lines:
        if not re.fullmatch(r"\d+", field):
            raise ScenarioError(f"trace file {path} line {number}: expected a millisecond count, got {field!r}")
        ms = int(field)
        if stamps and ms < stamps[-1]:
            raise ScenarioError(f"trace file {path} line {number}: time {ms} ms goes back (previous {stamps[-1]})")
        stamps.append(ms)
    period = stamps[-1] / 1e3
    if period <= 0:
        raise ScenarioError(f"trace file {path}: its last timestamp must be > 0 ms")
    bins = max(1, math.ceil(period / bin_s - 1e-9))
    counts = [0] * bins
    for ms in stamps:
        counts[min(bins - 1, int(ms / 1e3 / bin_s))] += 1
    times = [i * bin_s for i in range(bins)]
    widths = [min(bin_s, period - t) for t in times]
    rates = [c * MAHIMAHI_PACKET_BYTES * 8 / w for c, w in zip(counts, widths)]
    return _trace(times, rates, period, path.name, path)


def _trace(times: list[float], bps: list[float], period: float, source: str, path: Path) -> CapacityTrace:
    bps = [0.0 if r < MIN_TRACE_BPS else r for r in bps]
    try:
        return CapacityTrace(tuple(times), tuple(bps), period, source)
    except ScenarioError as exc:
        raise ScenarioError(f"trace file {path}: {exc}") from None


def generate_trace(
    mean_bps: float,
    *,
    cv: float = 0.5,
    rho: float = 0.8,
    step_s: float = 1.0,
    duration_s: float = 600.0,
    seed: int = 0,
) -> CapacityTrace:
    """A log-normal AR(1) capacity trace (module doc): mean ``mean_bps``, variation ``cv``, lag-1 correlation ``rho``.

    The same arguments always give the same trace; ``source`` records them.
    """
    for value, what, low in ((mean_bps, "mean rate", 0.0), (step_s, "step_s", 0.0), (duration_s, "duration_s", 0.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= low:
            raise ScenarioError(f"invalid trace {what} {value!r}: expected a number > 0")
    if isinstance(cv, bool) or not isinstance(cv, (int, float)) or not 0 <= cv <= 10:
        raise ScenarioError(f"invalid trace cv {cv!r}: expected a number in [0, 10]")
    if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not 0 <= rho < 1:
        raise ScenarioError(f"invalid trace rho {rho!r}: expected a number in [0, 1)")
    if step_s < MIN_TRACE_STEP_S:
        raise ScenarioError(f"invalid trace step_s {step_s!r}: the finest step is {MIN_TRACE_STEP_S * 1e3:g} ms")
    steps = max(1, math.ceil(duration_s / step_s))
    if steps > MAX_TRACE_POINTS:
        raise ScenarioError(f"trace of {duration_s:g} s in steps of {step_s:g} s is {steps:,} points; at most "
                            f"{MAX_TRACE_POINTS:,} (use step_s >= {duration_s / MAX_TRACE_POINTS:g})")
    sigma = math.sqrt(math.log1p(cv * cv))
    rng = random.Random(f"netbench-trace:{seed}")
    x = rng.gauss(0.0, sigma)
    rates = []
    for _ in range(steps):
        rates.append(max(MIN_TRACE_BPS, mean_bps * math.exp(x - sigma * sigma / 2)))
        x = rho * x + math.sqrt(1 - rho * rho) * sigma * rng.gauss(0.0, 1.0)
    source = f"lognormal-ar1(mean={mean_bps / 1e6:g}Mbps,cv={cv:g},rho={rho:g},step={step_s:g}s,seed={seed})"
    return CapacityTrace(tuple(i * step_s for i in range(steps)), tuple(rates), steps * step_s, source)


def write_trace(trace: CapacityTrace, path: str | Path) -> Path:
    """Write ``trace`` as a time/rate CSV that :func:`read_trace` reads back (times and rates exactly)."""
    path = Path(path)
    rows = ["time_s,mbps"] + [f"{t!r},{r / 1e6!r}" for t, r in zip(trace.times_s, trace.bps)]
    path.write_text("\n".join(rows) + "\n")
    return path
