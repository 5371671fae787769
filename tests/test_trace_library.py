"""The measured trace library: shipped files agree with their index, the converter's derivation,
``trace/...`` built-ins with provenance, seeded per-client trace assignment, ``plot --kind trace``,
and a replay through a measured uplink against the trace integral."""
from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fl_core.rundir.writer import RunWriter
from harness.cli import main
from harness.scenario import load_scenario
from harness.scenario.toml import load_text
from ns3_scenarios import trace_library
from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.seeds import flow_seed, unit_draw
from ns3_scenarios.traces import read_trace

ROOT = Path(__file__).resolve().parent.parent
MIX = '''seed = {seed}
[link]
up = "1Mbps"
down = "5Mbps"
[links]
traces = ["trace/*-lte-*"]
'''


def _converter():
    spec = importlib.util.spec_from_file_location("build_trace_library", ROOT / "benchmarks" / "build_trace_library.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_shipped_trace_matches_its_index_and_names_its_licence():
    files = [p for p in trace_library.DATA.iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 5e6
    assert len(trace_library.names()) >= 7
    for name in trace_library.names():
        entry = trace_library.get(name)
        prov = entry.provenance()
        assert prov["licence"] == "GPL-3.0-or-later" and (trace_library.DATA / prov["licence_file"]).is_file()
        assert prov["repository"].startswith("https://github.com/") and len(prov["commit"]) == 40 and prov["citation"]
        for direction, stats in entry.directions.items():
            trace = entry.trace(direction)
            mbps = np.asarray(trace.bps) / 1e6
            assert trace.source == f"{name}:{direction}" and trace.period_s == stats["duration_s"] == len(mbps)
            assert trace.mean_bps / 1e6 == pytest.approx(stats["mean_mbps"], abs=1e-4)
            assert np.percentile(mbps, 50) == pytest.approx(stats["p50_mbps"], abs=1e-4)
            assert np.mean(mbps == 0) == pytest.approx(stats["outage_share"], abs=1e-4)
            assert len(stats["upstream_blob"]) == 40 and stats["upstream_path"].startswith("traces/")


def test_the_converter_counts_delivery_opportunities_per_second(tmp_path):
    """Opportunities at 0.5 s x3, 1.2 s x1, 3.9 s x2 and a last stamp at 4.3 s: four whole windows."""
    upstream = tmp_path / "mahimahi"
    (upstream / "traces").mkdir(parents=True)
    (upstream / "traces" / "Verizon-LTE-short.up").write_text("500\n500\n500\n1200\n3900\n3900\n4300\n")
    (upstream / "COPYING").write_text("GPL text\n")
    index = _converter().build(_converter().Upstream(upstream, None), tmp_path / "out")
    up = index["traces"]["verizon-lte-short"]["directions"]["up"]
    assert index["traces"]["verizon-lte-short"]["measured"] == ["up"]
    assert "traces/Verizon-LTE-short.down" in index["missing_upstream_files"]
    trace = read_trace(tmp_path / "out" / up["file"])
    assert trace.bps == (3 * 12_000.0, 12_000.0, 0.0, 24_000.0) and trace.period_s == 4.0  # 4.3 s dropped
    assert (up["duration_s"], up["outage_share"], up["mean_mbps"]) == (4.0, 0.25, 0.018)
    assert (tmp_path / "out" / "LICENSE-mahimahi-GPL-3.0.txt").read_text() == "GPL text\n"


def test_trace_builtins_put_each_measured_direction_on_its_link_and_show_provenance():
    result = CliRunner().invoke(main, ["scenarios"])
    listed = [line.split()[0] for line in result.output.splitlines() if line.startswith("trace/")]
    assert result.exit_code == 0 and len(listed) >= 8
    s = load_scenario("trace/att-lte-driving")
    entry = trace_library.get("trace/att-lte-driving")
    assert s.network.up.trace == entry.trace("up") and s.network.down.trace == entry.trace("down")
    assert s.network.up_bps == pytest.approx(entry.mean_bps("up"), rel=1e-5) and s.network.latency_s == 0.05
    shown = json.loads(CliRunner().invoke(main, ["scenarios", "--show", "trace/att-lte-driving"]).output)
    assert shown["measured_traces"]["trace/att-lte-driving"]["directions"]["up"]["outage_share"] > 0.05
    # only the downlink was measured: the uplink is constant at a fifth of the downlink's mean
    down_only = load_scenario("trace/tmobile-lte-driving")
    assert down_only.network.up.trace is None and down_only.network.down.trace is not None
    assert down_only.network.up_bps == pytest.approx(0.2 * down_only.network.down.trace.mean_bps, rel=1e-5)
    assert "uplink not measured" in down_only.description


def _assignment(seed: int, clients) -> list[str]:
    s = load_text(MIX.format(seed=seed), name="mix", origin="mix.toml")
    return [s.link_of(c).up.trace.source if s.link_of(c).up.trace else s.link_of(c).down.trace.source
            for c in clients]


def test_per_client_traces_are_a_seeded_choice_stable_across_processes():
    clients = list(range(100))
    first = _assignment(3, clients)
    assert len({a.rsplit(":", 1)[0] for a in first}) == len(trace_library.match(["trace/*-lte-*"])) >= 4
    assert _assignment(3, [57, *clients])[1:] == first  # asking another client first changes nothing
    assert _assignment(4, clients) != first  # another seed, another draw
    code = ("from harness.scenario.toml import load_text\n"
            f"s = load_text({MIX.format(seed=3)!r}, name='mix', origin='mix.toml')\n"
            "print(s.hash, [(s.link_of(c).up.trace or s.link_of(c).down.trace).source for c in range(100)])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "77", "PATH": "/usr/bin:/bin"}).stdout
    digest, listed = out.split(" ", 1)
    s = load_text(MIX.format(seed=3), name="mix", origin="mix.toml")
    assert digest == s.hash and ast.literal_eval(listed) == first  # a resumed or replayed run sees the same federation
    # each client enters its trace at its own seeded offset, the same on every load
    seed = s.round_seed("run", 0)
    offsets = [unit_draw(flow_seed(seed, c, "trace")) for c in clients]
    assert len(set(offsets)) == 100
    assert offsets == [unit_draw(flow_seed(load_text(MIX.format(seed=3), name="m", origin="m").round_seed("run", 0),
                                           c, "trace")) for c in clients]


@pytest.mark.parametrize(("text", "message"), [
    ('[link]\nup = "1Mbps"\ndown = "5Mbps"\ntrace = "trace/nope"\n', "link.trace: unknown library trace 'trace/nope': expected one of trace/att-lte-driving"),
    ('[link]\nup = "1Mbps"\ndown = "5Mbps"\nuplink.trace = "trace/tmobile-lte-driving"\n',
     "link.uplink.trace: trace/tmobile-lte-driving has no uplink trace: only the downlink was measured"),
    ('[link]\nup = "1Mbps"\ndown = "5Mbps"\n[links]\ntraces = ["trace/norway-*"]\n',
     "links.traces[0]: 'trace/norway-*' matches no library trace"),
    ('[link]\nup = "1Mbps"\ndown = "5Mbps"\n[links]\ntraces = ["*-lte-*"]\n', "links.traces[0]: invalid pattern"),
    ('[link]\nup = "1Mbps"\ndown = "5Mbps"\ntrace = "trace/att-lte-driving"\n[links]\ntraces = ["trace/*-lte-*"]\n',
     "links.traces: [link] has a trace"),
])
def test_bad_library_references_are_one_clear_error(text, message):
    with pytest.raises(ScenarioError, match="^" + re.escape("bad.toml: " + message)):
        load_text(text, name="bad", origin="bad.toml")


def test_plot_trace_draws_library_traces_scenarios_and_files(tmp_path):
    csv = tmp_path / "mine.csv"
    csv.write_text("time_s,mbps\n0,1.0\n1,0\n2,3.0\n")
    for i, source in enumerate(["trace/att-lte-driving", "trace/us-3g-mix", str(csv)]):
        out = tmp_path / f"t{i}.png"
        result = CliRunner().invoke(main, ["plot", "--kind", "trace", source, "--out", str(out)])
        assert result.exit_code == 0 and out.stat().st_size > 10_000, result.output
    result = CliRunner().invoke(main, ["plot", "--kind", "trace", "1/5", "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and result.output.strip() == "error: scenario '1/5' has no capacity trace to plot"


def test_a_tiny_run_through_a_measured_uplink_follows_the_trace_integral(tmp_path):
    """Uploads over the measured Verizon EV-DO uplink (0.84 Mbit/s mean, 2.8 % outage seconds).

    ``theory_upload_s`` = handshake 2 L + the time the trace's integral takes to carry the wire bytes,
    entered at the client's trace clock, + L. Tolerance, per flow, [-2 %, +10 %]:
    * below: a frame being serialised when the rate drops finishes at the old rate, at most one 1538-B
      frame per 1 s step, < 1.5 % of a window at the trace's p10 of 0.23 Mbit/s and above;
    * above: slow start, which the integral leaves out, costs at most one RTT (the initial window of
      10 x 1448 B covers the 100 ms pipe up to 1.16 Mbit/s, the trace's p90 1.19 Mbit/s), < 10 % of
      uploads of >= 1 s; the cwnd ramp after a rate step added +0.3 % (mild) to +7.5 % (wild steps)
      in the project's 1 s trace check (NS3-REALISM item 3). Summed over flows, within 3 %.
    """
    from harness.replay import replay

    writer = RunWriter(tmp_path / "tiny", keep_blobs=False)
    writer.write_meta({"method": "fedit", "run_name": "tiny", "config": {"n_clients": 3}})
    for r in range(2):
        writer.add_round([{"round": r, "client": c, "compute_s": 2.0 + 0.5 * c, "uplink_bytes": 100_000 + 997 * c,
                           "downlink_bytes": 60_000} for c in range(3)])
    timing = replay(tmp_path / "tiny", load_scenario("trace/verizon-evdo-driving"))
    ratio = timing["upload_s"] / timing["theory_upload_s"]
    assert ((ratio > 0.98) & (ratio < 1.10)).all(), ratio.tolist()
    assert timing["upload_s"].sum() / timing["theory_upload_s"].sum() == pytest.approx(1.0, abs=0.03)
    # and the trace matters: its integral is not the closed form at the mean rate
    assert (timing["theory_upload_s"] - timing["analytic_upload_s"]).abs().max() > 0.1


def test_the_distribution_ships_every_library_file():
    import fnmatch
    import tomllib

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["ns3_scenarios"]
    for path in trace_library.DATA.iterdir():
        assert any(fnmatch.fnmatch(f"trace_data/{path.name}", p) for p in patterns), path.name


def test_the_trace_flag_takes_a_library_trace_each_direction_its_own():
    from harness.params import shorthand_scenario
    from ns3_scenarios.network import parse_network

    s = shorthand_scenario(parse_network("1/5"), latency=0.05, tcp="linux", compute_scale=None, server_link=None,
                           exact_star=False, loss=None, trace="trace/verizon-lte-short")
    entry = trace_library.get("trace/verizon-lte-short")
    assert s.network.up.trace == entry.trace("up") and s.network.down.trace == entry.trace("down")
    assert s.network.up_bps == 1e6  # the --network rates stay the nominal ones


def test_the_figure_scripts_outage_check_follows_the_trace_clock_and_wraps():
    from ns3_scenarios.links import CapacityTrace

    spec = importlib.util.spec_from_file_location("trace_figure3", ROOT / "benchmarks" / "trace_figure3.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    trace = CapacityTrace((0.0, 1.0, 2.0), (1e6, 0.0, 2e6), 3.0)
    overlap = module._outage_overlap
    assert not overlap(trace, 0.2, 0.5) and overlap(trace, 0.5, 0.6) and overlap(trace, 1.5, 0.1)
    assert not overlap(trace, 2.5, 1.4) and overlap(trace, 2.5, 1.6)  # wraps past 3 s into the outage at 1 s
    assert not overlap(None, 0.0, 10.0) and not overlap(trace, 1.5, 0.0)
