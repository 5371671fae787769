"""Isolated TCP flows, each simulated once in ns-3 and cached, composed into rounds.

When every client has its own link to the server (no shared server link), the flows of
a round do not interact: a client's download is one TCP flow over its link, its upload
another one that starts after its compute time. A round is then the composition of
single-flow completion times, and a flow with the same resolved spec (:class:`FlowSpec`:
bytes, rates, latency, TCP, and any impairment with its random seed and trace position)
need only be simulated once. ``tests/test_network_sim.py`` checks this against the full star.

Speed: results are cached in memory and on disk (:mod:`ns3_scenarios.flowcache`), and the
uncached flows of a round's downloads (then of its uploads) run together in one ns-3
simulation, each on its own pair of nodes, which gives the same times as separate runs
(``tests/test_impairments.py``) at a fraction of the set-up cost.

A client whose link carries cross traffic or a persistent connection is not a set of
independent flows: its whole round is simulated as a one-client star (also cached).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ns3_scenarios import flowcache, simcore
from ns3_scenarios.engines import star
from ns3_scenarios.engines.registry import NoSettings, check_settings, register
from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.links import NONE, Impairments, Queue
from ns3_scenarios.network import DEFAULT_TCP, Network, check_latency, check_rate
from ns3_scenarios.seeds import flow_seed, trace_offset
from ns3_scenarios.tcp import get_config
from ns3_scenarios.transfers import ClientTiming, ClientTransfer, check_message_bytes, check_round, link_of

_PORT = 9
#: Most flows one batched simulation holds (bounds its memory and the cost of one failure).
BATCH_MAX = 64
#: A batch closes once it holds this many data segments: batching amortises the ~1.5 ms set-up
#: of small flows (1.2x less CPU for 40 flows of 50 kB), but many long flows at once make each
#: event dearer (0.67x for 40 flows of 0.5 MB in one simulation; benchmarks/replay_bench.py).
BATCH_SEGMENTS = 1000
_CACHE: dict[str, float] = {}


@dataclass(frozen=True)
class FlowSpec:
    """Everything that decides one TCP transfer's completion time on an otherwise idle link.

    ``data``/``ack`` impair the data and the ACK direction, seeded ``data_seed``/``ack_seed``;
    their traces are entered at trace time ``data_phase_s``/``ack_phase_s``.
    """

    nbytes: int
    data_bps: float
    ack_bps: float
    latency_s: float
    tcp: str = DEFAULT_TCP
    data: Impairments = NONE
    ack: Impairments = NONE
    queue: Queue | None = None
    tls: bool = False
    data_seed: int = 0
    ack_seed: int = 0
    data_phase_s: float = 0.0
    ack_phase_s: float = 0.0
    receiver_is_tls_client: bool = False  # with TLS: a download (the client says ClientHello)

    def resolved(self) -> dict:
        """The spec as JSON, leaving out seeds and phases that cannot matter (no loss, no trace)."""
        d = {"nbytes": self.nbytes, "data_bps": self.data_bps, "ack_bps": self.ack_bps,
             "latency_s": self.latency_s, "tcp": self.tcp}
        for name in ("data", "ack"):
            imp: Impairments = getattr(self, name)
            if imp.loss is not None:
                d[f"{name}_loss"] = imp.loss.to_dict()
                d[f"{name}_seed"] = getattr(self, f"{name}_seed")
            if imp.trace is not None:
                d[f"{name}_trace"] = imp.trace.to_dict()
                d[f"{name}_phase_s"] = getattr(self, f"{name}_phase_s") % imp.trace.period_s
        if self.queue is not None:
            d["queue"] = self.queue.to_dict()
        if self.tls:
            d["tls"] = True
            if self.receiver_is_tls_client:
                d["receiver_is_tls_client"] = True
        return d

    @property
    def horizon_s(self) -> float:
        rate = min([self.data_bps] + ([r for r in self.data.trace.bps if r > 0] if self.data.trace else []))
        return simcore.horizon_s(self.nbytes, rate) + (self.data.trace.period_s if self.data.trace else 0.0)


def flow_time(
    nbytes: int, rate_bps: float, latency_s: float, tcp: str = DEFAULT_TCP, reverse_bps: float | None = None
) -> float:
    """Completion time in simulated seconds of one TCP transfer of ``nbytes`` on an idle link.

    Counted from the sender's start, so the handshake is included, to the moment the
    receiving application has the last byte. ``rate_bps`` shapes the data direction,
    ``reverse_bps`` (default: the same) the ACK direction. Results are cached.
    """
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
        raise ScenarioError(f"invalid byte count {nbytes!r}: expected an integer >= 0")
    check_message_bytes(nbytes, "flow of")
    rate = check_rate(rate_bps, "rate")
    reverse = rate if reverse_bps is None else check_rate(reverse_bps, "reverse rate")
    latency = check_latency(latency_s)
    get_config(tcp)
    if nbytes == 0:
        return 0.0
    return flow_times([FlowSpec(nbytes, rate, reverse, latency, tcp)])[0]


def flow_times(specs: Sequence[FlowSpec], *, batch: bool = True) -> list[float]:
    """Completion times of ``specs`` (each > 0 bytes): from memory, disk, or ns-3.

    The ones not cached run together in simulations of one TCP config and a bounded size
    (:data:`BATCH_MAX`, :data:`BATCH_SEGMENTS`), or one simulation each with ``batch=False``.
    """
    disk = flowcache.disk()
    keys = [flowcache.spec_key(s.resolved()) for s in specs]
    missing: dict[str, FlowSpec] = {}
    for key, spec in zip(keys, specs):
        if key in _CACHE or key in missing:
            continue
        stored = disk.get(key)
        if isinstance(stored, float):
            _CACHE[key] = stored
        else:
            missing[key] = spec
    groups: dict[str, list[tuple[str, FlowSpec]]] = {}
    for key, spec in missing.items():
        groups.setdefault(spec.tcp, []).append((key, spec))
    for group in groups.values():
        for chunk in _batches(group, batch):
            for (key, _), seconds in zip(chunk, simulate_flows([s for _, s in chunk])):
                _CACHE[key] = seconds
                disk.put(key, seconds)
    return [_CACHE[key] for key in keys]


def _batches(group: list[tuple[str, FlowSpec]], batch: bool) -> list[list[tuple[str, FlowSpec]]]:
    """``group`` cut into simulations of at most :data:`BATCH_MAX` flows and about :data:`BATCH_SEGMENTS` segments."""
    if not batch:
        return [[item] for item in group]
    chunks: list[list[tuple[str, FlowSpec]]] = []
    segments = 0
    for item in group:
        size = item[1].nbytes / 1448 + 1
        if not chunks or len(chunks[-1]) >= BATCH_MAX or segments + size > BATCH_SEGMENTS:
            chunks.append([])
            segments = 0
        chunks[-1].append(item)
        segments += size
    return chunks


def simulate_flows(specs: Sequence[FlowSpec]) -> list[float]:
    """Run ``specs`` (one TCP config) in one ns-3 simulation, each on its own node pair; no cache."""
    if not specs:
        return []
    tcp = specs[0].tcp
    if any(s.tcp != tcp for s in specs):
        raise ScenarioError("one simulation runs one TCP config")
    horizon = max(s.horizon_s for s in specs)
    unbounded = any(s.data.trace is not None or s.ack.trace is not None for s in specs)
    stop_after = len(specs) if unbounded or len(specs) > 1 else 0
    with simcore.Simulation(tcp, stop_after=stop_after) as sim:
        dones = [add_flow(sim, s, tag=i) for i, s in enumerate(specs)]
        sim.run(horizon)
        return [simcore.check_done(d, s.nbytes, f"flow at {s.data_bps / 1e6:g} Mbps", horizon)
                for d, s in zip(dones, specs)]


def add_flow(sim: simcore.Simulation, spec: FlowSpec, *, tag: int = 0) -> object:
    """``spec``'s flow in ``sim`` on its own node pair and link, starting at time 0; its ``FlowDone``."""
    if spec.nbytes <= 0:
        raise ScenarioError(f"a flow needs at least 1 byte, got {spec.nbytes}")
    nodes = sim.nodes(2)
    sender, receiver = nodes.Get(0), nodes.Get(1)
    interfaces = sim.link(sender, receiver, spec.data_bps, spec.ack_bps, spec.latency_s, queue=spec.queue,
                          a_sends=spec.data, b_sends=spec.ack, a_seed=spec.data_seed, b_seed=spec.ack_seed,
                          trace_phase_s=(spec.data_phase_s, spec.ack_phase_s))
    done, start = sim.message(sender, receiver, interfaces.GetAddress(1), _PORT, spec.nbytes, tag=tag, tls=spec.tls,
                              receiver_is_tls_client=spec.receiver_is_tls_client)
    start(0)
    return done


