"""Replay a run directory: its recorded bytes and compute times, through an ns-3 scenario.

For each round, every participant downloads its recorded ``downlink_bytes``, computes for
its recorded ``compute_s`` (or that times ``compute_scale``; the ``compute_source`` column
says which), then uploads its ``uplink_bytes``. By default the round is composed from
cached isolated flows (exact when each client has its own link); the full ns-3 star runs
when a shared server link is set or ``exact_star`` is asked for.

:func:`replay_record` runs ns-3 in the calling process; :func:`replay` reads and checks
the run here and sends the simulation to an :class:`~ns3_scenarios.worker.NsWorker`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from fl_core.errors import ConfigError, RunDirError
from fl_core.rundir import RunRecord, read_run
from harness.timing import round_rows, timing_frame
from ns3_scenarios.network import Network
from ns3_scenarios.transfers import ClientTransfer, check_round
from ns3_scenarios.worker import NsWorker, shared_worker


def compute_source(compute_scale: float | None, compute: Mapping | None = None) -> str:
    """The ``compute_source`` label: ``recorded`` or ``recorded x<scale>``, followed by where the
    run measured its compute when its ``run.json`` says (``[cuda:0 NVIDIA H200, bfloat16]``)."""
    where = f" [{compute['device']} {compute['device_name']}, {compute['dtype']}]" if compute else ""
    if compute_scale is None:
        return "recorded" + where
    if isinstance(compute_scale, bool) or not isinstance(compute_scale, (int, float)) \
            or not math.isfinite(compute_scale) or compute_scale <= 0:
        raise ConfigError(f"invalid compute scale {compute_scale!r}: expected a finite number > 0")
    return f"recorded x{compute_scale:g}" + where


def round_transfers(
    record: RunRecord, compute_scale: float | None = None, client_links: Mapping[int, Network] | None = None
) -> list[tuple[int, list[ClientTransfer]]]:
    """``(round, transfers)`` for every round of ``record``, in round order."""
    rounds = record.rounds
    duplicated = rounds.duplicated(["round", "client"])
    if duplicated.any():
        first = rounds[duplicated].iloc[0]
        raise RunDirError(f"run {record.name}: client {first['client']} appears twice in round {first['round']}")
    scale = 1.0 if compute_scale is None else compute_scale
    links = client_links or {}
    plan = []
    for round_idx, rows in rounds.sort_values(["round", "client"]).groupby("round", sort=True):
        plan.append((int(round_idx), [
            ClientTransfer(int(r.client), int(r.downlink_bytes), float(r.compute_s) * scale, int(r.uplink_bytes),
                           links.get(int(r.client)))
            for r in rows.itertuples(index=False)
        ]))
    return plan


def replay_record(
    record: RunRecord,
    network: Network,
    *,
    scenario: str | None = None,
    compute_scale: float | None = None,
    exact_star: bool = False,
    client_links: Mapping[int, Network] | None = None,
) -> pd.DataFrame:
    """Simulate every round of ``record`` on ``network`` in this process; returns the timing table."""
    from ns3_scenarios.flows import isolated_round
    from ns3_scenarios.star import simulate_round

    source = compute_source(compute_scale, record.meta.get("compute"))
    star = exact_star or network.server_link_bps is not None
    simulate = simulate_round if star else isolated_round
    rows: list[dict] = []
    for round_idx, transfers in round_transfers(record, compute_scale, client_links):
        timings = simulate(network, transfers)
        rows.extend(round_rows(
            scenario=scenario or network.label, run=record.name, method=record.method, network=network,
            engine="star" if star else "isolated", round_idx=round_idx, transfers=transfers, timings=timings,
            compute_source=source,
        ))
    return timing_frame(rows)


def replay(
    run: str | Path | RunRecord,
    network: Network,
    *,
    scenario: str | None = None,
    compute_scale: float | None = None,
    exact_star: bool = False,
    client_links: Mapping[int, Network] | None = None,
    worker: NsWorker | None = None,
) -> pd.DataFrame:
    """Replay ``run`` on ``network`` in an ns-3 worker (default: this process's shared one).

    The run directory and every round are checked here first, so bad input fails before
    a worker starts.
    """
    record = run if isinstance(run, RunRecord) else read_run(run)
    compute_source(compute_scale)
    for _, transfers in round_transfers(record, compute_scale, client_links):
        check_round(network, transfers)
    return (worker or shared_worker()).call(
        replay_record, record, network, scenario=scenario, compute_scale=compute_scale, exact_star=exact_star,
        client_links=client_links,
    )
