"""Arrival times for asynchronous training, from ns-3 flows over each client's own link."""
from __future__ import annotations

from fl_core.config import RunConfig
from ns3_scenarios.flows import flow_time
from ns3_scenarios.network import Network, heterogeneous_links, parse_network
from ns3_scenarios.worker import shared_worker


def assign_links(links: list[Network], n_clients: int, seed: int | None) -> list[Network]:
    """Client c's network: ``links`` cycled by client id, or drawn uniformly from them with ``seed``."""
    if seed is not None:
        return heterogeneous_links(n_clients, links, seed)
    return [links[c % len(links)] for c in range(n_clients)]


class NetworkArrivals:
    """An ``fl_core.fedbuff.ArrivalModel`` backed by isolated ns-3 TCP flows (run in a worker process)."""

    def __init__(self, cfg: RunConfig) -> None:
        self.links = assign_links([parse_network(text) for text in cfg.links], cfg.n_clients, cfg.links_seed)

    def transfer_times(self, client: int, downlink_bytes: int, uplink_bytes: int) -> tuple[float, float]:
        """(download s, upload s) of this client's messages on its link."""
        link = self.links[client]
        worker = shared_worker()
        down = worker.call(flow_time, int(downlink_bytes), link.down_bps, link.latency_s, link.tcp, link.up_bps)
        up = worker.call(flow_time, int(uplink_bytes), link.up_bps, link.latency_s, link.tcp, link.down_bps)
        return down, up
