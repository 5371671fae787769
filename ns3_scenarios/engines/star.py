"""One synchronous FL round in ns-3: a server, N clients, each on its own asymmetric link.

At t = 0 the server starts one TCP download per client. When a client holds its whole
download (a C++ byte counter fires a Python callback), it computes for its ``compute_s``
and then uploads to the server. Round time is the last upload's arrival. With
``server_link_bps`` the clients sit behind a router whose link to the server, at that
rate and with zero delay, is shared by every flow.

Each client's access link carries its network's impairments (:mod:`ns3_scenarios.links`):
per-direction loss on the receiving device (seeded ``flow_seed(seed, client, "up"|"down")``),
capacity traces entered at the client's seeded offset (``seeds.trace_offset``) and running
with the simulation clock, its queue, and cross traffic between the client and the server
node. With ``connection.model = "persistent"`` each client opens one connection before the
round (its handshakes are not part of the round); the round starts when every connection is
ready, and the download and the upload both use it. Times are reported from the round's start.
"""
from __future__ import annotations

from collections.abc import Sequence

from ns3_scenarios import simcore
from ns3_scenarios.engines.registry import NoSettings, check_settings, register
from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.network import Network
from ns3_scenarios.seeds import flow_seed, trace_offset
from ns3_scenarios.transfers import ClientTiming, ClientTransfer, check_round, in_client_order, link_of

_DOWN_PORT = 9
_UP_PORT_BASE = 10_000
_CROSS_PORT_BASE = 20_000
_CROSS_PER_CLIENT = 8


def _one(links: Sequence[Network], what: str, get) -> object:
    values = {get(link) for link in links}
    if len(values) > 1:
        raise ScenarioError(f"one round simulates one {what}; the clients' links differ ({sorted(map(str, values))})")
    return values.pop()


def simulate_round(network: Network, transfers: Sequence[ClientTransfer], *, seed: int = 0) -> list[ClientTiming]:
    """Simulate one round; returns one :class:`ClientTiming` per transfer, in the same order.

    ``seed`` is the round's seed (random loss, trace offsets, on/off sources). The round is
    simulated with the clients in id order, so the order of ``transfers`` does not matter.
    """
    check_round(network, transfers)
    return in_client_order(lambda ordered: _simulate(network, ordered, seed), transfers)


def _simulate(network: Network, transfers: Sequence[ClientTransfer], seed: int) -> list[ClientTiming]:
    """:func:`simulate_round` of transfers already in client order."""
    n = len(transfers)
    links = [link_of(network, t) for t in transfers]
    for i, link in enumerate(links):
        if len(link.cross) > _CROSS_PER_CLIENT:
            raise ScenarioError(f"client {transfers[i].client}: at most {_CROSS_PER_CLIENT} cross traffic sources")
    persistent = _one(links, "connection model", lambda link: link.connection.model) == "persistent"
    down_bytes = [int(t.downlink_bytes) for t in transfers]
    up_bytes = [int(t.uplink_bytes) for t in transfers]
    compute_ns = [simcore.nanoseconds(float(t.compute_s)) for t in transfers]
    horizon = max(
        simcore.horizon_s(down_bytes[i], links[i].down_bps) + float(transfers[i].compute_s)
        + simcore.horizon_s(up_bytes[i], links[i].up_bps)
        + max([imp.trace.period_s for imp in (links[i].up, links[i].down) if imp.trace is not None], default=0.0)
        for i in range(n)
    ) + (60.0 if persistent else 0.0)
    unbounded = persistent or any(
        link.cross or link.up.trace is not None or link.down.trace is not None for link in links)
    messages = sum(1 for b in down_bytes + up_bytes if b > 0)
    with simcore.Simulation(network.tcp, stop_after=messages if unbounded else 0) as sim:
        server = sim.nodes(1).Get(0)
        clients = sim.nodes(n)
        if network.server_link_bps is None:
            hub, server_addresses = server, []
        else:
            hub = sim.nodes(1).Get(0)
            shared = sim.link(hub, server, network.server_link_bps, network.server_link_bps, 0.0)
            server_addresses = [shared.GetAddress(1)] * n
        client_addresses = []
        for i, link in enumerate(links):
            client = int(transfers[i].client)
            offset = trace_offset(seed, client)
            phases = tuple(0.0 if imp.trace is None else offset * imp.trace.period_s for imp in (link.up, link.down))
            interfaces = sim.link(
                clients.Get(i), hub, link.up_bps, link.down_bps, link.latency_s, queue=link.queue,
                a_sends=link.up, b_sends=link.down, a_seed=flow_seed(seed, client, "up"),
                b_seed=flow_seed(seed, client, "down"), trace_phase_s=phases,
            )
            client_addresses.append(interfaces.GetAddress(0))
            if network.server_link_bps is None:
                server_addresses.append(interfaces.GetAddress(1))
        if network.server_link_bps is not None:
            sim.populate_routes()
        for i, link in enumerate(links):
            stream = flow_seed(seed, int(transfers[i].client), "cross") >> 2  # OnOff draws from 2 streams
            for k, cross in enumerate(link.cross):
                port = _CROSS_PORT_BASE + i * _CROSS_PER_CLIENT + k
                if cross.direction == "up":
                    sim.cross(clients.Get(i), server, server_addresses[i], port, cross, stream + 2 * k)
                else:
                    sim.cross(server, clients.Get(i), client_addresses[i], port, cross, stream + 2 * k)

        if persistent:
            downloads, uploads, start_ns = _persistent(sim, server, clients, server_addresses, links, down_bytes,
                                                       up_bytes, compute_ns)
        else:
            downloads, uploads, start_ns = _per_message(sim, server, clients, server_addresses, client_addresses,
                                                        links, down_bytes, up_bytes, compute_ns)
        sim.run(horizon)

        if start_ns[0] is None:
            raise ScenarioError(f"the clients' persistent connections were not all open after {horizon:g} simulated s")
        t0 = start_ns[0]
        return simcore.round_timings(transfers, downloads, uploads, horizon, down_at=lambda s: _since(s, t0),
                                     up_at=lambda s: _since(s, t0))