def _phase(imp: Impairments, offset: float, at_s: float) -> float:
    return 0.0 if imp.trace is None else offset * imp.trace.period_s + at_s


def _direction_spec(link: Network, nbytes: int, direction: str, client: int, seed: int, at_s: float) -> FlowSpec:
    """The flow of ``nbytes`` in ``direction`` ("up"/"down") starting at round time ``at_s``."""
    data, ack = (link.up, link.down) if direction == "up" else (link.down, link.up)
    data_bps, ack_bps = (link.up_bps, link.down_bps) if direction == "up" else (link.down_bps, link.up_bps)
    offset = trace_offset(seed, client)
    return FlowSpec(nbytes, data_bps, ack_bps, link.latency_s, link.tcp, data, ack, link.queue, link.connection.tls,
                    flow_seed(seed, client, direction), flow_seed(seed, client, f"{direction}/ack"),
                    _phase(data, offset, at_s), _phase(ack, offset, at_s), receiver_is_tls_client=direction == "down")


def _whole_client_round(link: Network, transfer: ClientTransfer, seed: int) -> ClientTiming:
    """A client whose flows interact (cross traffic, one persistent connection): a one-client star, cached."""
    spec = {"client_round": link.to_dict(), "client": int(transfer.client), "seed": int(seed),
            "down": int(transfer.downlink_bytes), "compute_s": float(transfer.compute_s),
            "up": int(transfer.uplink_bytes)}
    key = flowcache.spec_key(spec)
    disk = flowcache.disk()
    stored = disk.get(key)
    if isinstance(stored, list) and len(stored) == 3:
        return ClientTiming(int(transfer.client), *stored)
    (timing,) = star.simulate_round(link, [ClientTransfer(transfer.client, transfer.downlink_bytes, transfer.compute_s,
                                                     transfer.uplink_bytes)], seed=seed)
    disk.put(key, [timing.download_done_s, timing.upload_start_s, timing.upload_done_s])
    return timing


