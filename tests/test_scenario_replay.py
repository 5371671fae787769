"""Scenarios through replay and sweep: old run directories replay to the same timing tables, the
``--scenario`` CLI, the resolved spec beside the tables, and the references in every row.

The golden tables in ``tests/data/replay_golden/`` were written by the code before scenarios
existed (commit 3ac9157, ``netbench replay`` with the flags in :data:`GOLDEN`) from the run
that :func:`golden_run` writes; every column they have must come out identical.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from fl_core.rundir.writer import RunWriter
from harness.cli import main
from harness.replay import replay
from harness.scenario import load_scenario
from harness.sweep import run_sweep
from harness.timing import TIMING_COLUMNS

DATA = Path(__file__).parent / "data" / "replay_golden"
#: ``--tcp linux``: the default the golden tables were written with (``linux-rto`` since issue 18).
GOLDEN = {
    "plain": ["--network", "1/5", "--tcp", "linux"],
    "scaled": ["--network", "2/10", "--latency", "20ms", "--compute-scale", "0.5", "--tcp", "linux"],
    "star": ["--network", "0.2/1", "--exact-star", "--tcp", "ns3-default"],
    "server": ["--network", "5/25", "--server-link", "8", "--tcp", "linux"],
    "links-cycle": ["--network", "1/5", "--links", "0.2/1,5/25", "--tcp", "linux"],
    "links-seed": ["--network", "1/5", "--links", "0.2/1,2/10,5/25", "--links-seed", "3", "--latency", "30ms",
                   "--tcp", "linux"],
}


def write_run(path, method, rounds, clients, up, down, compute_s=2.0):
    """The golden run's writer: sizes and compute times vary by client and round."""
    writer = RunWriter(path, keep_blobs=False)
    writer.write_meta({"method": method, "run_name": path.name, "config": {"n_clients": clients}})
    for r in range(rounds):
        writer.add_round([{"round": r, "client": c, "compute_s": compute_s + 0.25 * c + 0.01 * r,
                           "uplink_bytes": up + 97 * c + 13 * r, "downlink_bytes": down + 11 * r}
                          for c in range(clients)])
    return path


@pytest.fixture(scope="module")
def golden_run(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("runs") / "golden", "fedit+ecolora", 2, 4, 40_000, 90_000)


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.lower().startswith("error")]
    assert result.exit_code != 0 and len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize("case", list(GOLDEN))