def _since(seconds: float, t0_ns: int) -> float:
    return seconds if t0_ns == 0 else (simcore.nanoseconds(seconds) - t0_ns) / 1e9


def _per_message(sim, server, clients, server_addresses, client_addresses, links, down_bytes, up_bytes, compute_ns):
    """Today's model: every message on a new connection (with TLS, one more round trip each)."""
    uploads, downloads, up_start = {}, {}, {}

    def start_upload(i: int) -> None:
        """Client ``i`` has its download: upload after its compute time (now, or at t = 0)."""
        if up_bytes[i]:
            up_start[i](compute_ns[i])

    for i, link in enumerate(links):
        if up_bytes[i]:
            uploads[i], up_start[i] = sim.message(clients.Get(i), server, server_addresses[i], _UP_PORT_BASE + i,
                                                  up_bytes[i], tag=i, tls=link.connection.tls)
        if down_bytes[i]:
            downloads[i], start = sim.message(server, clients.Get(i), client_addresses[i], _DOWN_PORT, down_bytes[i],
                                              tag=i, tls=link.connection.tls, on_done=start_upload,
                                              receiver_is_tls_client=True)
            start(0)
        else:
            start_upload(i)
    return downloads, uploads, [0]


def _persistent(sim, server, clients, server_addresses, links, down_bytes, up_bytes, compute_ns):
    """One connection per client, opened at t = 0; the round starts once both ends of all are ready."""
    ns = sim.ns
    n = len(links)
    ready = ns.cppyy.gbl.netbench.Countdown(2 * n, False)  # both ends of every connection
    sim._keep.append(ready)
    client_ends, server_ends = [], []
    start_ns: list[int | None] = [None]

    def start_upload(i: int) -> None:
        if up_bytes[i]:
            client_ends[i].SendAfter(compute_ns[i], up_bytes[i])

    for i in range(n):
        tls = links[i].connection.tls
        server_ends.append(sim.endpoint(server, port=_UP_PORT_BASE + i, tls=tls, nbytes=up_bytes[i], tag=i))
        server_ends[i].SetReady(ready)
        end = sim.endpoint(clients.Get(i), peer=server_addresses[i], port=_UP_PORT_BASE + i, tls=tls,
                           nbytes=down_bytes[i], tag=i, on_done=start_upload)
        end.SetReady(ready)
        client_ends.append(end)

    def begin() -> None:
        start_ns[0] = ns.Simulator.Now().GetNanoSeconds()
        for i in range(n):
            if down_bytes[i]:
                server_ends[i].Send(down_bytes[i])
            else:
                start_upload(i)

    ready.onZero = begin
    sim._keep.append(begin)
    downloads = {i: client_ends[i].GetDone() for i in range(n) if down_bytes[i]}
    uploads = {i: server_ends[i].GetDone() for i in range(n) if up_bytes[i]}
    return downloads, uploads, start_ns


class StarEngine:
    """The full star (optionally behind a shared server link) in one ns-3 simulation."""

    name = "star"
    settings_type = NoSettings
    impairments = True
    server_link = True

    def simulate_round(self, network: Network, transfers: Sequence[ClientTransfer], *, seed: int = 0,
                       settings: NoSettings | None = None) -> list[ClientTiming]:
        """:func:`simulate_round` (this engine takes no settings)."""
        check_settings(self, settings)
        return simulate_round(network, transfers, seed=seed)

    def __repr__(self) -> str:
        return f"<engine {self.name}: {__name__}>"


ENGINE = register(StarEngine())
