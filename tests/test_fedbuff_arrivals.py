"""FedBuff's arrival model applies the scenario's compute model and simulates each dispatch as it happens.

A dispatch is download, compute (the measured time times the client's compute factor) and
upload in one simulation, so the upload meets cross traffic and capacity traces where it
really starts; its seed is (run, dispatch, client), not the order dispatches are asked in.
"""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from fl_core.rundir.reader import read_run
from fl_core.schedules.base import Transfer
from harness.arrivals import ScenarioArrivals
from harness.cli import main
from harness.scenario import load_scenario
from harness.scenario.toml import load_text

KB = 1000


def _scenario(body: str):
    return load_text(body, name="t", origin="test")


def test_the_compute_factor_of_a_straggler_is_applied():
    arrivals = ScenarioArrivals(_scenario('[link]\nup = "5Mbps"\ndown = "25Mbps"\n'
                                          '[[clients]]\nids = [1]\ncompute = 4.0\n'), run="r")
    fast = arrivals.dispatch_times(0, Transfer(0, 10 * KB, 0.5, 10 * KB))
    slow = arrivals.dispatch_times(1, Transfer(1, 10 * KB, 0.5, 10 * KB))
    assert fast.upload_start_s - fast.download_done_s == pytest.approx(0.5)
    assert slow.upload_start_s - slow.download_done_s == pytest.approx(2.0)
    assert slow.upload_done_s > fast.upload_done_s + 1.4


def test_the_upload_meets_cross_traffic_where_it_really_starts():
    """A bulk upload competes from t = 3 s: an upload after 5 s of compute shares the uplink, one at once does not."""
    arrivals = ScenarioArrivals(_scenario('[link]\nup = "1Mbps"\ndown = "5Mbps"\n'
                                          '[[link.cross]]\ndirection = "up"\nkind = "bulk"\nstart = "3s"\n'), run="r")
    early = arrivals.dispatch_times(0, Transfer(0, 10 * KB, 0.0, 100 * KB))
    late = arrivals.dispatch_times(0, Transfer(0, 10 * KB, 5.0, 100 * KB))
    print(f"\nupload alone {early.upload_s:.3f} s, beside the bulk flow {late.upload_s:.3f} s")
    assert early.upload_done_s < 3.0
    assert late.upload_s > 1.5 * early.upload_s


def test_a_dispatch_seed_is_its_own_not_a_call_counter():
    arrivals = lambda: ScenarioArrivals(load_scenario("dsl-lossy"), run="r")  # noqa: E731  0.5 % random loss
    transfer = Transfer(2, 20 * KB, 0.1, 300 * KB)
    alone = arrivals().dispatch_times(7, transfer)
    other = arrivals()
    other.dispatch_times(3, Transfer(1, 20 * KB, 0.1, 300 * KB))
    assert other.dispatch_times(7, transfer) == alone  # whatever was asked before
    times = {arrivals().dispatch_times(d, transfer).upload_done_s for d in range(6)}
    assert len(times) > 1  # the dispatch's seed decides its losses


def test_fedbuff_training_leaves_a_4000x_straggler_out(dolly_file, tmp_path):
    """Client 1 computes 4000x slower (``[[clients]] compute``): its update never reaches a buffer."""
    scenario = tmp_path / "straggler.toml"
    scenario.write_text('[link]\nup = "5Mbps"\ndown = "25Mbps"\n[[clients]]\nids = [1]\ncompute = 4000.0\n')
    out = tmp_path / "fedbuff"
    args = ["train", "--model", "tiny-llama", "--dataset", str(dolly_file), "--clients", "4", "--participants", "2",
            "--concurrency", "4", "--participation", "fedbuff", "--rounds", "4", "--scenario", str(scenario),
            "--local-steps", "1", "--batch-size", "2", "--max-len", "32", "--rank", "4", "--eval-examples", "4",
            "--eval-every", "4", "--arc-subset", "0", "--arc-final", "0", "--no-progress", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    run = read_run(out)
    rows = run.rounds
    assert 1 not in set(rows["client"]) and 1 in run.meta["discarded_in_flight"]
    used = rows["upload_start_s"] - rows["download_s"]
    assert used.to_numpy() == pytest.approx(rows["compute_s"].to_numpy())  # the others: factor 1
    assert rows["arrival_s"].to_numpy() == pytest.approx((rows["dispatch_s"] + rows["upload_start_s"] + rows["upload_s"]).to_numpy())
