"""One object for everything a replay depends on: the :class:`Scenario`, and where scenarios come from.

A scenario names the default access link of every client (rates, latency, TCP config and,
per direction, its impairments), per-client links (explicit overrides, or a mixture drawn
with a seed), a per-client compute speed factor, the shared server link, the connection
model, the replay engine and its settings, the round policy (schedule, deadline,
over-selection, availability) and the seed that every random draw derives from.

It comes from a TOML file (:mod:`harness.scenario.toml`), a built-in name
(:mod:`harness.scenario.builtins`) or the command line's shorthand flags; all three give
the same object (:mod:`harness.scenario.spec`), and :meth:`Scenario.resolved` /
:attr:`Scenario.hash` name it in every timing row.
"""
from __future__ import annotations

from pathlib import Path

from harness.scenario import builtins as scenario_builtins, toml as scenario_toml
from harness.scenario.spec import (ClientLinks, ComputeSpeed, Scenario, as_scenario, engines, network_dict,
                                   parse_duration, parse_rate, probability)
from ns3_scenarios.errors import ScenarioError


def load_scenario(source: str | Path) -> Scenario:
    """A built-in scenario by name, or a TOML scenario file (see ``docs/NETWORK.md``)."""
    text = str(source)
    if isinstance(source, str) and text in scenario_builtins.names():
        return scenario_builtins.get(text)
    path = Path(source)
    if not path.is_file():
        known = ", ".join(scenario_builtins.names())
        raise ScenarioError(f"scenario {text!r}: no such file and no built-in of that name (built-ins: {known})")
    return scenario_toml.load_file(path)


__all__ = ["ClientLinks", "ComputeSpeed", "Scenario", "as_scenario", "engines", "load_scenario", "network_dict",
           "parse_duration", "parse_rate", "probability"]