def test_old_flags_replay_to_identical_timing_tables(golden_run, tmp_path, case):
    out = tmp_path / case
    result = CliRunner().invoke(main, ["replay", str(golden_run), *GOLDEN[case], "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = {"scenario": str, "compute_source": str}
    old = pd.read_csv(DATA / f"{case}.csv", dtype=text)
    new = pd.read_csv(out / "timing.csv", dtype=text)
    assert list(new.columns) == TIMING_COLUMNS and set(old.columns) <= set(new.columns)
    same = [c for c in old.columns if c != "scenario"]  # the label names linux now that it is not the default
    pd.testing.assert_frame_equal(new[same], old[same], check_exact=True)
    assert (new["scenario"].str.replace(" linux", "", regex=False) == old["scenario"]).all()
    spec = json.loads((out / "scenario.json").read_text())
    assert spec["hash"] == new["scenario_hash"].iloc[0] and spec["name"] == new["scenario"].iloc[0]


def test_a_builtin_scenario_by_name_equals_the_network_flag(golden_run, tmp_path):
    by_name = CliRunner().invoke(main, ["replay", str(golden_run), "--scenario", "1/5", "--out", str(tmp_path / "a")])
    assert by_name.exit_code == 0, by_name.output
    by_flag = CliRunner().invoke(main, ["replay", str(golden_run), "--network", "1/5", "--out", str(tmp_path / "b")])
    assert by_flag.exit_code == 0, by_flag.output
    a = pd.read_csv(tmp_path / "a" / "timing.csv")
    b = pd.read_csv(tmp_path / "b" / "timing.csv")
    assert (a["client_finish_s"] == b["client_finish_s"]).all() and (a["tcp"] == "linux-cubic").all()
    assert a["scenario_hash"].iloc[0] == load_scenario("1/5").hash


def test_every_row_carries_the_references(golden_run):
    timing = replay(golden_run, load_scenario("1/5"))
    assert (timing["plain_upload_s"] == timing["uplink_bytes"] * 8 / 1e6).all()
    assert (timing["theory_upload_s"] == timing["analytic_upload_s"]).all()  # a plain link: theory = closed form
    assert (timing["plain_upload_s"] < timing["analytic_upload_s"]).all()
    assert (timing["analytic_upload_s"] <= timing["upload_s"] * 1.001).all()


def test_loss_makes_ns3_slower_than_the_closed_form_and_theory_follows(golden_run, tmp_path):
    scenario_file = tmp_path / "lossy.toml"
    scenario_file.write_text('seed = 3\n[link]\nup = "1Mbps"\ndown = "5Mbps"\nloss = 0.05\n')
    out = tmp_path / "sweep"
    result = CliRunner().invoke(main, ["sweep", str(golden_run), "--scenario", str(scenario_file),
                                       "--scenario", "1/5", "--no-progress", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "summary.csv").set_index("scenario")
    assert summary.loc["lossy", "ns3_over_analytic"] > summary.loc["1/5", "ns3_over_analytic"]
    assert summary.loc["1/5", "ns3_over_analytic"] == pytest.approx(1.0, abs=0.1)
    assert summary.loc["lossy", "theory_communication_s"] > summary.loc["lossy", "analytic_communication_s"]
    specs = json.loads((out / "scenarios.json").read_text())
    assert set(specs) == set(summary["scenario_hash"])
    # the same scenario again: every cell is reused (the key holds the hash), nothing resimulated
    again = run_sweep([golden_run], [load_scenario(str(scenario_file)), load_scenario("1/5")], out, progress=False)
    assert (again.ran, again.skipped) == (0, 2)
    assert again.timing.equals(pd.read_csv(out / "timing.csv", dtype=again.timing.dtypes.to_dict()))


def test_scenario_and_shorthand_flags_do_not_mix(golden_run, tmp_path):
    result = CliRunner().invoke(main, ["replay", str(golden_run), "--scenario", "1/5", "--latency", "20ms",
                                       "--out", str(tmp_path)])
    assert "--scenario replaces --latency" in one_error_line(result)
    result = CliRunner().invoke(main, ["replay", str(golden_run), "--out", str(tmp_path)])
    assert "--network" in one_error_line(result)
    assert not any(tmp_path.iterdir())


def test_arrivals_for_training_equal_what_replay_shows(golden_run, tmp_path):
    """The deadline schedule's arrival times (ScenarioArrivals) and replay of the finished run agree, loss included."""
    from fl_core.rundir.reader import read_run
    from harness.arrivals import ScenarioArrivals
    from ns3_scenarios.transfers import ClientTransfer

    scenario_file = tmp_path / "mixed.toml"
    scenario_file.write_text('seed = 4\n[link]\nup = "1Mbps"\ndown = "5Mbps"\nloss = 0.02\n'
                             '[[clients]]\nids = [1]\nup = "0.2Mbps"\ndown = "1Mbps"\ncompute = 3.0\n')
    scenario = load_scenario(str(scenario_file))
    record = read_run(golden_run)
    timing = replay(record, scenario)
    arrivals = ScenarioArrivals(scenario, run=record.name)
    for round_idx, rows in record.rounds.groupby("round"):
        transfers = [ClientTransfer(int(r.client), int(r.downlink_bytes), float(r.compute_s), int(r.uplink_bytes))
                     for r in rows.sort_values("client").itertuples()]
        got = arrivals.round_times(int(round_idx), transfers)
        want = timing[timing["round"] == round_idx].sort_values("client")
        assert [round(t.upload_done_s, 9) for t in got] == want["client_finish_s"].tolist()
    assert arrivals.compute_factor(1) == 3.0
    assert (timing.loc[timing["client"] == 1, "up_mbps"] == 0.2).all()
