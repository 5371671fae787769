"""What the WiFi and LTE cell engines share: settings parsing, client placement, the round's flows.

A *cell* is a wireless access network that every participant of a round shares (one WiFi
channel, one LTE cell's resource blocks). The server sits behind a wired link whose one-way
delay is the scenario network's ``latency_s``; the network's up/down rates are not used
(the radio sets them), its TCP config is.

The round is the star's (``ns3_scenarios.engines.star``): at ``t0`` (after the cell has come up:
WiFi association, LTE attach) the server starts every download; a client that holds its
whole download computes for ``compute_s`` and then uploads. Reported times count from
``t0``. The simulation stops as soon as the last flow is complete, because a cell's
beacons and TTIs would otherwise keep the simulator busy until the stop time.
"""
from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ns3_scenarios import flowcache, simcore
from ns3_scenarios.checks import choice, number, rate  # noqa: F401  (the settings' parsers: cell.number, ...)
from ns3_scenarios.engines.registry import check_settings
from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.network import Network
from ns3_scenarios.seeds import flow_seed
from ns3_scenarios.transfers import ClientTiming, ClientTransfer, check_round, in_client_order, link_of

S = TypeVar("S")
C = TypeVar("C", bound="CellSettings")

_DOWN_PORT = 9
_UP_PORT_BASE = 10_000
#: Bytes per second the horizon assumes for the whole cell; far below any working cell.
_HORIZON_CELL_BPS = 0.5e6


# --- settings parsing -------------------------------------------------------------------------

def distances(value: object, where: str) -> tuple[tuple[int, float], ...]:
    """Given client distances in metres: a list (index = client id) or a mapping ``{client: metres}``."""
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, tuple) and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        items = list(value)  # already parsed: (client, metres) pairs
    elif isinstance(value, (list, tuple)):
        items = list(enumerate(value))
    else:
        raise ScenarioError(f"{where}: invalid value {value!r}: expected a list of metres or a table client = metres")
    out = {}
    for key, metres in items:
        try:
            client = int(key)
        except (TypeError, ValueError):
            raise ScenarioError(f"{where}: invalid client id {key!r}: expected an integer >= 0") from None
        if client < 0 or (isinstance(key, float) and not key.is_integer()):
            raise ScenarioError(f"{where}: invalid client id {key!r}: expected an integer >= 0")
        out[client] = number(metres, f"{where}[{client}]", low=0.0, low_open=True, high=100_000.0)
    return tuple(sorted(out.items()))


