"""Deadline rounds with over-selection and dropouts, fed back into training (issue 11, item 8).

Round t: the server invites ``ceil(N_t x over_selection)`` clients (seeded per round, at
most K). Each invited client is available with probability ``availability`` (seeded per
round and client) or as an on/off trace says; unavailable clients do nothing. Available
clients download, train and upload; the network (a
:class:`~fl_core.schedules.base.RoundArrivals`, which the harness backs with ns-3) says
when each upload arrives, from each message's real size and the measured compute time.
The server aggregates the first N_t uploads that arrive by ``deadline_s`` (in arrival
order) and stops waiting; late clients contribute nothing that round, and their traffic
is counted as wasted.

``rounds.csv`` gets one row per invited client with the columns ``invited``,
``available``, ``aggregated``, ``late`` (available, uploaded, not aggregated: after the
deadline, or after the first N_t arrivals), ``unavailable`` (0/1), ``download_s``,
``upload_start_s``, ``arrival_s`` (seconds from the round's start) and ``deadline_s``.
An unavailable client's row carries no bytes; :func:`fl_core.rundir.reader.read_run` keeps such
rows out of ``RunRecord.rounds`` (the transfers) and in ``RunRecord.invitations``.
:func:`select_arrivals` is the rule, shared with replay: the same timings give the same
aggregated set in the same order.

Choices: a late client still keeps its local progress (its state is committed as in any
round: it does not know it was late); the server's EcoLoRA mirror of what it downloaded
is committed too, because the download did happen. A round where nothing arrived in
time aggregates nothing (the global adapter stays). Resuming re-measures compute times,
so a resumed deadline run can aggregate a different set where compute decides.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fl_core.errors import ConfigError
from fl_core.schedules.base import Schedule, Transfer
from fl_core.run.settings import setting


@dataclass
class DeadlineConfig:
    """Settings of the deadline schedule."""

    deadline_s: float | None = setting(None, "Deadline schedule: seconds the server waits for uploads per round "
                                       "(required with --schedule deadline).", flag="--deadline",
                                       min=0, min_open=True)
    over_selection: float = setting(1.3, "Deadline schedule: invite ceil(N_t x this) clients per round.",
                                    flag="--over-selection", min=1, label="over-selection")
    availability: float = setting(1.0, "Deadline schedule: probability that an invited client is available "
                                  "(seeded per round and client).", flag="--availability", min=0, max=1,
                                  label="availability")
    availability_trace: str | None = setting(None, "Deadline schedule: CSV 'client,on' where 'on' is a 0/1 string "
                                             "over rounds (cycled); listed clients follow it instead of "
                                             "--availability.", flag="--availability-trace")

    def validate(self) -> None:
        """What the declared limits cannot say: a deadline is required, the trace must be readable."""
        if self.deadline_s is None:
            raise ConfigError("the deadline schedule needs --deadline SECONDS")
        traces = read_availability_trace(self.availability_trace) if self.availability_trace is not None else {}
        if self.availability == 0 and not any("1" in on for on in traces.values()):
            raise ConfigError("availability 0: no invited client is ever available, so no round could aggregate "
                              "anything; give a probability > 0 (or an --availability-trace with 1s)")


def read_availability_trace(path: str) -> dict[int, str]:
    """``client -> '0110...'`` from a CSV with columns ``client,on``; ``ConfigError`` names the bad row."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"availability trace {path!r} does not exist")
    traces: dict[int, str] = {}
    with file.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"client", "on"} <= set(reader.fieldnames):
            raise ConfigError(f"{path}: expected the columns client,on")
        for line, row in enumerate(reader, start=2):
            on = (row["on"] or "").strip()
            try:
                client = int(row["client"])
            except (TypeError, ValueError):
                client = -1
            if client < 0 or not on or set(on) - {"0", "1"}:
                raise ConfigError(f"{path}:{line}: expected a client id >= 0 and a non-empty 0/1 string")
            traces[client] = on
    return traces


def invited(cfg, round_idx: int) -> list[int]:
    """The ceil(N_t x over_selection) clients invited to ``round_idx`` (seeded per round)."""
    settings = cfg.settings_of(DeadlineSchedule.name, DeadlineConfig)
    n = min(cfg.n_clients, math.ceil(cfg.participants * settings.over_selection - 1e-9))
    rng = np.random.default_rng([cfg.seed, 1, round_idx])
    return [int(c) for c in rng.choice(cfg.n_clients, size=n, replace=False)]


def available(cfg, round_idx: int, clients: list[int], traces: dict[int, str]) -> list[bool]:
    """Which invited clients are available: their trace, else a seeded draw per (round, client)."""
    p = cfg.settings_of(DeadlineSchedule.name, DeadlineConfig).availability
    out = []
    for c in clients:
        if c in traces:
            out.append(traces[c][round_idx % len(traces[c])] == "1")
        else:
            out.append(bool(np.random.default_rng([cfg.seed, 5, round_idx, c]).random() < p))
    return out


def select_arrivals(timings: list, participants: int, deadline_s: float) -> list[int]:
    """Clients aggregated: the first ``participants`` whose upload is done by ``deadline_s``, in arrival
    order (ties by the order of ``timings``)."""
    order = sorted(range(len(timings)), key=lambda i: (timings[i].upload_done_s, i))
    return [timings[i].client for i in order if timings[i].upload_done_s <= deadline_s][:participants]


class DeadlineSchedule(Schedule):
    """Synchronous rounds that stop waiting at a deadline; over-selection makes up for dropouts."""

    name = "deadline"
    label = "deadline rounds"
    needs_arrivals = True
    config_type = DeadlineConfig

    def run(self, ctx, arrivals) -> Path:
        cfg = ctx.cfg
        settings = cfg.settings_of(self.name, DeadlineConfig)
        traces = read_availability_trace(settings.availability_trace) if settings.availability_trace else {}
        ctx.start()
        for t in range(ctx.completed + 1, cfg.rounds):
            ctx.begin_round(t)
            clients = invited(cfg, t)
            flags = available(cfg, t, clients, traces)
            present = [c for c, ok in zip(clients, flags) if ok]
            results = dict(zip(present, ctx.client_steps(t, list(enumerate(present)))))
            rows = []
            for client, ok in zip(clients, flags):
                rows.append(results[client].row if ok else {
                    "round": t, "client": client, "position": -1, "invited": 1, "available": 0, "aggregated": 0,
                    "late": 0, "unavailable": 1, "uplink_bytes": 0, "downlink_bytes": 0, "compute_s": 0.0,
                    "deadline_s": settings.deadline_s})
            transfers = [Transfer(c, r.row["downlink_bytes"], r.row["compute_s"], r.row["uplink_bytes"])
                         for c, r in results.items()]
            timings = arrivals.round_times(t, transfers) if transfers else []
            chosen = select_arrivals(timings, cfg.participants, settings.deadline_s)
            for timing in timings:
                row = results[timing.client].row
                row.update(invited=1, available=1, aggregated=int(timing.client in chosen),
                           late=int(timing.client not in chosen), unavailable=0,
                           download_s=timing.download_done_s, upload_start_s=timing.upload_start_s,
                           arrival_s=timing.upload_done_s, deadline_s=settings.deadline_s)
            for client, result in results.items():
                ctx.save_blobs(t, client, result)
            uploads = [ctx.receive(c, results[c].up) for c in chosen]
            ctx.finish_round(t, rows, uploads)
        return ctx.close()
