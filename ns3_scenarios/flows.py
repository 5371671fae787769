"""Isolated TCP flows, each simulated once in ns-3 and cached, composed into rounds.

When every client has its own link to the server (no shared server link), the flows of
a round do not interact: a client's download is one TCP flow over its link, its upload
another one that starts after its compute time. A round is then the composition of
single-flow completion times, and a flow with the same (bytes, rates, latency, TCP) need
only be simulated once. ``tests/test_network_sim.py`` checks this against the full star.
"""
from __future__ import annotations

from collections.abc import Sequence

from ns3_scenarios import simcore
from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.network import Network, check_latency, check_rate
from ns3_scenarios.tcp import get_config
from ns3_scenarios.transfers import ClientTiming, ClientTransfer, check_message_bytes, check_round, link_of

_PORT = 9
_CACHE: dict[tuple[int, float, float, float, str], float] = {}


def flow_time(
    nbytes: int, rate_bps: float, latency_s: float, tcp: str = "linux", reverse_bps: float | None = None
) -> float:
    """Completion time in simulated seconds of one TCP transfer of ``nbytes`` on an idle link.

    Counted from the sender's start, so the handshake is included, to the moment the
    receiving application has the last byte. ``rate_bps`` shapes the data direction,
    ``reverse_bps`` (default: the same) the ACK direction. Results are cached per process.
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
    key = (nbytes, rate, reverse, latency, tcp)
    if key not in _CACHE:
        _CACHE[key] = _simulate_flow(nbytes, rate, reverse, latency, tcp)
    return _CACHE[key]


def _simulate_flow(nbytes: int, rate: float, reverse: float, latency: float, tcp: str) -> float:
    horizon = simcore.horizon_s(nbytes, rate)
    with simcore.Simulation(tcp) as sim:
        nodes = sim.nodes(2)
        sender, receiver = nodes.Get(0), nodes.Get(1)
        interfaces = sim.link(sender, receiver, rate, reverse, latency)
        done = sim.sink(receiver, _PORT, nbytes, 0)
        sim.send(sender, interfaces.GetAddress(1), _PORT, nbytes, 0)
        sim.run(horizon)
        return simcore.check_done(done, nbytes, f"flow at {rate / 1e6:g} Mbps", horizon)


def isolated_round(network: Network, transfers: Sequence[ClientTransfer], *, seed: int = 0) -> list[ClientTiming]:
    """One synchronous round composed from cached isolated flows (no shared server link).

    Per client: download completion, + compute, + upload completion. Matches
    :func:`ns3_scenarios.star.simulate_round` when a client's compute time outlasts its
    download's closing handshake (about one RTT), which is the case for real training.
    """
    check_round(network, transfers)
    if network.server_link_bps is not None:
        raise ScenarioError("isolated flows cannot model a shared server link; simulate the full star")
    for t in transfers:
        if link_of(network, t).impaired:
            raise ScenarioError(f"client {t.client}: impairments are not simulated yet")
    timings = []
    for t in transfers:
        link = link_of(network, t)
        down = flow_time(int(t.downlink_bytes), link.down_bps, link.latency_s, network.tcp, link.up_bps)
        start = down + float(t.compute_s)
        up = flow_time(int(t.uplink_bytes), link.up_bps, link.latency_s, network.tcp, link.down_bps)
        timings.append(ClientTiming(int(t.client), down, start, start + up))
    return timings
