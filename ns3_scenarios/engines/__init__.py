"""Engines: the ways one synchronous round can be simulated, by name; one module each.

An engine turns a network and a round's transfers into per-client timings. ``ENGINES`` maps
a scenario's ``engine`` name to one; the harness never branches on the name. Every engine
runs in an ns-3 worker process (the bindings are imported on the first simulation), so
this package is light to import.

* ``isolated`` (:mod:`.isolated`): each client's flows on its own idle link, simulated once
  and cached on disk; no shared server link.
* ``star`` (:mod:`.star`): the whole round in one ns-3 simulation, the only one with a
  shared server link.
* ``wifi`` (:mod:`.wifi`), ``lte`` (:mod:`.lte`): radio access networks, a round in one shared
  cell (what they share is in :mod:`.cell`).

Each module registers itself in :mod:`.registry`; importing this package imports them all.
"""
from __future__ import annotations

# each registers itself; in this order, which is the order ENGINES lists them in
from ns3_scenarios.engines import isolated, star, wifi, lte  # noqa: F401, I001
from ns3_scenarios.engines.registry import ENGINES, Engine, NoSettings, check_settings, get_engine, register

__all__ = ["ENGINES", "Engine", "NoSettings", "check_settings", "get_engine", "register"]
