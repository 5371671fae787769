"""Engines: the ways one synchronous round can be simulated, by name.

An engine turns a network and a round's transfers into per-client timings. ``ENGINES`` maps
a scenario's ``engine`` name to one; the harness never branches on the name. Every engine
runs in an ns-3 worker process (``simulate_round`` imports the bindings lazily), so this
module itself is light to import.

* ``isolated``: each client's flows on its own idle link, simulated once and cached on disk
  (:mod:`ns3_scenarios.flows`); no shared server link.
* ``star``: the whole round in one ns-3 simulation (:mod:`ns3_scenarios.star`), the only one
  with a shared server link.
* ``wifi``, ``lte`` (helper C's modules): radio access networks.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.network import Network
from ns3_scenarios.transfers import ClientTiming, ClientTransfer


@runtime_checkable
class Engine(Protocol):
    """What every engine provides (contract 2 in the team plan)."""

    name: str
    settings_type: type
    impairments: bool  # it simulates per-link impairments (loss, traces, queues, cross traffic, connection)
    server_link: bool  # it models a shared server link

    def simulate_round(self, network: Network, transfers: Sequence[ClientTransfer], *, seed: int,
                       settings: Any) -> list[ClientTiming]:
        """One :class:`ClientTiming` per transfer, in order. ``seed`` is the round's seed."""
        ...


@dataclass(frozen=True)
class NoSettings:
    """Settings of an engine that has none: the mapping must be empty."""

    @classmethod
    def from_mapping(cls, d: Mapping, where: str = "engine") -> NoSettings:
        if not isinstance(d, Mapping):
            raise ScenarioError(f"invalid {where} {d!r}: expected a table")
        if d:
            raise ScenarioError(f"unknown key {where}.{sorted(d)[0]}: this engine takes no settings")
        return cls()

    @classmethod
    def default(cls) -> NoSettings:
        return cls()

    def to_dict(self) -> dict:
        return {}


def _settings(engine: Engine, settings: Any) -> Any:
    if settings is None:
        return engine.settings_type.default()
    if not isinstance(settings, engine.settings_type):
        raise ScenarioError(f"engine {engine.name!r}: settings {settings!r} are not {engine.settings_type.__name__}")
    return settings


class FunctionEngine:
    """An engine without settings whose round is ``module.function(network, transfers, seed=seed)``."""

    settings_type = NoSettings
    impairments = True

    def __init__(self, name: str, module: str, function: str, doc: str, *, server_link: bool) -> None:
        self.name, self._module, self._function, self.__doc__ = name, module, function, doc
        self.server_link = server_link

    def simulate_round(self, network: Network, transfers: Sequence[ClientTransfer], *, seed: int = 0,
                       settings: Any = None) -> list[ClientTiming]:
        _settings(self, settings)
        simulate = getattr(importlib.import_module(self._module), self._function)
        return simulate(network, transfers, seed=seed)

    def __repr__(self) -> str:
        return f"<engine {self.name}: {self._module}.{self._function}>"


ENGINES: dict[str, Engine] = {}


def register(engine: Engine) -> Engine:
    """Add ``engine`` to :data:`ENGINES` under its name (a second engine with the same name is refused)."""
    if engine.name in ENGINES and ENGINES[engine.name] is not engine:
        raise ScenarioError(f"engine {engine.name!r} is registered twice")
    ENGINES[engine.name] = engine
    return engine


def get_engine(name: str) -> Engine:
    """The engine called ``name``; ``ScenarioError`` lists the known names otherwise."""
    try:
        return ENGINES[name]
    except (KeyError, TypeError):
        raise ScenarioError(f"unknown engine {name!r}: expected one of {', '.join(ENGINES)}") from None


register(FunctionEngine("isolated", "ns3_scenarios.flows", "isolated_round",
                        "Per-client flows on idle private links, each simulated once (cached in memory and on disk).",
                        server_link=False))
register(FunctionEngine("star", "ns3_scenarios.star", "simulate_round",
                        "The full star (optionally behind a shared server link) in one ns-3 simulation.",
                        server_link=True))

# Radio engines register themselves when their modules exist (helper C).
for _module in ("wifi", "lte"):
    try:
        __import__(f"{__name__}.{_module}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"{__name__}.{_module}":
            raise
