"""The error a network scenario raises for input it refuses or a simulation that cannot finish."""
from __future__ import annotations

from fl_core.errors import NetbenchError


class ScenarioError(NetbenchError, ValueError):
    """A malformed network, latency, TCP config or transfer, or an ns-3 run that aborted or did not finish.

    Every message names the offending value, e.g.
    ``invalid network '1Mbps': expected UP/DOWN in Mbps, e.g. 1/5``.
    """
