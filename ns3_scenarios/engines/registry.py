"""The engine registry: the protocol every replay engine follows, and the name -> engine map.

Each engine module in this package registers itself here when imported
(``register(MyEngine())``); :mod:`ns3_scenarios.engines` imports them all. A leaf
module, so an engine importing :func:`register` is no import cycle.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.network import Network
from ns3_scenarios.transfers import ClientTiming, ClientTransfer


@runtime_checkable
class Engine(Protocol):
    """What every engine provides: a name, a settings type and one verb."""

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
        """No settings: ``d`` must be an empty table."""
        if not isinstance(d, Mapping):
            raise ScenarioError(f"invalid {where} {d!r}: expected a table")
        if d:
            raise ScenarioError(f"unknown key {where}.{sorted(d)[0]}: this engine takes no settings")
        return cls()

    @classmethod
    def default(cls) -> NoSettings:
        """The only value."""
        return cls()

    def to_dict(self) -> dict:
        """No settings: an empty table."""
        return {}


def check_settings(engine: Engine, settings: Any) -> Any:
    """``settings`` for ``engine`` (``None``: its defaults); settings of another type are a ``ScenarioError``."""
    if settings is None:
        return engine.settings_type.default()
    if not isinstance(settings, engine.settings_type):
        raise ScenarioError(f"engine {engine.name!r}: settings {settings!r} are not {engine.settings_type.__name__}")
    return settings


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
