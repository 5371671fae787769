"""Synchronous rounds: N_t clients sampled uniformly per round, every upload aggregated."""
from __future__ import annotations

from pathlib import Path

from fl_core.schedules.base import Schedule


class SyncSchedule(Schedule):
    """The paper's rounds: sample, train every participant, aggregate them all."""

    name = "sync"
    label = "synchronous rounds"

    def run(self, ctx, arrivals=None) -> Path:
        from fl_core.run.federation import sample_participants  # data loaders: not needed to check a config

        ctx.start()
        for t in range(ctx.completed + 1, ctx.cfg.rounds):
            ctx.begin_round(t)
            rows, uploads = [], []
            clients = sample_participants(ctx.cfg, t)
            for client, result in zip(clients, ctx.client_steps(t, list(enumerate(clients)))):
                ctx.save_blobs(t, client, result)
                rows.append(result.row)
                uploads.append(ctx.receive(client, result.up))
            ctx.finish_round(t, rows, uploads)
        return ctx.close()