def isolated_round(network: Network, transfers: Sequence[ClientTransfer], *, seed: int = 0) -> list[ClientTiming]:
    """One synchronous round composed from cached isolated flows (no shared server link).

    Per client: download completion, + compute, + upload completion. Matches
    :func:`ns3_scenarios.engines.star.simulate_round` when a client's compute time outlasts its
    download's closing handshake (about one RTT), which is the case for real training.
    ``seed`` is the round's seed (random loss, trace offsets); see :mod:`ns3_scenarios.seeds`.
    """
    check_round(network, transfers)
    if network.server_link_bps is not None:
        raise ScenarioError("isolated flows cannot model a shared server link; simulate the full star")
    links = [link_of(network, t) for t in transfers]
    whole = {i for i, link in enumerate(links) if link.cross or link.connection.model != "per_message"}
    downs = {i: _direction_spec(links[i], int(t.downlink_bytes), "down", int(t.client), seed, 0.0)
             for i, t in enumerate(transfers) if i not in whole and t.downlink_bytes > 0}
    down_s = dict(zip(downs, flow_times(list(downs.values()))))
    starts = {i: down_s.get(i, 0.0) + float(t.compute_s) for i, t in enumerate(transfers) if i not in whole}
    ups = {i: _direction_spec(links[i], int(t.uplink_bytes), "up", int(t.client), seed, starts[i])
           for i, t in enumerate(transfers) if i not in whole and t.uplink_bytes > 0}
    up_s = dict(zip(ups, flow_times(list(ups.values()))))
    timings = []
    for i, t in enumerate(transfers):
        if i in whole:
            timings.append(_whole_client_round(links[i], t, seed))
            continue
        timings.append(ClientTiming(int(t.client), down_s.get(i, 0.0), starts[i], starts[i] + up_s.get(i, 0.0)))
    return timings


class IsolatedEngine:
    """Per-client flows on idle private links, each simulated once (cached in memory and on disk)."""

    name = "isolated"
    settings_type = NoSettings
    impairments = True
    server_link = False

    def simulate_round(self, network: Network, transfers: Sequence[ClientTransfer], *, seed: int = 0,
                       settings: NoSettings | None = None) -> list[ClientTiming]:
        """:func:`isolated_round` (this engine takes no settings)."""
        check_settings(self, settings)
        return isolated_round(network, transfers, seed=seed)

    def __repr__(self) -> str:
        return f"<engine {self.name}: {__name__}>"


ENGINE = register(IsolatedEngine())
