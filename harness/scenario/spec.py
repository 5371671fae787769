"""The :class:`Scenario` object and its parts (links per client, compute speed), without file formats.

A scenario names the default access link of every client (rates, latency, TCP config and,
per direction, its impairments), per-client links (explicit overrides, or a mixture drawn
with a seed), a per-client compute speed factor, the shared server link, the connection
model, the replay engine and its settings, the round policy (schedule, deadline,
over-selection, availability) and the seed that every random draw derives from.

It comes from a TOML file, from a built-in name (:mod:`harness.scenario.builtins`) or from
the command line's shorthand flags (``--network 1/5 --latency 20ms --loss 0.01``); all
three give the same object, and :meth:`Scenario.resolved` / :attr:`Scenario.hash` name it
in every timing row. The file format is in ``docs/NETWORK.md``; every mistake is one
:class:`~ns3_scenarios.errors.ScenarioError` naming the file and the key.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import numbers
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ns3_scenarios.checks import number as check_number
from ns3_scenarios.checks import parse_duration, parse_rate, probability
from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.links import CapacityTrace
from ns3_scenarios.network import Network, check_rate, heterogeneous_links

#: Schedules a scenario may name (``fl_core.schedules.SCHEDULES`` once it exists).
_SCHEDULES_FALLBACK = ("sync", "fedbuff", "deadline")
_BASE_NETWORK_FIELDS = ("up_bps", "down_bps", "latency_s", "tcp", "server_link_bps")

# --------------------------------------------------------------------------------------------- parts

@dataclass(frozen=True)
class ComputeSpeed:
    """How a client's recorded compute time is scaled: a fixed ``scale`` times a per-client factor.

    The per-client factor is drawn, seeded by (scenario seed, client), from ``mixture``
    (``(weight, factor)`` pairs) or from a log-normal with median 1 and ``lognormal_sigma``;
    ``overrides`` pins it for given clients. ``scale=None`` (and nothing else) is the
    recorded time itself (``compute_source`` ``recorded``).
    """

    scale: float | None = None
    mixture: tuple[tuple[float, float], ...] = ()
    lognormal_sigma: float = 0.0
    overrides: Mapping[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scale is not None:
            object.__setattr__(self, "scale", check_number(self.scale, "compute.scale", low=0.0, low_open=True))
        mixture = tuple((float(w), float(f)) for w, f in self.mixture)
        for i, (w, f) in enumerate(mixture):
            check_number(w, f"compute.mixture[{i}].weight", low=0.0, low_open=True)
            check_number(f, f"compute.mixture[{i}].factor", low=0.0, low_open=True)
        object.__setattr__(self, "mixture", mixture)
        object.__setattr__(self, "lognormal_sigma", check_number(self.lognormal_sigma, "compute.lognormal_sigma", low=0.0))
        if mixture and self.lognormal_sigma:
            raise ScenarioError("compute: give either a mixture or lognormal_sigma, not both")
        object.__setattr__(self, "overrides", {int(c): check_number(f, f"clients[{c}].compute", low=0.0, low_open=True)
                                               for c, f in dict(self.overrides).items()})

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    @property
    def varies(self) -> bool:
        return bool(self.mixture or self.lognormal_sigma or self.overrides)

    def factor(self, client: int, seed: int) -> float:
        """Client ``client``'s multiplier on its recorded compute time (the same for every round)."""
        base = 1.0 if self.scale is None else self.scale
        if client in self.overrides:
            return base * self.overrides[client]
        if not (self.mixture or self.lognormal_sigma):
            return base
        rng = random.Random(f"compute\0{seed}\0{client}")
        if self.mixture:
            weights, factors = zip(*self.mixture)
            return base * rng.choices(factors, weights)[0]
        return base * math.exp(rng.gauss(0.0, self.lognormal_sigma))

    @property
    def source(self) -> str:
        """The ``compute_source`` label of timing rows: ``recorded``, ``recorded x0.5``, ``recorded x mix(...)``."""
        parts = [] if self.scale is None else [f"x{self.scale:g}"]
        if self.mixture:
            parts.append("x mix(" + ",".join(f"{w:g}:{f:g}" for w, f in self.mixture) + ")")
        if self.lognormal_sigma:
            parts.append(f"x lognormal({self.lognormal_sigma:g})")
        if self.overrides:
            parts.append(f"x per-client({len(self.overrides)})")
        return " ".join(["recorded", *parts])

    def to_dict(self) -> dict:
        return {"scale": self.scale, "mixture": [list(m) for m in self.mixture],
                "lognormal_sigma": self.lognormal_sigma,
                "overrides": {str(c): f for c, f in sorted(self.overrides.items())}}


