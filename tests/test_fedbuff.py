"""Asynchronous FedBuff training: arrival order comes from ns-3 flows over each client's link."""
from __future__ import annotations

from click.testing import CliRunner

from fl_core.rundir.reader import read_run
from harness.cli import main


def test_slow_link_client_is_left_out_of_buffers(dolly_file, tmp_path):
    out = tmp_path / "fedbuff"
    args = ["train", "--model", "tiny-llama", "--dataset", str(dolly_file), "--clients", "6",
            "--participants", "2", "--concurrency", "6", "--participation", "fedbuff", "--rounds", "8",
            "--links", "0.2/1,5/25,5/25,5/25,5/25,5/25", "--local-steps", "1", "--batch-size", "2",
            "--max-len", "48", "--rank", "16", "--eval-examples", "8", "--eval-every", "8",
            "--arc-subset", "0", "--arc-final", "0", "--no-progress", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    run = read_run(out)
    rows = run.rounds
    assert len(rows) == 16 and (rows.groupby("round").size() == 2).all()
    slow = rows[rows["client"] == 0]
    assert len(slow) <= 1, "the 0.2/1 client should be overtaken by the 5/25 clients"
    fast = rows[rows["client"] != 0]
    assert (fast["upload_s"] < 0.5).all()
    assert (rows["arrival_s"] >= rows["dispatch_s"]).all()
    # arrivals are aggregated in time order: each buffer's arrivals come no earlier than the previous one's
    by_round = rows.groupby("round")["arrival_s"]
    assert (by_round.min().values[1:] >= by_round.max().values[:-1] - 1e-9).all()
    # a client dispatched with version v > 0 starts when buffer v - 1 is complete: that version exists only then
    later = rows[rows["dispatch_round"] > 0]
    closes = by_round.max().loc[later["dispatch_round"] - 1].to_numpy()
    assert len(later) and (later["dispatch_s"].to_numpy() == closes).all()
    assert (rows["staleness"] >= 0).all() and rows["staleness"].max() >= 1
    if len(slow) == 0:
        assert 0 in run.meta["discarded_in_flight"]


def test_fedbuff_needs_links(dolly_file, tmp_path):
    args = ["train", "--model", "tiny-llama", "--dataset", str(dolly_file), "--clients", "6",
            "--participants", "2", "--participation", "fedbuff", "--out", str(tmp_path / "x")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "FedBuff needs per-client links" in result.output
