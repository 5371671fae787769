"""Asynchronous buffered aggregation (FedBuff, Nguyen et al., 2022; EcoLoRA Appendix C, Table 10).

``concurrency`` clients are in flight at once. A client is dispatched with the global
adapter of the current version, trains, and its update arrives after its download, its
measured compute time and its upload — the transfer times come from the network (an
:class:`ArrivalModel`, which the harness backs with ns-3 flows over each client's own
link). The server aggregates as soon as ``participants`` updates (the buffer) have
arrived, weighting each by (1 + staleness)^-exponent, bumps the version and dispatches
a new client for every one that arrived. Clients on slow links arrive late and fill
fewer buffers; their updates, when they land, are stale.

Choice: arrival times are computed per dispatched client from its actual message sizes
(ns-3 run per flow, cached by (bytes, rates, latency, TCP)), not from a precomputed
schedule, because the message sizes are only known once the client has encoded them.
The client trains at dispatch time (its update depends only on the global it received),
so the simulated timeline and the training order are consistent.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from fl_core.loop import Trainer


class ArrivalModel(Protocol):
    """Transfer times of one client's messages on its own link."""

    def transfer_times(self, client: int, downlink_bytes: int, uplink_bytes: int) -> tuple[float, float]:
        """(download seconds, upload seconds) for messages of these sizes."""


@dataclass(order=True)
class _InFlight:
    arrival_s: float
    seq: int
    client: int = field(compare=False)
    row: dict = field(compare=False)
    down: bytes = field(compare=False)
    up: bytes = field(compare=False)


def run_fedbuff(trainer: Trainer, arrivals: ArrivalModel) -> Path:
    """Train ``cfg.rounds`` buffered aggregations; rows carry dispatch/arrival times and staleness."""
    cfg = trainer.cfg
    trainer.start()
    concurrency = cfg.concurrency or 2 * cfg.participants
    rng = np.random.default_rng([cfg.seed, 3])
    idle = set(range(cfg.n_clients))
    heap: list[_InFlight] = []
    snapshots: dict[int, object] = {}
    seq = 0

    def dispatch(version: int, now: float) -> None:
        nonlocal seq
        client = int(rng.choice(sorted(idle)))
        idle.discard(client)
        row, down, up = trainer.client_work(version, seq, client)
        down_s, up_s = arrivals.transfer_times(client, row["downlink_bytes"], row["uplink_bytes"])
        row.update(dispatch_round=version, dispatch_s=now, download_s=down_s, upload_s=up_s,
                   arrival_s=now + down_s + row["compute_s"] + up_s)
        heapq.heappush(heap, _InFlight(row["arrival_s"], seq, client, row, down, up))
        seq += 1

    trainer.begin_round(0)
    snapshots[0] = trainer.method.global_vector.clone()
    for _ in range(concurrency):
        dispatch(0, 0.0)
    for version in range(cfg.rounds):
        buffer = [heapq.heappop(heap) for _ in range(cfg.participants)]
        rows, uploads = [], []
        for item in buffer:
            upload = trainer.receive(item.client, item.up)
            staleness = version - item.row["dispatch_round"]
            weight = (1 + staleness) ** -cfg.staleness_exponent
            current = trainer.method.global_vector
            reference = current if trainer.transport.uploads_are_updates else snapshots[item.row["dispatch_round"]]
            upload.vector = current + weight * (upload.vector - reference)
            item.row.update(round=version, staleness=staleness, staleness_weight=weight)
            trainer.save_blobs(version, item.client, item.down, item.up)
            rows.append(item.row)
            uploads.append(upload)
        trainer.finish_round(version, rows, uploads)
        trainer.bar.update()
        idle.update(item.client for item in buffer)
        if version + 1 < cfg.rounds:
            trainer.begin_round(version + 1)
            snapshots[version + 1] = trainer.method.global_vector.clone()
            in_flight_versions = {i.row["dispatch_round"] for i in heap} | {version + 1}
            for v in [v for v in snapshots if v not in in_flight_versions]:
                del snapshots[v]
            for item in buffer:
                dispatch(version + 1, item.arrival_s)
    trainer.bar.close()
    trainer.writer.update_meta(status="complete", concurrency=concurrency,
                               discarded_in_flight=[i.client for i in sorted(heap)])
    return trainer.out
