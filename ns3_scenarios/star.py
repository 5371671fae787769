"""One synchronous FL round in ns-3: a server, N clients, each on its own asymmetric link.

At t = 0 the server starts one TCP download per client. When a client holds its whole
download (a C++ byte counter fires a Python callback), it computes for its ``compute_s``
and then uploads to the server. Round time is the last upload's arrival. With
``server_link_bps`` the clients sit behind a router whose link to the server, at that
rate and with zero delay, is shared by every flow.
"""
from __future__ import annotations

from collections.abc import Sequence

from ns3_scenarios import simcore
from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.network import Network
from ns3_scenarios.transfers import ClientTiming, ClientTransfer, check_round, link_of

_DOWN_PORT = 9
_UP_PORT_BASE = 10_000


def simulate_round(network: Network, transfers: Sequence[ClientTransfer], *, seed: int = 0) -> list[ClientTiming]:
    """Simulate one round; returns one :class:`ClientTiming` per transfer, in the same order."""
    check_round(network, transfers)
    for t in transfers:
        if link_of(network, t).impaired:
            raise ScenarioError(f"client {t.client}: impairments are not simulated yet")
    n = len(transfers)
    links = [link_of(network, t) for t in transfers]
    down_bytes = [int(t.downlink_bytes) for t in transfers]
    up_bytes = [int(t.uplink_bytes) for t in transfers]
    compute_ns = [simcore.nanoseconds(float(t.compute_s)) for t in transfers]
    horizon = max(
        simcore.horizon_s(down_bytes[i], links[i].down_bps) + float(transfers[i].compute_s)
        + simcore.horizon_s(up_bytes[i], links[i].up_bps)
        for i in range(n)
    )
    with simcore.Simulation(network.tcp) as sim:
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
            interfaces = sim.link(clients.Get(i), hub, link.up_bps, link.down_bps, link.latency_s)
            client_addresses.append(interfaces.GetAddress(0))
            if network.server_link_bps is None:
                server_addresses.append(interfaces.GetAddress(1))
        if network.server_link_bps is not None:
            sim.populate_routes()

        def start_upload(i: int) -> None:
            """Client ``i`` has its download: upload after its compute time (now, or at t = 0)."""
            if up_bytes[i]:
                sim.send(clients.Get(i), server_addresses[i], _UP_PORT_BASE + i, up_bytes[i], compute_ns[i])

        downloads, uploads = {}, {}
        for i in range(n):
            if up_bytes[i]:
                uploads[i] = sim.sink(server, _UP_PORT_BASE + i, up_bytes[i], i)
            if down_bytes[i]:
                downloads[i] = sim.sink(clients.Get(i), _DOWN_PORT, down_bytes[i], i, start_upload)
                sim.send(server, client_addresses[i], _DOWN_PORT, down_bytes[i], 0)
            else:
                start_upload(i)
        sim.run(horizon)

        timings = []
        for i, t in enumerate(transfers):
            what = f"client {t.client}"
            down = 0.0
            if i in downloads:
                down = simcore.check_done(downloads[i], down_bytes[i], f"{what} download", horizon)
            start = (simcore.nanoseconds(down) + compute_ns[i]) / 1e9
            up = simcore.check_done(uploads[i], up_bytes[i], f"{what} upload", horizon) if i in uploads else start
            timings.append(ClientTiming(int(t.client), down, start, up))
        return timings