@dataclass(frozen=True)
class ClientLinks:
    """Per-client links: explicit ``overrides`` first, else a draw from ``mix``, else the default link.

    ``draw="cycle"`` gives client ``c`` ``mix[c % len(mix)]``; ``draw="random"`` draws client
    ``c``'s link as the ``c``-th draw of ``random.Random(seed)`` (uniform, as
    :func:`ns3_scenarios.network.heterogeneous_links`, or with ``weights``).
    """

    mix: tuple[Network, ...] = ()
    weights: tuple[float, ...] | None = None
    draw: str = "cycle"
    seed: int | None = None
    overrides: Mapping[int, Network] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mix", tuple(self.mix))
        if self.draw not in ("cycle", "random"):
            raise ScenarioError(f"links.draw: invalid value {self.draw!r}: expected cycle or random")
        if self.weights is not None:
            weights = tuple(check_number(w, f"links.choice[{i}].weight", low=0.0, low_open=True)
                            for i, w in enumerate(self.weights))
            if len(weights) != len(self.mix):
                raise ScenarioError("links: one weight per link choice")
            object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "overrides", {int(c): n for c, n in dict(self.overrides).items()})

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __bool__(self) -> bool:
        return bool(self.mix or self.overrides)

    def of(self, client: int) -> Network | None:
        """Client ``client``'s own link, or ``None`` for the scenario's default."""
        if client in self.overrides:
            return self.overrides[client]
        if not self.mix:
            return None
        if self.draw == "cycle":
            return self.mix[client % len(self.mix)]
        n = 1 << max(4, client.bit_length())  # draws come in powers of two, cached
        return _draw_links(self.mix, self.weights, self.seed, n)[client]

    def to_dict(self) -> dict:
        return {"mix": [network_dict(n) for n in self.mix], "weights": list(self.weights) if self.weights else None,
                "draw": self.draw, "seed": self.seed,
                "overrides": {str(c): network_dict(n) for c, n in sorted(self.overrides.items())}}


