"""Replay with heterogeneous per-client links: each client's flows run at its own rates."""
from __future__ import annotations

import pandas as pd
from click.testing import CliRunner

from fl_core.run import loop
from fl_core.run.config import RunConfig
from harness.cli import main


def test_per_client_links_shape_each_client(tmp_path, dolly_file):
    cfg = RunConfig(model="tiny-llama", dataset=str(dolly_file), n_clients=4, participants=4, rounds=1,
                    local_steps=1, batch_size=2, max_len=32, rank=8, lora_alpha=16, eval_examples=4,
                    arc_subset=0, arc_final=0)
    run = loop.train(cfg, tmp_path / "run", progress=False)
    out = tmp_path / "replay"
    result = CliRunner().invoke(main, ["replay", str(run), "--network", "1/5", "--links", "0.2/1,5/25",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    timing = pd.read_csv(out / "timing.csv").set_index("client")
    slow, fast = timing.loc[[0, 2]], timing.loc[[1, 3]]  # clients cycle through the list by id
    assert (slow["upload_s"].values > 3 * fast["upload_s"].values.max()).all()
    assert (slow["download_s"].values > fast["download_s"].values.max()).all()
    assert timing["scenario"].iloc[0] == "links 0.2/1,5/25"
