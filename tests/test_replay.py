"""Replay, timing tables, sweeps and the CLI verbs, on small synthetic run directories.

ns-3 runs in the session's shared worker; the sweep test kills it once with a real ns-3
abort (a bad attribute name given to plain ``Config::SetDefault``), so the suite imports
ns-3 twice in all.
"""
from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from fl_core.rundir.writer import RunWriter
from harness.cli import main
from harness.replay import replay, replay_record
from harness.sweep import run_sweep
from harness.timing import SUMMARY_COLUMNS, TIMING_COLUMNS, summarize
from ns3_scenarios.network import PRESETS, parse_network


def write_run(path, method, rounds, clients, up, down, compute_s=2.0):
    """A run directory with ``rounds`` x ``clients`` rows of fixed sizes (bytes) and compute times."""
    writer = RunWriter(path, keep_blobs=False)
    writer.write_meta({"method": method, "run_name": path.name})
    for r in range(rounds):
        writer.add_round([{"round": r, "client": c, "compute_s": compute_s + 0.25 * c, "uplink_bytes": up + 97 * c,
                           "downlink_bytes": down} for c in range(clients)])
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    return {
        "fedit": write_run(base / "fedit", "fedit", 2, 3, 150_000, 150_000),
        "ecolora": write_run(base / "ecolora", "fedit+ecolora", 2, 3, 20_000, 60_000),
        "big_upload": write_run(base / "big_upload", "fedit", 1, 1, 10_000_000, 1_000, compute_s=0.5),
    }


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.lower().startswith("error")]
    assert result.exit_code != 0 and len(lines) == 1, result.output
    return lines[0]


def test_10mb_upload_at_1_mbps_is_reported_with_goodput_below_the_link_rate(runs):
    summary = summarize(replay(runs["big_upload"], PRESETS["1/5"]))
    assert 0.8 < summary.loc[0, "goodput_up_mbps"] < 1.0