@functools.lru_cache(maxsize=64)
def _draw_links(mix: tuple[Network, ...], weights: tuple[float, ...] | None, seed: int | None,
                n: int) -> tuple[Network, ...]:
    """The first ``n`` seeded draws from ``mix``: uniform as :func:`heterogeneous_links`, or weighted."""
    if weights is None:
        return tuple(heterogeneous_links(n, list(mix), seed if seed is not None else 0))
    rng = random.Random(seed)
    return tuple(rng.choices(mix, weights)[0] for _ in range(n))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _trace_digests(value: Any) -> Any:
    """``value`` (JSON-able data) with every capacity trace's points replaced by its summary and digest."""
    if isinstance(value, Mapping):
        if set(value) == {"source", "period_s", "times_s", "bps"}:
            return CapacityTrace.from_dict(value).summary_dict()
        return {k: _trace_digests(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trace_digests(v) for v in value]
    return value


def network_dict(network: Network) -> dict:
    """A :class:`Network` as JSON-able data: the five base fields, plus every impairment that is set.

    Fields at their default are left out, so a plain network hashes the same before and
    after ``Network`` gained its optional impairment fields.
    """
    out = {name: getattr(network, name) for name in _BASE_NETWORK_FIELDS}
    for f in dataclasses.fields(network):
        if f.name in _BASE_NETWORK_FIELDS:
            continue
        value = getattr(network, f.name)
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
        if value != default:
            out[f.name] = _jsonable(value)
    return out


# --------------------------------------------------------------------------------------------- scenario

@dataclass(frozen=True, eq=False)
class Scenario:
    """Everything a replay (or a deadline schedule's arrival times) depends on; see the module doc."""

    name: str
    network: Network
    client_links: ClientLinks | Mapping[int, Network] = field(default_factory=ClientLinks)
    compute: ComputeSpeed = field(default_factory=ComputeSpeed)
    engine: str = "isolated"
    engine_settings: Any = None
    schedule: str = "sync"
    deadline_s: float | None = None
    over_selection: float = 1.0
    availability: float = 1.0
    seed: int = 0
    description: str = ""
    #: a ``harness.compute_profile.ComputeProfile`` whose step times replace the recorded ones
    compute_profile: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ScenarioError(f"name: invalid scenario name {self.name!r}: expected a non-empty string")
        if not isinstance(self.network, Network):
            raise ScenarioError(f"link: invalid network {self.network!r}: expected a Network")
        links = self.client_links
        if isinstance(links, Mapping):
            links = ClientLinks(overrides=links)
        if not isinstance(links, ClientLinks):
            raise ScenarioError(f"clients: invalid client links {links!r}: expected a mapping or ClientLinks")
        for net in [*links.mix, *links.overrides.values()]:
            if net.tcp != self.network.tcp:
                raise ScenarioError(f"links: TCP config {net.tcp!r} differs from the default link's "
                                    f"{self.network.tcp!r}; ns-3 applies one TCP config per simulation")
        object.__setattr__(self, "client_links", links)
        check_number(self.seed, "seed", low=0, integer=True)
        if self.engine not in engines():
            raise ScenarioError(f"engine.name: unknown engine {self.engine!r}: expected one of "
                                f"{', '.join(engines())}")
        self._check_engine_fits()
        if self.schedule not in _schedules():
            raise ScenarioError(f"round.schedule: unknown schedule {self.schedule!r}: expected one of "
                                f"{', '.join(_schedules())}")
        if self.deadline_s is not None:
            object.__setattr__(self, "deadline_s", check_number(self.deadline_s, "round.deadline", low=0.0,
                                                           low_open=True))
        object.__setattr__(self, "over_selection", check_number(self.over_selection, "round.over_selection", low=1.0))
        object.__setattr__(self, "availability", probability(self.availability, "round.availability"))
        if self.availability == 0:
            raise ScenarioError("round.availability: 0 means no invited client is ever available, so no round "
                                "could aggregate anything; give a probability > 0")

    def _check_engine_fits(self) -> None:
        """Refuse links the engine cannot simulate, at load (``--check``), not at the first round."""
        engine = engines()[self.engine]
        if self.network.server_link_bps is not None and not engine.server_link:
            raise ScenarioError(f"engine.name: the {self.engine} engine cannot model a shared server link "
                                "(server.link); use the star engine")
        if engine.impairments:
            return
        links = [("the default link", self.network)]
        links += [(f"links.choice[{i}]", net) for i, net in enumerate(self.client_links.mix)]
        links += [(f"client {c}'s link", net) for c, net in sorted(self.client_links.overrides.items())]
        for what, net in links:
            if net.impaired:
                raise ScenarioError(f"engine.name: the {self.engine} engine does not simulate link impairments "
                                    f"(loss, traces, queues, cross traffic, connection) of {what}")

    # -- identity ----------------------------------------------------------------------------------
    def resolved(self) -> dict:
        """The full spec as JSON-able data (what :attr:`hash` covers, plus name and description)."""
        settings = self.engine_settings
        return {
            "name": self.name, "description": self.description, "seed": self.seed,
            "network": network_dict(self.network),
            "client_links": self.client_links.to_dict(),
            "compute": self.compute.to_dict(),
            "engine": {"name": self.engine, "settings": _jsonable(settings) if settings is not None else {}},
            "round": {"schedule": self.schedule, "deadline_s": self.deadline_s,
                      "over_selection": self.over_selection, "availability": self.availability},
            **({"compute_profile": self.compute_profile.to_dict()} if self.compute_profile is not None else {}),
        }

    def recorded(self) -> dict:
        """What ``scenario.json``/``scenarios.json`` keep: :meth:`resolved` with each capacity trace as its
        digest (source, period, points, mean rate, sha256), not its points."""
        return _trace_digests(self.resolved())

    @property
    def hash(self) -> str:
        """12 hex digits of the sha256 of the canonical JSON of :meth:`resolved`, without name and description."""
        spec = {k: v for k, v in self.resolved().items() if k not in ("name", "description")}
        return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:12]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scenario) and self.resolved() == other.resolved()

    def __hash__(self) -> int:
        return hash((self.name, self.hash))

    # -- per client --------------------------------------------------------------------------------
    def link_of(self, client: int) -> Network:
        """Client ``client``'s network (its override or draw, else the default link)."""
        return self.client_links.of(int(client)) or self.network

    def own_link(self, client: int) -> Network | None:
        """Client ``client``'s network when it differs from the default link's, else ``None``."""
        return self.client_links.of(int(client))

    def compute_factor(self, client: int) -> float:
        """The factor on client ``client``'s measured compute time."""
        return self.compute.factor(int(client), self.seed)

    def round_seed(self, run_name: str, round_idx: int) -> int:
        """The seed of one round of one run: 31 bits of sha256(scenario seed, run, round)."""
        digest = hashlib.sha256(f"{self.seed}\0{run_name}\0{int(round_idx)}".encode()).digest()
        return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF

    def dispatch_seed(self, run_name: str, dispatch: int, client: int) -> int:
        """The seed of one FedBuff dispatch of one client: 31 bits of sha256(scenario seed, run, dispatch, client)."""
        digest = hashlib.sha256(f"{self.seed}\0{run_name}\0dispatch\0{int(dispatch)}\0{int(client)}".encode()).digest()
        return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF

    @property
    def compute_source(self) -> str:
        return self.compute.source

    def with_(self, **changes) -> Scenario:
        return dataclasses.replace(self, **changes)

    def prepare(self, transfers: Sequence) -> list:
        """``transfers`` with each client's own link and its compute factor applied (what an engine gets)."""
        out = []
        for t in transfers:
            factor = self.compute_factor(t.client)
            out.append(dataclasses.replace(
                t, compute_s=float(t.compute_s) * factor,
                network=t.network if t.network is not None else self.own_link(t.client)))
        return out

    # -- constructors ------------------------------------------------------------------------------
    @classmethod
    def from_network(cls, network: Network, *, name: str | None = None, compute_scale: float | None = None,
                     exact_star: bool = False, client_links: Mapping[int, Network] | ClientLinks | None = None,
                     **fields: Any) -> Scenario:
        """The scenario the shorthand flags describe (``--network``, ``--compute-scale``, ``--exact-star`` ...)."""
        if compute_scale is not None and (isinstance(compute_scale, bool) or not isinstance(compute_scale, numbers.Real)
                                          or not math.isfinite(compute_scale) or compute_scale <= 0):
            from fl_core.errors import ConfigError

            raise ConfigError(f"invalid compute scale {compute_scale!r}: expected a finite number > 0")
        engine = "star" if exact_star or network.server_link_bps is not None else "isolated"
        return cls(name=name or network.label, network=network, client_links=client_links or ClientLinks(),
                   compute=ComputeSpeed(scale=compute_scale), engine=fields.pop("engine", engine), **fields)


