"""Federated training on the tiny model: the run directory records exactly what was sent."""
from __future__ import annotations


import pandas as pd
import pytest

from fl_core.run import loop
from fl_core.run.config import EcoLoRAConfig
from fl_core.rundir.reader import read_run, verify_blobs


def _check_blobs(run) -> None:
    assert verify_blobs(run) == 2 * len(run.rounds)


def test_fedit_run_directory_is_complete(tiny_cfg, tmp_path):
    out = loop.train(tiny_cfg(rounds=3), tmp_path / "fedit", progress=False)
    run = read_run(out)
    assert run.meta["status"] == "complete"
    assert sorted(run.rounds["round"].unique()) == [0, 1, 2]
    assert (run.rounds.groupby("round").size() == 3).all()
    assert (run.rounds["compute_s"] >= run.rounds["train_s"]).all()
    _check_blobs(run)
    assert list(run.evals["round"]) == [-1, 0, 1, 2]
    assert run.evals["eval_loss"].iloc[-1] < run.evals["eval_loss"].iloc[0]


def test_ffa_lora_uploads_about_half_of_fedit(tiny_cfg, tmp_path):
    fedit = read_run(loop.train(tiny_cfg(rounds=1), tmp_path / "a", progress=False))
    ffa = read_run(loop.train(tiny_cfg(rounds=1, method="ffa-lora"), tmp_path / "b", progress=False))
    ratio = ffa.rounds["uplink_bytes"].mean() / fedit.rounds["uplink_bytes"].mean()
    # tiny model: A is r x 64, B is 64 x r (q) and 32 x r (v) -> B is 3/7 of the adapter
    assert 0.35 < ratio < 0.6


def test_ecolora_cuts_uploads_and_records_stage_bytes(tiny_cfg, tmp_path):
    fedit = read_run(loop.train(tiny_cfg(rounds=3), tmp_path / "a", progress=False))
    # the tiny model's loss barely moves, so k stays near k_max = 0.95 where a dense segment is
    # smaller than the sparse one: switch the fallback off to see the sparse stages' bytes
    eco_cfg = tiny_cfg(rounds=3, ecolora=EcoLoRAConfig(n_segments=3, dense_fallback=False))
    eco = read_run(loop.train(eco_cfg, tmp_path / "b", progress=False))
    _check_blobs(eco)
    assert eco.meta["method"] == "fedit+ecolora"
    assert eco.rounds["uplink_bytes"].sum() < 0.4 * fedit.rounds["uplink_bytes"].sum()
    r = eco.rounds
    assert set(r["segment"]) == {0, 1, 2}
    assert (r["up_position_bytes"] > 0).all() and (r["k_a"] <= 0.95).all()
    assert (r["up_header_bytes"] + r["up_position_bytes"] + r["up_value_bytes"] == r["uplink_bytes"]).all()
    assert eco.evals["eval_loss"].iloc[-1] < eco.evals["eval_loss"].iloc[0]
    fallback = read_run(loop.train(tiny_cfg(rounds=3, ecolora=EcoLoRAConfig(n_segments=3)), tmp_path / "c",
                                   progress=False))
    _check_blobs(fallback)
    f = fallback.rounds  # every upload that went dense is smaller than its sparse twin would have been
    dense = f["up_position_bytes"] == 0
    assert dense.any() and (f.loc[dense, "up_value_bytes"] < r.loc[dense, "up_position_bytes"]
                            + r.loc[dense, "up_value_bytes"]).all()


def test_ecolora_ablations_change_the_byte_streams(tiny_cfg, tmp_path):
    def up(**eco) -> pd.Series:
        cfg = tiny_cfg(rounds=1, ecolora=EcoLoRAConfig(n_segments=3, dense_fallback=False, **eco))
        return read_run(loop.train(cfg, tmp_path / str(len(list(tmp_path.iterdir()))), progress=False)).rounds

    full, no_rr, no_sparse, raw = up(), up(round_robin=False), up(sparsify=False), up(encode=False)
    assert no_rr["uplink_bytes"].mean() > 2.5 * full["uplink_bytes"].mean()
    assert (no_sparse["up_position_bytes"] == 0).all()
    assert raw["up_position_bytes"].sum() > 5 * full["up_position_bytes"].sum()
    assert (raw["up_value_bytes"] == full["up_value_bytes"]).all()


def test_refuses_more_segments_than_participants(tiny_cfg, tmp_path):
    from fl_core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"N_s \(=5\) must not exceed the participants per round N_t \(=3\)"):
        loop.train(tiny_cfg(ecolora=EcoLoRAConfig(n_segments=5)), tmp_path / "x", progress=False)
