"""Replay a run directory: its recorded bytes and compute times, through a :class:`~harness.scenario.Scenario`.

For each round, every participant downloads its recorded ``downlink_bytes``, computes for
its recorded ``compute_s`` times its scenario compute factor (the ``compute_source``
column says which), then uploads its ``uplink_bytes``, on its own link. The scenario's
engine (``ns3_scenarios.engines``: cached isolated flows, the full star, ...) simulates
each round with the round's seed, ``scenario.round_seed(run, round)``.

:func:`replay_record` runs ns-3 in the calling process; :func:`replay` reads and checks
the run here and sends the simulation to an :class:`~ns3_scenarios.worker.NsWorker`.
Both take a :class:`Scenario` or, as before, a :class:`Network` plus the shorthand options
(``compute_scale``, ``exact_star``, ``client_links``), which build one.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from fl_core.errors import RunDirError
from fl_core.rundir.reader import RunRecord, read_run
from harness.scenario import Scenario, as_scenario
from harness.simulate import simulate_round
from harness.timing import round_rows, timing_frame
from ns3_scenarios.network import Network
from ns3_scenarios.transfers import ClientTransfer, check_round
from ns3_scenarios.worker import NsWorker, shared_worker


def round_transfers(record: RunRecord, scenario: Scenario) -> list[tuple[int, list[ClientTransfer]]]:
    """``(round, transfers)`` for every round of ``record``, in round order, as the engine gets them."""
    rounds = record.rounds
    duplicated = rounds.duplicated(["round", "client"])
    if duplicated.any():
        first = rounds[duplicated].iloc[0]
        raise RunDirError(f"run {record.name}: client {first['client']} appears twice in round {first['round']}")
    plan = []
    step = scenario.compute_profile.step_for(record.meta) if scenario.compute_profile is not None else None
    for round_idx, rows in rounds.sort_values(["round", "client"]).groupby("round", sort=True):
        plan.append((int(round_idx), scenario.prepare([
            ClientTransfer(int(r.client), int(r.downlink_bytes), _compute_s(r, step), int(r.uplink_bytes))
            for r in rows.itertuples(index=False)
        ])))
    return plan


def _compute_s(row, step) -> float:
    """A client's compute time: recorded, or from a profile's step time (plus the recorded codec seconds)."""
    if step is None:
        return float(row.compute_s)
    return int(row.local_steps) * step.seconds + float(row.encode_s) + float(row.decode_s)


def checked_rounds(record: RunRecord, scenario: Scenario) -> list[tuple[int, list[ClientTransfer]]]:
    """:func:`round_transfers`, each round checked (``ScenarioError`` naming the client) before any simulation."""
    plan = round_transfers(record, scenario)
    for _, transfers in plan:
        check_round(scenario.network, transfers)
    return plan


def replay_record(
    record: RunRecord,
    scenario: Scenario | Network,
    *,
    name: str | None = None,
    compute_scale: float | None = None,
    exact_star: bool = False,
    client_links: Mapping[int, Network] | None = None,
) -> pd.DataFrame:
    """Simulate every round of ``record`` through ``scenario`` in this process; returns the timing table."""
    scenario = as_scenario(scenario, name=name, compute_scale=compute_scale, exact_star=exact_star,
                           client_links=client_links)
    rows: list[dict] = []
    for round_idx, transfers in round_transfers(record, scenario):
        timings = simulate_round(scenario, record.name, round_idx, transfers)
        rows.extend(round_rows(scenario=scenario, run=record.name, method=record.method, round_idx=round_idx,
                               transfers=transfers, timings=timings))
    profile = scenario.compute_profile
    if profile is None:
        source = scenario.compute_source + measured_on(record.meta)
    else:
        steps = int(record.rounds["local_steps"].iloc[0]) if len(record.rounds) else 0
        source = (profile.label(profile.step_for(record.meta), steps) + scenario.compute.source.removeprefix("recorded")
                  + shape_marker(record.meta))
    for row in rows:
        row["compute_source"] = source
    return timing_frame(rows)


def measured_on(meta: Mapping) -> str:
    """Where a run measured its compute times, for the ``compute_source`` column:
    `` [cuda:0 NVIDIA H200, bfloat16]`` from run.json's ``compute`` (empty for runs without it),
    and for a ``shape:`` run its shape and ``random-init (shape only)``, so every table and figure
    that shows the column marks it."""
    compute = meta.get("compute")
    where = f" [{compute['device']} {compute['device_name']}, {compute['dtype']}]" if compute else ""
    return where + shape_marker(meta)


def shape_marker(meta: Mapping) -> str:
    """`` [shape:llama2-7b, weights random-init (shape only)]`` for a shape run, else empty."""
    model = meta.get("model") or {}
    if model.get("weights", "pretrained") == "pretrained":
        return ""
    return f" [{model.get('name')}, weights {model['weights']}]"


def replay(
    run: str | Path | RunRecord,
    scenario: Scenario | Network,
    *,
    name: str | None = None,
    compute_scale: float | None = None,
    exact_star: bool = False,
    client_links: Mapping[int, Network] | None = None,
    worker: NsWorker | None = None,
) -> pd.DataFrame:
    """Replay ``run`` through ``scenario`` in an ns-3 worker (default: this process's shared one).

    The run directory and every round are checked here first, so bad input fails before
    a worker starts.
    """
    record = run if isinstance(run, RunRecord) else read_run(run)
    scenario = as_scenario(scenario, name=name, compute_scale=compute_scale, exact_star=exact_star,
                           client_links=client_links)
    checked_rounds(record, scenario)
    return (worker or shared_worker()).call(replay_record, record, scenario)
