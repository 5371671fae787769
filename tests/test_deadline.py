"""Deadline rounds: the network decides which updates are aggregated (issue 11, item 8)."""
from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from fl_core.run.config import RunConfig
from fl_core.rundir.reader import read_run
from fl_core.schedules.base import Transfer
from fl_core.schedules.deadline import DeadlineConfig, select_arrivals
from harness.arrivals import NetworkArrivals, ScenarioArrivals
from harness.cli import main
from harness.scenario.toml import load_text

SLOW = {0, 1}  # clients on 0.2/1 Mbps; the others on 5/25 Mbps
LINKS = "0.2/1,0.2/1,5/25,5/25,5/25,5/25"  # cycled by client id


@pytest.fixture(scope="module")
def deadline_run(dolly_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("deadline") / "run"
    args = ["train", "--model", "tiny-llama", "--dataset", str(dolly_file), "--clients", "6", "--participants", "2",
            "--rounds", "4", "--local-steps", "1", "--batch-size", "2", "--max-len", "48", "--rank", "32",
            "--eval-examples", "8", "--eval-every", "4", "--arc-subset", "0", "--arc-final", "0", "--no-progress",
            "--schedule", "deadline", "--deadline", "2.0", "--over-selection", "2", "--availability", "0.8",
            "--links", LINKS, "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return read_run(out)


def test_slow_clients_miss_a_tight_deadline(deadline_run):
    rows = deadline_run.invitations
    print("\n" + rows[["round", "client", "available", "aggregated", "late", "download_s", "arrival_s",
                       "uplink_bytes"]].to_string(index=False))
    assert (rows.groupby("round").size() == 4).all()  # ceil(2 x 2) invited per round
    sent = rows[rows["unavailable"] == 0]
    assert (sent.loc[sent["client"].isin(SLOW), "aggregated"] == 0).all()  # 57 kB at 0.2 Mbps: > 2 s
    assert (sent.loc[sent["client"].isin(SLOW), "late"] == 1).all()
    for _, r in sent.groupby("round"):
        fast = r[~r["client"].isin(SLOW)]
        assert r["aggregated"].sum() == min(2, len(fast))
        assert (r.loc[r["aggregated"] == 1, "arrival_s"] <= 2.0).all()
    # late traffic still happened (wasted), unavailable invitees sent nothing and are not transfers
    assert (sent.loc[sent["late"] == 1, "uplink_bytes"] > 0).all()
    assert len(deadline_run.rounds) == len(sent)
    assert deadline_run.meta["schedule"] == "deadline"


def test_replaying_the_rows_reproduces_the_arrival_order(deadline_run):
    cfg = RunConfig.from_dict(deadline_run.meta["config"])
    arrivals = NetworkArrivals(cfg)
    arrivals.run = deadline_run.path.name
    deadline = cfg.settings_of("deadline", DeadlineConfig).deadline_s
    for t, r in deadline_run.rounds.groupby("round"):
        transfers = [Transfer(int(x.client), int(x.downlink_bytes), float(x.compute_s), int(x.uplink_bytes))
                     for x in r.itertuples()]
        timings = arrivals.round_times(t, transfers)
        assert [pytest.approx(x.upload_done_s, abs=1e-9) for x in timings] == list(r["arrival_s"])
        recorded = r[r["aggregated"] == 1].sort_values(["arrival_s", "position"])["client"].tolist()
        assert select_arrivals(timings, cfg.participants, deadline) == recorded


def test_availability_trace_decides_who_is_available(dolly_file, tmp_path):
    trace = tmp_path / "on.csv"
    pd.DataFrame({"client": list(range(6)), "on": ["0"] * 6}).to_csv(trace, index=False)
    trace.write_text(trace.read_text().replace(",0\n", ",01\n"))  # everyone off in even rounds
    args = ["train", "--model", "tiny-llama", "--dataset", str(dolly_file), "--clients", "6", "--participants", "2",
            "--rounds", "2", "--local-steps", "1", "--batch-size", "2", "--max-len", "32", "--rank", "2",
            "--eval-examples", "4", "--arc-subset", "0", "--arc-final", "0", "--no-progress",
            "--schedule", "deadline", "--deadline", "30", "--availability-trace", str(trace),
            "--links", "5/25", "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    run = read_run(tmp_path / "run")
    inv = run.invitations
    assert (inv.loc[inv["round"] == 0, "unavailable"] == 1).all()
    assert (inv.loc[inv["round"] == 1, "aggregated"].sum()) == 2
    assert set(run.rounds["round"]) == {1}


def test_lossy_links_from_a_scenario_file_are_dropped(dolly_file, tmp_path):
    """Clients 0 and 1 on 1/5 Mbps with 20 % random loss both ways; the rest on 5/25 Mbps. Without the
    loss the 1/5 clients would make the 2 s deadline (checked on the same rounds): the loss drops them."""
    clients = '[[clients]]\nids = [0, 1]\nup = "1Mbps"\ndown = "5Mbps"\n'
    head = 'description = "two lossy clients"\nseed = 3\n[link]\nup = "5Mbps"\ndown = "25Mbps"\n'
    tail = '[round]\nschedule = "deadline"\ndeadline = "2s"\nover_selection = 2.0\n'
    path = tmp_path / "lossy.toml"
    path.write_text(head + clients + "loss = 0.2\n" + tail)
    out = tmp_path / "lossy"
    args = ["train", "--model", "tiny-llama", "--dataset", str(dolly_file), "--clients", "6",
            "--participants", "2", "--rounds", "2", "--local-steps", "1", "--batch-size", "2", "--max-len", "48",
            "--rank", "32", "--eval-examples", "8", "--arc-subset", "0", "--arc-final", "0", "--no-progress",
            "--scenario", str(path), "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    run = read_run(out)
    rows = run.invitations
    print("\n" + rows[["round", "client", "aggregated", "late", "arrival_s"]].to_string(index=False))
    assert run.meta["schedule"] == "deadline"
    assert (rows.groupby("round").size() == 4).all()
    slow = rows[rows["client"].isin(SLOW)]
    assert len(slow) > 0 and (slow["aggregated"] == 0).all() and (slow["arrival_s"] > 2.0).all()
    assert (rows.loc[~rows["client"].isin(SLOW), "aggregated"] == 1).sum() == sum(
        min(2, (~r["client"].isin(SLOW)).sum()) for _, r in rows.groupby("round"))
    lossless = ScenarioArrivals(load_text(head + clients + tail, name="lossless", origin="test"), run=out.name)
    for t, r in run.rounds.groupby("round"):
        timings = lossless.round_times(t, [Transfer(int(x.client), int(x.downlink_bytes), float(x.compute_s),
                                                    int(x.uplink_bytes)) for x in r.itertuples()])
        assert all(x.upload_done_s < 2.0 for x in timings if x.client in SLOW), timings
