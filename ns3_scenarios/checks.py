"""One vocabulary for checking what a scenario says: numbers, probabilities, choices, rates, durations.

Each check returns the value in its canonical type or raises one ``ScenarioError`` line that
starts with ``where`` (the key in the scenario, ``wifi.tx_power_dbm``) and says what is
accepted. Units come from the one table in :mod:`ns3_scenarios.units`. The cell engines'
settings, the scenario dataclasses and the TOML reader all check through these.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.network import check_rate
from ns3_scenarios.units import DURATION_UNITS, RATE_UNITS, is_bare_number, quantity, unit_list


def number(value: object, where: str, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, integer: bool = False) -> float:
    """``value`` as a finite number within bounds (``int`` with ``integer``), else ``ScenarioError`` naming ``where``."""
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or (integer and not float(value).is_integer()):
        raise ScenarioError(f"{where}: invalid value {value!r}: expected {kind}")
    if not math.isfinite(value):
        raise ScenarioError(f"{where}: invalid value {value!r}: expected a finite number")
    if low is not None and (value <= low if low_open else value < low) or high is not None and value > high:
        lo = "" if low is None else (f"> {low:g}" if low_open else f">= {low:g}")
        hi = "" if high is None else f"<= {high:g}"
        rng = f"in [{low:g}, {high:g}]" if low is not None and high is not None and not low_open else \
            " and ".join(s for s in (lo, hi) if s)
        raise ScenarioError(f"{where}: invalid value {value!r}: must be {rng}")
    return int(value) if integer else float(value)


def probability(value: object, where: str) -> float:
    """A probability in [0, 1]."""
    return number(value, where, low=0.0, high=1.0)


def choice(value: object, where: str, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices`` (strings compared case-insensitively, numbers by value)."""
    for c in choices:
        if value == c or (isinstance(value, str) and isinstance(c, str) and value.lower() == c.lower()):
            return c
        if isinstance(c, (int, float)) and not isinstance(value, bool) and isinstance(value, numbers.Real) \
                and float(value) == float(c):
            return c
    known = ", ".join(f"{c:g}" if isinstance(c, float) else str(c) for c in choices)
    raise ScenarioError(f"{where}: unknown value {value!r}: expected one of {known}")


def rate(value: object, where: str) -> float:
    """A link rate in bit/s given as a number (1 kbit/s to 100 Gbit/s)."""
    try:
        return check_rate(value, "rate")  # type: ignore[arg-type]
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def parse_rate(value: Any, where: str) -> float:
    """A rate with its unit (``"5Mbps"``, ``"500kbps"``, ``"1Gbit/s"``) in bits per second."""
    units = unit_list(RATE_UNITS)
    if isinstance(value, bool) or isinstance(value, numbers.Real) or is_bare_number(value):
        raise ScenarioError(f"{where}: invalid rate {value!r}: give a unit ({units}), e.g. \"5Mbps\"")
    bps = quantity(value, RATE_UNITS)
    if bps is None:
        raise ScenarioError(f"{where}: invalid rate {value!r}: expected a number with a unit ({units}), "
                            "e.g. \"5Mbps\"")
    return rate(bps, where)


def parse_duration(value: Any, where: str, *, maximum: float | None = None) -> float:
    """A duration with its unit (``"50ms"``, ``"2s"``, ``"1.5min"``) in seconds, >= 0."""
    units = unit_list(DURATION_UNITS)
    if isinstance(value, bool) or isinstance(value, numbers.Real) or is_bare_number(value):
        raise ScenarioError(f"{where}: invalid duration {value!r}: give a unit ({units}), e.g. \"50ms\"")
    seconds = quantity(value, DURATION_UNITS)
    if seconds is None:
        raise ScenarioError(f"{where}: invalid duration {value!r}: expected a number with a unit ({units}), "
                            "e.g. \"50ms\"")
    if not math.isfinite(seconds) or seconds < 0:
        raise ScenarioError(f"{where}: invalid duration {value!r}: must be a finite number >= 0")
    if maximum is not None and seconds > maximum:
        raise ScenarioError(f"{where}: invalid duration {value!r}: must be <= {maximum:g} s")
    return seconds