def from_mapping(cls: type[S], data: Mapping, where: str, parsers: Mapping[str, Callable[[object, str], Any]],
                 check: Callable[[dict, str], None] | None = None) -> S:
    """A ``cls`` settings object from ``data`` (missing keys take ``cls``'s defaults).

    Every key must be one of ``cls``'s fields; each value goes through its parser, which
    raises ``ScenarioError`` naming ``where.key``; ``check`` validates the combination.
    """
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{where}: expected a table of settings, got {data!r}")
    names = [f.name for f in fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        raise ScenarioError(f"{where}: unknown key {unknown[0]!r}: expected one of {', '.join(names)}")
    values = {k: parsers[k](v, f"{where}.{k}") if k in parsers else v for k, v in data.items()}
    defaults = cls.default()  # type: ignore[attr-defined]
    merged = {f.name: values.get(f.name, getattr(defaults, f.name)) for f in fields(cls)}
    if check is not None:
        check(merged, where)
    return cls(**merged)


def idle_gap(value: object, where: str) -> float | None:
    """Seconds an idle gap is compressed to (>= 0.1 s), or ``"off"`` / ``None`` to simulate it in full."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "off"):
        return None
    return number(value, where, low=0.1, high=3600)


class CellSettings:
    """What both cells' frozen settings dataclasses share: parsing, checks, placement, ``to_dict``.

    A subclass sets ``_where`` (its name in messages), ``_parsers`` (one per field) and may
    override ``_check_combination``. Every field is parsed again on construction, so a
    settings object built directly is as checked as one from a scenario file.
    """

    _where: ClassVar[str] = "cell"
    _parsers: ClassVar[Mapping[str, Callable[[object, str], Any]]] = {}

    @classmethod
    def default(cls: type[C]) -> C:
        return cls()

    @classmethod
    def from_mapping(cls: type[C], data: Mapping, where: str | None = None) -> C:
        """Settings from a scenario table; missing keys take the defaults."""
        return from_mapping(cls, data, where or cls._where, cls._parsers, cls._check)

    @classmethod
    def _check(cls, values: dict, where: str) -> None:
        for key, parse in cls._parsers.items():
            values[key] = parse(values[key], f"{where}.{key}")
        if values["min_distance_m"] > values["max_distance_m"]:
            raise ScenarioError(f"{where}.min_distance_m: {values['min_distance_m']:g} m exceeds max_distance_m "
                                f"{values['max_distance_m']:g} m")
        cls._check_combination(values, where)

    @classmethod
    def _check_combination(cls, values: dict, where: str) -> None:
        """Checks across fields beyond the distance range (none by default)."""

    def __post_init__(self) -> None:
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        self._check(values, self._where)
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def to_dict(self) -> dict:
        """The settings as JSON-able plain data (distances as ``{client: metres}`` with string keys)."""
        out = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = {str(c): m for c, m in value} if f.name == "distances_m" else value
        return out

    def distance_of(self, client: int) -> float:
        """Client ``client``'s distance from the AP / eNB in metres."""
        return client_distance(client, self.distances_m, self.min_distance_m,  # type: ignore[attr-defined]
                               self.max_distance_m, self.placement_seed)  # type: ignore[attr-defined]


# --- placement ---------------------------------------------------------------------------------

def client_distance(client: int, given: Sequence[tuple[int, float]], low: float, high: float, seed: int) -> float:
    """Client ``client``'s distance in metres: given, else drawn once per (placement seed, client).

    The draw is uniform over the ring ``low..high`` by area (a random point in the cell), so it
    is the same in every round and does not depend on who else takes part.
    """
    for c, metres in given:
        if c == client:
            return metres
    u = random.Random(f"netbench-cell:{seed}:{client}").random()
    return math.sqrt(low * low + u * (high * high - low * low))


def angle(client: int, seed: int) -> float:
    """A seeded bearing in radians for ``client`` (positions only matter through distance)."""
    return 2 * math.pi * random.Random(f"netbench-cell-angle:{seed}:{client}").random()


def place(sim: simcore.Simulation, anchor: Any, clients: Any, transfers: Sequence[ClientTransfer],
          settings: CellSettings) -> None:
    """Fixed positions: ``anchor`` (the AP / eNB node container) at the origin, client ``i`` at its distance."""
    ns = sim.ns
    positions = ns.CreateObject[ns.ListPositionAllocator]()
    positions.Add(ns.Vector(0.0, 0.0, 0.0))
    for t in transfers:
        r, a = settings.distance_of(int(t.client)), angle(int(t.client), settings.placement_seed)  # type: ignore
        positions.Add(ns.Vector(r * math.cos(a), r * math.sin(a), 0.0))
    mobility = ns.MobilityHelper()
    mobility.SetPositionAllocator(positions)
    mobility.SetMobilityModel("ns3::ConstantPositionMobilityModel")
    placed = ns.NodeContainer(anchor, clients)
    mobility.Install(placed)
    sim._keep.extend((positions, mobility, placed))


#: The cell engines' own code (paths in the package); a cell round's key also holds
#: :func:`ns3_scenarios.flowcache.version`, the code every simulation shares.
CELL_CODE = ("engines/cell.py", "engines/wifi.py", "engines/lte.py", "cpp/cell_schedule.h")


def disk_cache() -> flowcache.DiskCache:
    """This process's on-disk result cache (``$NETBENCH_FLOW_CACHE``, shared with the flow cache)."""
    return flowcache.disk()


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """12 hex digits of the cell engines' code (:data:`CELL_CODE`), part of every cached round's key."""
    return flowcache.code_digest(CELL_CODE)


def round_key(engine: str, network: Network, transfers: Sequence[ClientTransfer], seed: int, settings: Any) -> str:
    """The on-disk cache key of one cell round: everything its timings depend on.

    That is the cell's full settings, the network's latency and TCP config (a cell does not
    use the link rates), the round seed, each client's bytes and compute time, and the code.
    """
    spec = {
        "cell": engine, "code": code_version(), "settings": settings.to_dict(), "latency_s": network.latency_s,
        "tcp": network.tcp, "seed": int(seed),
        "transfers": [[int(t.client), int(t.downlink_bytes), float(t.compute_s), int(t.uplink_bytes)]
                      for t in transfers],
    }
    return flowcache.spec_key(spec)


class CellEngine:
    """A registry entry (:class:`~ns3_scenarios.engines.registry.Engine`) whose round is ``simulate(network, transfers, seed=, settings=)``.

    Whole rounds are cached on disk (``ns3_scenarios.flowcache``; ``$NETBENCH_FLOW_CACHE``),
    keyed by :func:`round_key`; a cached round needs no ns-3 at all. The round is simulated
    (and keyed) with its transfers in client order: stations, RNG streams and ports follow
    client id, not the order the caller listed the transfers in.
    """

    caches_rounds = True
    impairments = False  # the radio is the cell's impairment (check_cell_round)
    server_link = False  # the AP / PGW has its own wired link to the server

    def __init__(self, name: str, settings_type: type, simulate: Callable[..., list[ClientTiming]]) -> None:
        self.name, self.settings_type, self._simulate = name, settings_type, simulate
        self.__doc__ = simulate.__doc__

    def simulate_round(self, network: Network, transfers: Sequence[ClientTransfer], *, seed: int = 0,
                       settings: Any = None) -> list[ClientTiming]:
        settings = check_settings(self, settings)
        check_cell_round(network, transfers, self.name)
        return in_client_order(lambda ordered: self._cached(network, ordered, seed, settings), transfers)

    def _cached(self, network: Network, transfers: Sequence[ClientTransfer], seed: int,
                settings: Any) -> list[ClientTiming]:
        """One round of transfers in client order (stations, streams and the cache key follow it)."""
        cache = disk_cache()
        key = round_key(self.name, network, transfers, seed, settings) if cache.folder is not None else ""
        stored = cache.get(key) if key else None
        if stored is not None:
            return [ClientTiming(*row) for row in stored]
        timings = self._simulate(network, transfers, seed=seed, settings=settings)
        if key:
            cache.put(key, [[t.client, t.download_done_s, t.upload_start_s, t.upload_done_s] for t in timings])
        return timings

    def __repr__(self) -> str:
        return f"<engine {self.name}: {self._simulate.__module__}>"


# --- ns-3 globals ------------------------------------------------------------------------------

def attribute_default(path: str) -> str:
    """The current process-wide default of an ns-3 attribute (``"ns3::LteRlcUm::MaxTxBufferSize"``), as text."""
    return _initial_value(simcore.load(), path)


def _initial_value(ns: Any, path: str) -> str:
    type_name, attribute = path.rsplit("::", 1)
    ok, tid = ns.LookupByNameFailSafe(type_name)
    if not ok:
        raise ScenarioError(f"ns-3 has no type {type_name!r}")
    info = ns.TypeId.AttributeInformation()
    if not tid.LookupAttributeByName(attribute, info):
        raise ScenarioError(f"ns-3 type {type_name!r} has no attribute {attribute!r}")
    return str(info.initialValue.SerializeToString(info.checker))


@contextmanager
def defaults(ns: Any, values: Mapping[str, Any]) -> Iterator[None]:
    """Set ns-3 attribute defaults for one simulation and restore the previous ones afterwards."""
    saved = {path: _initial_value(ns, path) for path in values}
    try:
        for path, value in values.items():
            if not ns.Config.SetDefaultFailSafe(path, value):
                raise ScenarioError(f"ns-3 refused the default {path}")
        yield
    finally:
        for path, text in saved.items():
            ns.Config.SetDefaultFailSafe(path, ns.StringValue(text))


def check_cell_round(network: Network, transfers: Sequence[ClientTransfer], engine: str) -> None:
    """The star's checks, and no per-link impairments (a cell's radio is its impairment)."""
    check_round(network, transfers)
    for t in transfers:
        if link_of(network, t).impaired:
            raise ScenarioError(f"client {t.client}: link impairments (loss, traces, queues, cross traffic, "
                                f"connection) are not simulated in a {engine} cell")


@contextmanager
def rng_run(ns: Any, seed: int) -> Iterator[None]:
    """ns-3's global RNG run number derived from the round ``seed`` (restored afterwards).

    One stream serves the whole cell (backoff, rate sampling, HARQ errors): the clients share it.
    """
    old_seed, old_run = int(ns.RngSeedManager.GetSeed()), int(ns.RngSeedManager.GetRun())
    ns.RngSeedManager.SetSeed(1)
    ns.RngSeedManager.SetRun(flow_seed(seed, 0, "cell"))
    try:
        yield
    finally:
        ns.RngSeedManager.SetSeed(old_seed)
        ns.RngSeedManager.SetRun(old_run)


def horizon_s(transfers: Sequence[ClientTransfer], t0_s: float) -> float:
    """A generous stop time: every byte of the round at 0.5 Mbit/s, the longest compute, 2 minutes."""
    total = sum(int(t.downlink_bytes) + int(t.uplink_bytes) for t in transfers)
    return t0_s + 120.0 + max(float(t.compute_s) for t in transfers) + total * 8 / _HORIZON_CELL_BPS


# --- the round -----------------------------------------------------------------------------------

#: The scheduler helper in C++ (``netbench_cell::Schedule``).
SCHEDULE_HEADER = Path(__file__).parents[1] / "cpp" / "cell_schedule.h"

_scheduler: list[Any] = []


def _schedule(ns: Any, delay_ns: int, fn: Callable[[], None]) -> None:
    """Call ``fn`` (kept alive by the caller) ``delay_ns`` simulated nanoseconds from now."""
    if not _scheduler:
        ns.cppyy.include(str(SCHEDULE_HEADER))
        _scheduler.append(ns.cppyy.gbl.netbench_cell.Schedule)
    _scheduler[0](int(delay_ns), fn)


def run_round(sim: simcore.Simulation, server: Any, server_address: Any, clients: Sequence[Any],
              client_addresses: Sequence[Any], transfers: Sequence[ClientTransfer], t0_s: float,
              idle_gap_s: float | None = None) -> list[ClientTiming]:
    """Downloads at ``t0_s``, compute, uploads; one :class:`ClientTiming` per transfer (times from ``t0_s``).

    ``idle_gap_s``: when the last download completes before any upload has started, the
    cell is idle until the first upload. That common gap is simulated as ``idle_gap_s``
    (when longer) and every upload is shifted back by the difference in the report, so a
    round whose clients compute for 30 s does not spend 30 s of TTIs or beacons on an
    idle cell. ``None`` simulates the gap in full.

    The simulation stops when the last flow completes, or at :func:`horizon_s`, after which
    an unfinished flow is a ``ScenarioError``.
    """
    ns = sim.ns
    n = len(transfers)
    down_bytes = [int(t.downlink_bytes) for t in transfers]
    up_bytes = [int(t.uplink_bytes) for t in transfers]
    compute_ns = [simcore.nanoseconds(float(t.compute_s)) for t in transfers]
    t0_ns = simcore.nanoseconds(t0_s)
    horizon = horizon_s(transfers, t0_s)
    remaining = [sum(1 for i in range(n) if down_bytes[i] or up_bytes[i])]
    downloading = {i for i in range(n) if down_bytes[i]}
    due_ns: dict[int, int] = {}  # each upload's start in the uncompressed round (absolute ns)
    started: set[int] = set()
    state = {"shift_ns": 0, "generation": 0}

    def now_ns() -> int:
        return int(ns.Simulator.Now().GetNanoSeconds())

    def finished(_: int) -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            ns.Simulator.Stop()

    def launch(i: int, generation: int) -> None:
        if generation == state["generation"] and i not in started:
            started.add(i)
            sim.send(clients[i], server_address, _UP_PORT_BASE + i, up_bytes[i], 0)

    def plan(i: int) -> None:
        generation = state["generation"]

        def fire() -> None:
            launch(i, generation)
        sim._keep.append(fire)
        _schedule(ns, due_ns[i] - state["shift_ns"] - now_ns(), fire)

    def maybe_compress(now: int) -> None:
        waiting = [j for j in due_ns if j not in started]
        if idle_gap_s is None or started or not waiting:
            return
        gap = min(due_ns[j] for j in waiting) - now
        keep = simcore.nanoseconds(idle_gap_s)
        if gap > keep:
            state["shift_ns"], state["generation"] = gap - keep, state["generation"] + 1
            for j in waiting:
                plan(j)

    def downloaded(i: int) -> None:
        now = now_ns()
        downloading.discard(i)
        if up_bytes[i]:
            due_ns[i] = now + compute_ns[i]
            plan(i)
        else:
            finished(i)
        if not downloading:
            maybe_compress(now)

    downloads, uploads = {}, {}
    for i in range(n):
        if up_bytes[i]:
            uploads[i] = sim.sink(server, _UP_PORT_BASE + i, up_bytes[i], i, finished)
        if down_bytes[i]:
            downloads[i] = sim.sink(clients[i], _DOWN_PORT, down_bytes[i], i, downloaded)
            sim.send(server, client_addresses[i], _DOWN_PORT, down_bytes[i], t0_ns)
        elif up_bytes[i]:
            due_ns[i] = t0_ns + compute_ns[i]
            plan(i)
    if not downloading:
        maybe_compress(t0_ns)
    if remaining[0]:
        sim.run(horizon)

    shift_s = state["shift_ns"] / 1e9
    return simcore.round_timings(transfers, downloads, uploads, horizon, down_at=lambda s: s - t0_s,
                                 up_at=lambda s: s + shift_s - t0_s, digits=9)
