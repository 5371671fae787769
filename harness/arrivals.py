"""Arrival times for asynchronous training, from ns-3 flows over each client's own link."""
from __future__ import annotations

import numpy as np

from fl_core.config import RunConfig
from ns3_scenarios.flows import flow_time
from ns3_scenarios.network import Network, parse_network
from ns3_scenarios.worker import shared_worker


def client_links(cfg: RunConfig) -> list[Network]:
    """Client c's network: ``cfg.links`` cycled by client id, shuffled with ``cfg.links_seed`` if set."""
    nets = [parse_network(text) for text in cfg.links]
    assignment = [nets[c % len(nets)] for c in range(cfg.n_clients)]
    if cfg.links_seed is not None:
        order = np.random.default_rng(cfg.links_seed).permutation(cfg.n_clients)
        assignment = [assignment[i] for i in order]
    return assignment


class NetworkArrivals:
    """An ``fl_core.fedbuff.ArrivalModel`` backed by isolated ns-3 TCP flows (run in a worker process)."""

    def __init__(self, cfg: RunConfig) -> None:
        self.links = client_links(cfg)

    def transfer_times(self, client: int, downlink_bytes: int, uplink_bytes: int) -> tuple[float, float]:
        """(download s, upload s) of this client's messages on its link."""
        link = self.links[client]
        worker = shared_worker()
        down = worker.call(flow_time, int(downlink_bytes), link.down_bps, link.latency_s, link.tcp, link.up_bps)
        up = worker.call(flow_time, int(uplink_bytes), link.up_bps, link.latency_s, link.tcp, link.down_bps)
        return down, up
