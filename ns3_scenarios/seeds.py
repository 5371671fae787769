"""Seeds of the random streams a simulation draws from, derived so that results are reproducible and cacheable.

A round's seed (``Scenario.round_seed(run, round)``, from the scenario seed, run and round)
is split per client and per *direction*, a short name of what draws: ``"up"``/``"down"`` for
the loss process of that direction, ``"trace"`` for a client's starting offset in its
capacity traces, ``"cross"`` for its on/off sources. The derivation is a hash, so streams do
not depend on how many clients or flows were drawn before, nor on the process.
"""
from __future__ import annotations

import hashlib
import numbers

from ns3_scenarios.errors import ScenarioError

#: Seeds are in [0, 2**63): ns-3's RandomVariableStream takes a non-negative int64 stream index.
SEED_BITS = 63


def flow_seed(seed: int, client: int, direction: str) -> int:
    """A 63-bit seed for what ``client`` draws in ``direction`` during the round seeded ``seed``."""
    for value, what in ((seed, "seed"), (client, "client")):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ScenarioError(f"invalid {what} {value!r}: expected an integer")
    if not isinstance(direction, str) or not direction:
        raise ScenarioError(f"invalid direction {direction!r}: expected a name such as up or down")
    digest = hashlib.sha256(f"netbench-flow:{int(seed)}:{int(client)}:{direction}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - SEED_BITS)


def unit_draw(seed: int) -> float:
    """A number in [0, 1) determined by ``seed`` (e.g. a client's offset in its trace period)."""
    digest = hashlib.sha256(f"netbench-unit:{int(seed)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def trace_offset(seed: int, client: int) -> float:
    """The share of its trace period at which ``client`` enters its traces in the round seeded ``seed``."""
    return unit_draw(flow_seed(seed, client, "trace"))
