"""Asynchronous buffered aggregation (FedBuff, Nguyen et al., 2022; EcoLoRA Appendix C, Table 10).

``concurrency`` clients are in flight at once. A client is dispatched with the global
adapter of the current version, trains, and its update arrives after its download, its
measured compute time and its upload — the transfer times come from the network (an
:class:`~fl_core.schedules.base.ArrivalModel`, which the harness backs with ns-3 flows over
each client's own link). The server aggregates as soon as ``participants`` updates (the
buffer) have arrived, weighting each by (1 + staleness)^-exponent, bumps the version and
dispatches a new client for every one that arrived. Clients on slow links arrive late and
fill fewer buffers; their updates, when they land, are stale.

A dispatch's download, compute and upload are simulated together (the network's compute
model, e.g. a scenario's stragglers, scales the measured compute time, and the upload
starts where it really does in the link's capacity trace and cross traffic), seeded by
(run, dispatch, client).

Choice: arrival times are computed per dispatched client from its actual message sizes
(ns-3 run per flow, cached by (bytes, rates, latency, TCP)), not from a precomputed
schedule, because the message sizes are only known once the client has encoded them.
The client trains at dispatch time (its update depends only on the global it received),
so the simulated timeline and the training order are consistent.

``rounds.csv``: ``dispatch`` is the dispatch counter (it also picks an EcoLoRA client's
segment, as a position does in a synchronous round); ``position`` is the update's place
in the buffer it was aggregated in; ``upload_start_s`` (from the dispatch) minus ``download_s``
is the compute time the network model used. (Runs written before the ``dispatch`` column existed carry the
dispatch counter in ``position``.)
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fl_core.methods.aggregate import stale_step, staleness_weight
from fl_core.schedules.base import Schedule, Transfer


@dataclass(order=True)
class _InFlight:
    arrival_s: float
    seq: int
    client: int = field(compare=False)
    result: object = field(compare=False)


class FedBuffSchedule(Schedule):
    """Buffered asynchronous aggregation with staleness weighting."""

    name = "fedbuff"
    label = "FedBuff"
    needs_arrivals = True
    resumable = False  # in-flight clients are not checkpointed
    reads = ("staleness_exponent",)

    def run(self, ctx, arrivals) -> Path:
        """Train ``cfg.rounds`` buffered aggregations; rows carry dispatch/arrival times and staleness."""
        cfg, method = ctx.cfg, ctx.method
        ctx.start()
        concurrency = cfg.concurrency or 2 * cfg.participants
        rng = np.random.default_rng([cfg.seed, 3])
        idle = set(range(cfg.n_clients))
        heap: list[_InFlight] = []
        snapshots: dict[int, object] = {}
        seq = 0

        def dispatch(version: int, starts: list[float]) -> None:
            """One client per start time, picked in order, trained together by the run's executor."""
            nonlocal seq
            jobs = []
            for _ in starts:
                client = int(rng.choice(sorted(idle)))
                idle.discard(client)
                jobs.append((seq + len(jobs), client))
            for (dispatched, client), now, result in zip(jobs, starts, ctx.client_steps(version, jobs)):
                row = result.row
                timing = arrivals.dispatch_times(dispatched, Transfer(client, row["downlink_bytes"], row["compute_s"],
                                                                      row["uplink_bytes"]))
                row.update(dispatch=dispatched, dispatch_round=version, dispatch_s=now, download_s=timing.download_done_s,
                           upload_start_s=timing.upload_start_s,
                           upload_s=timing.upload_done_s - timing.upload_start_s, arrival_s=now + timing.upload_done_s)
                heapq.heappush(heap, _InFlight(row["arrival_s"], dispatched, client, result))
            seq += len(jobs)

        ctx.begin_round(0)
        snapshots[0] = method.global_vector.clone()
        dispatch(0, [0.0] * concurrency)
        for version in range(cfg.rounds):
            buffer = [heapq.heappop(heap) for _ in range(cfg.participants)]
            rows, uploads = [], []
            for position, item in enumerate(buffer):
                row = item.result.row
                upload = ctx.receive(item.client, item.result.up)
                staleness = version - row["dispatch_round"]
                weight = staleness_weight(staleness, cfg.staleness_exponent)
                current = method.global_vector
                reference = current if ctx.transport.uploads_are_updates else snapshots[row["dispatch_round"]]
                upload.vector = stale_step(current, reference, upload.vector, weight)
                row.update(round=version, position=position, staleness=staleness, staleness_weight=weight)
                ctx.save_blobs(version, item.client, item.result)
                rows.append(row)
                uploads.append(upload)
            ctx.finish_round(version, rows, uploads)
            idle.update(item.client for item in buffer)
            if version + 1 < cfg.rounds:
                ctx.begin_round(version + 1)
                snapshots[version + 1] = method.global_vector.clone()
                in_flight_versions = {i.result.row["dispatch_round"] for i in heap} | {version + 1}
                for v in [v for v in snapshots if v not in in_flight_versions]:
                    del snapshots[v]
                # the new clients get version + 1, which exists once the buffer's last update has arrived
                dispatch(version + 1, [buffer[-1].arrival_s] * len(buffer))
        return ctx.close(concurrency=concurrency, discarded_in_flight=[i.client for i in sorted(heap)])
