"""The one unit table and number grammar of every quantity a user writes (``"50ms"``, ``"5Mbps"``).

A leaf: :mod:`ns3_scenarios.network` (``--latency``), :mod:`ns3_scenarios.checks` (scenario
files) and the harness read durations and rates through it, so a unit means the same everywhere.
"""
from __future__ import annotations

import re

#: Seconds per duration unit.
DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}
#: Bits per second per rate unit.
RATE_UNITS = {"bps": 1.0, "kbps": 1e3, "Kbps": 1e3, "Mbps": 1e6, "Gbps": 1e9,
              "kbit/s": 1e3, "Mbit/s": 1e6, "Gbit/s": 1e9}
#: A decimal number as people write it (sign, exponent, inf and nan allowed, so each gets its own message).
NUMBER = r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|(?i:inf(?:inity)?|nan))"
_NUMBER_RE = re.compile(rf"^\s*{NUMBER}\s*$")
_QUANTITY_RE = re.compile(rf"^\s*({NUMBER})\s*([A-Za-z/]+)\s*$")


def is_bare_number(text: object) -> bool:
    """Whether ``text`` is a number without a unit (``"50"``), which is refused: it has no meaning."""
    return isinstance(text, str) and bool(_NUMBER_RE.match(text))


def quantity(text: object, units: dict[str, float]) -> float | None:
    """``text`` (``"<number><unit>"``, a unit of ``units``) in base units, or ``None`` if it is not one."""
    match = _QUANTITY_RE.match(text) if isinstance(text, str) else None
    if not match or match.group(2) not in units:
        return None
    return float(match.group(1)) * units[match.group(2)]


def unit_list(units: dict[str, float]) -> str:
    """The units of a table, for messages: ``us, ms, s, min, h``."""
    return ", ".join(units)
