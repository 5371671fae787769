"""Every method under every schedule ``fl_core.run.capabilities`` allows, including rounds that aggregate nothing.

Deadline runs (4 rounds, availability trace per client): round 0 everyone is on and the fast
clients arrive; round 1 only the slow clients are on, train and upload, and all miss the
deadline (zero aggregated, traffic wasted); round 2 everyone again (the round after an empty
one); round 3 nobody is on (zero uploads at all). A round that aggregates nothing must leave
the global model as it was: its evaluation loss equals the previous round's, bit for bit.
"""
from __future__ import annotations

import itertools

import pandas as pd
import pytest

from fl_core.run.capabilities import check
from fl_core.errors import ConfigError
from fl_core.run.loop import train
from fl_core.methods import METHODS
from fl_core.rundir.reader import read_run
from fl_core.transports.ecolora_config import EcoLoRAConfig
from harness.arrivals import NetworkArrivals

SLOW = (0, 1)
LINKS = ("0.01/0.01", "0.01/0.01", "5/25", "5/25", "5/25", "5/25")  # cycled by client id
ON = {c: ("1110" if c in SLOW else "1010") for c in range(6)}  # round 1: only slow; round 3: nobody
DEADLINE_S = 1.0
EMPTY_ROUNDS = (1, 3)


def _combos():
    """(method, ecolora, participation) for every combination the capability check accepts."""
    from fl_core.run.config import RunConfig

    for method, eco, part in itertools.product(sorted(METHODS), (False, True), ("uniform", "deadline", "fedbuff")):
        cfg = RunConfig(method=method, participation=part, n_clients=6, participants=2, ranks=(8, 4, 2),
                        ecolora=EcoLoRAConfig(n_segments=2) if eco else None,
                        links=LINKS if part != "uniform" else (),
                        settings={"deadline": {"deadline_s": DEADLINE_S}} if part == "deadline" else {})
        try:
            check(cfg)
        except ConfigError:
            continue
        yield pytest.param(method, eco, part, id=f"{cfg.method_label}-{part}")


COMBOS = list(_combos())


def test_the_matrix_covers_every_method_and_schedule():
    ids = {p.id for p in COMBOS}
    assert {"fedit-fedbuff", "ffa-lora+ecolora-fedbuff", "flora-deadline", "flora+ecolora-deadline",
            "hlora-deadline", "celora-deadline", "celora-uniform"} <= ids
    assert "flora-fedbuff" not in ids and "hlora+ecolora-uniform" not in ids
    assert len(ids) == 20  # 8 sync, 8 deadline, 4 FedBuff (the single-layout methods)


@pytest.mark.parametrize(("method", "eco", "participation"), COMBOS)
def test_method_runs_under_schedule(tiny_cfg, tmp_path, method, eco, participation):
    deadline = participation == "deadline"
    settings = {}
    if deadline:
        trace = tmp_path / "on.csv"
        pd.DataFrame({"client": list(ON), "on": list(ON.values())}).to_csv(trace, index=False)
        settings = {"deadline": {"deadline_s": DEADLINE_S, "over_selection": 3.0, "availability_trace": str(trace)}}
    cfg = tiny_cfg(method=method, participation=participation, rounds=4 if deadline else 2, participants=2,
                   local_steps=1, max_len=32, eval_examples=4, ranks=(8, 4, 2),
                   ecolora=EcoLoRAConfig(n_segments=2) if eco else None,
                   links=LINKS if participation != "uniform" else (), settings=settings)
    arrivals = NetworkArrivals(cfg) if participation != "uniform" else None
    run = read_run(train(cfg, tmp_path / "run", progress=False, arrivals=arrivals))
    assert run.meta["status"] == "complete"
    losses = run.evals.set_index("round")["eval_loss"]
    assert list(losses.index) == list(range(-1, cfg.rounds))
    if not deadline:
        assert (run.rounds.groupby("round").size() == cfg.participants).all()
        return
    inv = run.invitations
    aggregated = inv.groupby("round")["aggregated"].sum()
    assert list(aggregated) == [2, 0, 2, 0], inv.to_string()
    assert (inv.loc[inv["round"] == 3, "unavailable"] == 1).all()  # nobody available: no uploads at all
    late = inv[inv["round"] == 1]
    assert late["unavailable"].eq(0).any() and late.loc[late["unavailable"] == 0, "late"].eq(1).all()
    assert (late["uplink_bytes"] > 0).any()  # the slow clients did upload, too late
    for t in EMPTY_ROUNDS:
        assert losses[t] == losses[t - 1], f"round {t} aggregated nothing but the global model changed"
    assert losses[2] != losses[1]  # the round after an empty one trains again