def test_replay_cli_writes_timing_and_summary_tables(runs, tmp_path):
    out = tmp_path / "replay"
    result = CliRunner().invoke(main, ["replay", str(runs["fedit"]), "--network", "1/5", "--latency", "50ms",
                                       "--compute-scale", "0.5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    timing = pd.read_csv(out / "timing.csv", dtype={"scenario": str})
    assert list(timing.columns) == TIMING_COLUMNS
    assert pd.read_parquet(out / "timing.parquet").shape == timing.shape
    assert len(timing) == 6 and set(timing["compute_source"]) == {"recorded x0.5"}
    assert timing.loc[timing["client"] == 2, "compute_s"].tolist() == [1.25, 1.25]
    per_round = timing.drop_duplicates("round")
    assert (per_round["round_s"] - per_round[["critical_download_s", "critical_compute_s", "critical_upload_s"]]
            .sum(axis=1)).abs().max() < 1e-6
    assert (timing["client_finish_s"] <= timing["round_s"] + 1e-9).all()
    assert ((timing["analytic_upload_s"] / timing["upload_s"]).between(0.8, 1.2)).all()
    summary = pd.read_csv(out / "summary.csv", dtype={"scenario": str})
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert summary.loc[0, "total_s"] == pytest.approx(summary.loc[0, "computation_s"]
                                                      + summary.loc[0, "communication_s"])


def test_exact_star_replay_equals_isolated_flows(runs):
    network = parse_network("2/10")
    isolated = replay(runs["ecolora"], network)
    exact = replay(runs["ecolora"], network, exact_star=True)
    assert set(isolated["engine"]) == {"isolated"} and set(exact["engine"]) == {"star"}
    assert (isolated["client_finish_s"] - exact["client_finish_s"]).abs().max() < 1e-6


def test_per_client_links_shape_each_client(runs):
    slow = PRESETS["0.2/1"]
    timing = replay(runs["ecolora"], PRESETS["5/25"], client_links={1: slow})
    client1 = timing[timing["client"] == 1]
    assert set(client1["up_mbps"]) == {0.2} and set(timing.loc[timing["client"] != 1, "up_mbps"]) == {5.0}
    assert (timing["critical_client"] == 1).all()


def test_a_sweep_does_not_resume_with_other_options(runs, tmp_path):
    from fl_core.errors import ConfigError

    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "sweep.json").write_text('{"compute_scale": 0.5, "exact_star": false}')
    with pytest.raises(ConfigError, match="choose another --out"):
        run_sweep([runs["fedit"]], [PRESETS["1/5"]], tmp_path / "sweep", progress=False)


@pytest.mark.parametrize("args, fragment", [
    (["--network", "1Mbps"], "invalid network '1Mbps': expected UP/DOWN in Mbps, e.g. 1/5"),
    (["--network", "0/5"], "invalid network '0/5': the uplink rate must be > 0 Mbps"),
    (["--network", "1/5", "--latency", "-5ms"], "invalid latency '-5ms': must be >= 0"),
    (["--network", "1/5", "--latency", "50"], "give a unit"),
    (["--network", "1/5", "--server-link", "0"], "invalid rate 0 Mbps"),
    (["--network", "1/5", "--compute-scale", "nan"], "invalid compute scale nan"),
])
def test_bad_replay_options_fail_with_one_clear_line(runs, tmp_path, args, fragment):
    result = CliRunner().invoke(main, ["replay", str(runs["fedit"]), *args, "--out", str(tmp_path)])
    assert fragment in one_error_line(result)
    assert not (tmp_path / "timing.csv").exists()


def test_a_missing_run_directory_fails_with_one_clear_line(tmp_path):
    result = CliRunner().invoke(main, ["replay", str(tmp_path / "nope"), "--network", "1/5", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "does not exist" in one_error_line(result)


def test_bad_network_list_is_a_usage_error(runs, tmp_path):
    result = CliRunner().invoke(main, ["sweep", str(runs["fedit"]), "--networks", "1/5,abc", "--out", str(tmp_path)])
    assert "invalid network 'abc'" in one_error_line(result)


def fatal_on_2_10(record, network, **options):
    """Sweep-cell test hook: a real ns-3 abort (NS_FATAL, exit 133) on the 2/10 network."""
    if network.name == "2/10":
        from ns3_scenarios import simcore

        ns = simcore.load()
        ns.Config.SetDefault("ns3::TcpSocket::NoSuchAttribute", ns.UintegerValue(1))
    return replay_record(record, network, **options)


def test_an_ns3_abort_in_one_cell_is_recorded_and_the_others_finish(runs, tmp_path):
    networks = [PRESETS["0.2/1"], PRESETS["2/10"], PRESETS["5/25"]]
    out = tmp_path / "sweep"
    first = run_sweep([runs["fedit"]], networks, out, cell_fn=fatal_on_2_10, progress=False)
    assert (first.ran, first.skipped) == (3, 0)
    assert first.failures["scenario"].tolist() == ["2/10"]
    error = first.failures.loc[0, "error"]
    assert "exit code 133" in error and "Could not set default value for ns3::TcpSocket::NoSuchAttribute" in error
    assert sorted(first.summary["scenario"]) == ["0.2/1", "5/25"]
    assert pd.read_csv(out / "failures.csv").shape[0] == 1

    resumed = run_sweep([runs["fedit"]], networks, out, progress=False)
    assert (resumed.ran, resumed.skipped) == (1, 2) and resumed.failures.empty
    assert resumed.summary["scenario"].tolist() == ["0.2/1", "2/10", "5/25"]
    totals = resumed.summary.set_index("scenario")["total_s"]
    assert totals["0.2/1"] > totals["2/10"] > totals["5/25"]


def test_sweep_and_plot_cli(runs, tmp_path):
    out = tmp_path / "sweep"
    result = CliRunner().invoke(main, ["sweep", str(runs["fedit"]), str(runs["ecolora"]), "--networks", "1/5,5/25",
                                       "--no-progress", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "summary.csv", dtype={"scenario": str})
    assert len(summary) == 4
    comm = summary.set_index(["scenario", "method"])["communication_s"]
    assert comm[("1/5", "fedit+ecolora")] < comm[("1/5", "fedit")]
    figure = tmp_path / "figure3.png"
    result = CliRunner().invoke(main, ["plot", str(out / "timing.csv"), "--out", str(figure)])
    assert result.exit_code == 0, result.output
    assert figure.read_bytes()[:4] == b"\x89PNG"


def test_plot_refuses_a_csv_missing_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"scenario": ["1/5"], "method": ["fedit"], "total_s": [1.0]}).to_csv(bad, index=False)
    result = CliRunner().invoke(main, ["plot", str(bad), "--out", str(tmp_path / "f.png")])
    line = one_error_line(result)
    assert "lacks columns: up_mbps, down_mbps, computation_s, communication_s" in line
    assert not (tmp_path / "f.png").exists()