def engines() -> Mapping[str, Any]:
    """The replay engines by name (``ns3_scenarios.engines.ENGINES``)."""
    from ns3_scenarios.engines import ENGINES

    return ENGINES


def _schedules() -> tuple[str, ...]:
    try:
        from fl_core.schedules import SCHEDULES
    except ImportError:
        return _SCHEDULES_FALLBACK
    return tuple(SCHEDULES)


def as_scenario(value: Scenario | Network, *, name: str | None = None, compute_scale: float | None = None,
                exact_star: bool = False, client_links: Mapping[int, Network] | None = None) -> Scenario:
    """``value`` if it is a :class:`Scenario` (no shorthand allowed then), else the shorthand scenario of a network."""
    if isinstance(value, Scenario):
        if compute_scale is not None or exact_star or client_links:
            raise ScenarioError("give either a Scenario or the shorthand options (compute_scale, exact_star, "
                                "client_links), not both")
        return value.with_(name=name) if name else value
    if not isinstance(value, Network):
        raise ScenarioError(f"invalid scenario {value!r}: expected a Scenario or a Network")
    return Scenario.from_network(value, name=name, compute_scale=compute_scale, exact_star=exact_star,
                                 client_links=client_links)


__all__ = ["ClientLinks", "ComputeSpeed", "Scenario", "as_scenario", "check_number", "engines", "network_dict",
           "parse_duration", "parse_rate", "probability"]
