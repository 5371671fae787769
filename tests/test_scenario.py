"""The Scenario object and its TOML files, without ns-3: parsing, every malformed file refused with one
line naming the key, hashes, seeded per-client links and compute factors, built-ins."""
from __future__ import annotations

import json
import math
import textwrap

import pytest
from click.testing import CliRunner

from harness.scenario import builtins as scenario_builtins
from harness.cli import main
from harness.scenario import ClientLinks, ComputeSpeed, Scenario, load_scenario
from harness.scenario.toml import load_text
from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.links import GilbertElliott, Queue, RandomLoss
from ns3_scenarios.network import PRESETS, heterogeneous_links, parse_network

FULL = """
name = "everything"
description = "one of each"
seed = 9
[link]
up = "1Mbps"
down = "5Mbps"
latency = "20ms"
queue = { limit = 20, unit = "packets", discipline = "droptail" }
[link.uplink]
loss = { kind = "gilbert-elliott", rate = 0.01, mean_burst = 4 }
trace = "trace.csv"
[link.downlink]
loss = 0.001
[[link.cross]]
kind = "onoff"
direction = "up"
start = "1s"
rate = "500kbps"
on = "0.5s"
off = "0.5s"
[links]
draw = "random"
[[links.choice]]
weight = 1
up = "0.2Mbps"
down = "1Mbps"
[[links.choice]]
weight = 3
[[clients]]
ids = [7]
up = "10Mbps"
compute = 4.0
[compute]
lognormal_sigma = 0.5
[server]
link = "100Mbps"
[connection]
model = "persistent"
tls = true
[engine]
name = "star"
[round]
schedule = "deadline"
deadline = "90s"
over_selection = 1.3
availability = 0.9
"""


@pytest.fixture
def trace_csv(tmp_path):
    path = tmp_path / "trace.csv"
    path.write_text("time_s,mbps\n0,1.0\n1,3.0\n2,0.5\n")
    return path


def test_a_full_file_parses_into_every_part(tmp_path, trace_csv):
    (tmp_path / "full.toml").write_text(FULL)
    s = load_scenario(str(tmp_path / "full.toml"))
    assert (s.name, s.seed, s.engine, s.schedule, s.deadline_s, s.over_selection, s.availability) == \
        ("everything", 9, "star", "deadline", 90.0, 1.3, 0.9)
    net = s.network
    assert (net.up_bps, net.down_bps, net.latency_s, net.server_link_bps) == (1e6, 5e6, 0.02, 100e6)
    assert isinstance(net.up.loss, GilbertElliott) and net.up.loss.stationary_loss == pytest.approx(0.01)
    assert net.up.loss.mean_burst == pytest.approx(4)
    assert net.up.trace.bps == (1e6, 3e6, 0.5e6) and net.down.trace is None
    assert net.down.loss == RandomLoss(0.001)
    assert net.queue == Queue(20, "packets", "droptail")
    assert net.cross[0].rate_bps == 5e5 and net.cross[0].on_s == 0.5 and net.cross[0].start_s == 1.0
    assert net.connection.model == "persistent" and net.connection.tls
    # per-client: client 7 pinned; the rest drawn 1:3 between 0.2/1 and the default link, inheriting impairments
    seven = s.link_of(7)
    assert seven.up_bps == 10e6 and seven.up.loss == net.up.loss and seven.connection == net.connection
    assert s.compute_factor(7) == 4.0
    drawn = [s.link_of(c).up_bps for c in range(400) if c != 7]
    assert set(drawn) == {0.2e6, 1e6} and 0.15 < drawn.count(0.2e6) / len(drawn) < 0.35
    assert all(s.link_of(c).queue == net.queue for c in range(10))
    factors = [s.compute_factor(c) for c in range(200)]
    assert len(set(factors)) > 150 and 0.8 < math.exp(sum(map(math.log, factors)) / 200) < 1.25
    assert s.link_of(3) == load_scenario(str(tmp_path / "full.toml")).link_of(3)  # seeded


def test_resolved_spec_and_hash(tmp_path, trace_csv):
    (tmp_path / "full.toml").write_text(FULL)
    s = load_scenario(str(tmp_path / "full.toml"))
    spec = s.resolved()
    json.dumps(spec)  # JSON-able
    assert spec["network"]["up"]["loss"]["kind"] == "gilbert_elliott" and spec["engine"]["name"] == "star"
    assert len(s.hash) == 12 and s.hash == load_scenario(str(tmp_path / "full.toml")).hash
    assert s.with_(name="other", description="x").hash == s.hash  # names do not change results
    assert s.with_(seed=10).hash != s.hash
    # a plain network's hash ignores the impairment fields it does not use
    assert Scenario.from_network(PRESETS["1/5"]).resolved()["network"] == {
        "up_bps": 1e6, "down_bps": 5e6, "latency_s": 0.05, "tcp": "linux-cubic", "server_link_bps": None}


def test_presets_are_builtins_with_the_shorthand_hash():
    for name, network in PRESETS.items():
        assert load_scenario(name).hash == Scenario.from_network(network).hash
        assert load_scenario(name).name == name


def test_every_builtin_loads_and_ge_builtins_state_their_loss():
    for name in scenario_builtins.names():
        s = scenario_builtins.get(name)
        assert s.name == name and len(s.hash) == 12
    ge = scenario_builtins.get("wifi-bursty").network.up.loss
    assert ge.stationary_loss == pytest.approx(0.0099, abs=1e-4) and ge.mean_burst == 4
    for b in (2, 4, 10):
        loss = scenario_builtins.get(f"divergence/burst={b}").network.up.loss
        assert loss.stationary_loss == pytest.approx(0.01) and loss.mean_burst == pytest.approx(b)


def test_link_draws_match_the_old_links_seed_and_cycle():
    mix = [PRESETS["0.2/1"], PRESETS["1/5"], PRESETS["5/25"]]
    drawn = ClientLinks(mix=tuple(mix), draw="random", seed=3)
    assert [drawn.of(c) for c in range(50)] == heterogeneous_links(50, mix, 3)
    cycled = ClientLinks(mix=tuple(mix))
    assert [cycled.of(c) for c in range(6)] == mix * 2


def test_compute_speed_labels_and_draws():
    assert ComputeSpeed().source == "recorded" and ComputeSpeed(scale=0.5).source == "recorded x0.5"
    mix = ComputeSpeed(mixture=((0.8, 1.0), (0.2, 4.0)))
    factors = [mix.factor(c, seed=1) for c in range(1000)]
    assert set(factors) == {1.0, 4.0} and 0.15 < factors.count(4.0) / 1000 < 0.25
    assert factors == [mix.factor(c, seed=1) for c in range(1000)]
    assert factors != [mix.factor(c, seed=2) for c in range(1000)]


def test_round_seeds_differ_by_run_and_round():
    s = load_scenario("1/5")
    seeds = {s.round_seed(run, r) for run in ("a", "b") for r in range(50)}
    assert len(seeds) == 100 and all(0 <= x < 2**31 for x in seeds)
    assert s.round_seed("a", 3) == load_scenario("1/5").round_seed("a", 3)


BAD = [
    # (id, file text, expected fragment of the one error line)
    ("toml-syntax", '[link\nup = "1Mbps"', "not valid TOML"),
    ("unknown-top", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[linkk]\n', "linkk: unknown key"),
    ("unknown-link", '[link]\nup = "1Mbps"\ndown = "5Mbps"\nlatncy = "5ms"\n', "link.latncy: unknown key"),
    ("no-link", 'seed = 1\n', "link: missing"),
    ("no-up", '[link]\ndown = "5Mbps"\n', "link.up: missing"),
    ("rate-no-unit", '[link]\nup = "5"\ndown = "5Mbps"\n', "link.up: invalid rate '5': give a unit"),
    ("rate-number", '[link]\nup = 5\ndown = "5Mbps"\n', "link.up: invalid rate 5: give a unit"),
    ("rate-bad-unit", '[link]\nup = "5MBps"\ndown = "5Mbps"\n', "link.up: invalid rate '5MBps'"),
    ("rate-zero", '[link]\nup = "0Mbps"\ndown = "5Mbps"\n', "link.up: invalid rate 0 Mbps"),
    ("latency-no-unit", '[link]\nup = "1Mbps"\ndown = "5Mbps"\nlatency = "50"\n', "link.latency: invalid duration"),
    ("loss-above-1", '[link]\nup = "1Mbps"\ndown = "5Mbps"\nloss = 1.5\n', "link.loss: invalid loss.rate 1.5"),
    ("loss-negative", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[link.downlink]\nloss = -0.1\n',
     "link.downlink.loss: invalid loss.rate -0.1"),
    ("ge-probability", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[link.uplink]\n'
     'loss = { kind = "gilbert-elliott", p_good_bad = 2, p_bad_good = 0.5 }\n', "invalid loss.p_good_bad 2"),
    ("loss-kind", '[link]\nup = "1Mbps"\ndown = "5Mbps"\nloss = { kind = "burst" }\n', "unknown loss kind 'burst'"),
    ("loss-key", '[link]\nup = "1Mbps"\ndown = "5Mbps"\nloss = { kind = "random", rat = 0.1 }\n',
     "link.loss.rat: unknown key"),
    ("trace-missing", '[link]\nup = "1Mbps"\ndown = "5Mbps"\ntrace = "nope.csv"\n', "does not exist"),
    ("trace-empty", '[link]\nup = "1Mbps"\ndown = "5Mbps"\ntrace = "empty.csv"\n', "is empty"),
    ("trace-not-monotonic", '[link]\nup = "1Mbps"\ndown = "5Mbps"\ntrace = "back.csv"\n', "does not increase"),
    ("trace-negative", '[link]\nup = "1Mbps"\ndown = "5Mbps"\ntrace = "negative.csv"\n', "negative rate"),
    ("queue-unit", '[link]\nup = "1Mbps"\ndown = "5Mbps"\nqueue = { limit = 10, unit = "frames" }\n',
     "invalid queue.unit 'frames'"),
    ("cross-kind", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[[link.cross]]\nkind = "video"\ndirection = "up"\n',
     "link.cross[0]"),
    ("clients-twice", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[[clients]]\nids = [1]\ncompute = 2.0\n'
     '[[clients]]\nids = [1]\ncompute = 3.0\n', "clients[1].ids: client 1 is already in clients[0]"),
    ("clients-negative-id", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[[clients]]\nids = [-1]\ncompute = 2.0\n',
     "clients[0].ids[0]"),
    ("compute-zero", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[compute]\nscale = 0\n', "compute.scale"),
    ("mixture-weight", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[[compute.mixture]]\nweight = -1\nfactor = 2\n',
     "compute.mixture[0].weight"),
    ("links-empty", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[links]\ndraw = "random"\n', "links.choice: missing"),
    ("links-draw", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[links]\ndraw = "shuffle"\n', "links.draw"),
    ("engine-unknown", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[engine]\nname = "warp"\n',
     "engine.name: unknown engine 'warp'"),
    ("engine-settings", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[engine]\nname = "star"\n[engine.star]\nx = 1\n',
     "engine.star.x"),
    ("availability", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[round]\navailability = 1.2\n',
     "round.availability: invalid value 1.2: must be in [0, 1]"),
    ("schedule", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[round]\nschedule = "lazy"\n', "round.schedule"),
    ("deadline-unit", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[round]\ndeadline = 30\n', "round.deadline"),
    ("tcp", '[link]\nup = "1Mbps"\ndown = "5Mbps"\ntcp = "reno"\n', "link.tcp: unknown TCP config 'reno'"),
    ("connection", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[connection]\nmodel = "quic"\n', "connection.model"),
    ("wifi-loss", '[link]\nup = "65Mbps"\ndown = "65Mbps"\nloss = 0.01\n[engine]\nname = "wifi"\n',
     "engine.name: the wifi engine does not simulate link impairments"),
    ("lte-client-cross", '[link]\nup = "18Mbps"\ndown = "18Mbps"\n[[clients]]\nids = [2]\n'
     '[[clients.cross]]\ndirection = "up"\nkind = "bulk"\n[engine]\nname = "lte"\n',
     "engine.name: the lte engine does not simulate link impairments (loss, traces, queues, cross traffic, "
     "connection) of client 2's link"),
    ("lte-tls", '[link]\nup = "18Mbps"\ndown = "18Mbps"\n[connection]\ntls = true\n[engine]\nname = "lte"\n',
     "the lte engine does not simulate link impairments"),
    ("isolated-server-link", '[link]\nup = "1Mbps"\ndown = "5Mbps"\n[server]\nlink = "10Mbps"\n[engine]\n'
     'name = "isolated"\n', "engine.name: the isolated engine cannot model a shared server link (server.link)"),
]


@pytest.fixture
def trace_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "back.csv").write_text("time_s,mbps\n0,1\n2,1\n1,1\n")
    (tmp_path / "negative.csv").write_text("time_s,mbps\n0,1\n1,-2\n")
    return tmp_path


@pytest.mark.parametrize("case_id, text, fragment", BAD, ids=[b[0] for b in BAD])
def test_a_malformed_scenario_is_one_clear_line_and_nothing_is_written(case_id, text, fragment, trace_files):
    path = trace_files / f"{case_id}.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=None) as info:
        load_scenario(str(path))
    message = str(info.value)
    assert fragment in message and "\n" not in message and message.startswith(str(path)), message
    result = CliRunner().invoke(main, ["scenarios", "--check", str(path)])
    lines = [line for line in result.output.splitlines() if line.lower().startswith("error")]
    assert result.exit_code != 0 and len(lines) == 1 and fragment in lines[0], result.output
    out = trace_files / "out"
    result = CliRunner().invoke(main, ["replay", str(trace_files / "no-run"), "--scenario", str(path), "--out", str(out)])
    assert result.exit_code != 0 and fragment in result.output
    assert not out.exists()


def test_an_unknown_scenario_name_lists_the_builtins():
    with pytest.raises(ScenarioError, match="no such file and no built-in of that name .*dsl-lossy"):
        load_scenario("dsl-losy")


def test_scenarios_command_lists_builtins_and_checks_files(tmp_path):
    result = CliRunner().invoke(main, ["scenarios"])
    assert result.exit_code == 0 and "wifi-bursty" in result.output and "1/5" in result.output
    good = tmp_path / "good.toml"
    good.write_text('[link]\nup = "1Mbps"\ndown = "5Mbps"\n')
    result = CliRunner().invoke(main, ["scenarios", "--check", str(good)])
    assert result.exit_code == 0 and f"hash {load_scenario(str(good)).hash}" in result.output
    result = CliRunner().invoke(main, ["scenarios", "--show", "dsl-lossy"])
    assert json.loads(result.output)["network"]["up"]["loss"] == {"kind": "random", "rate": 0.005}


def test_shorthand_loss_and_trace_flags_build_the_same_network(tmp_path, trace_csv):
    from harness.params import shorthand_scenario

    s = shorthand_scenario(parse_network("1/5"), latency=0.05, tcp="linux-cubic", compute_scale=None, server_link=None,
                           exact_star=False, loss=0.01, trace=str(trace_csv))
    f = load_text(f'[link]\nup = "1Mbps"\ndown = "5Mbps"\nloss = 0.01\ntrace = "{trace_csv}"\n', name="x", origin="x")
    assert s.network == f.network and s.name == "1/5 loss 0.01 trace trace.csv"
    assert s.network.up.loss == RandomLoss(0.01) == s.network.down.loss


def test_divergence_table_and_figure_from_factor_named_scenarios(tmp_path):
    import pandas as pd

    from harness.plot import divergence_table

    rows = [{"scenario": name, "ns3_over_analytic": ratio, "ns3_over_theory": ratio / 1.5, "ns3_over_plain": ratio * 1.1,
             "run": run} for run in ("a", "b")
            for name, ratio in (("1/5", 1.01), ("divergence/loss=0.01", 1.2), ("divergence/loss=0.05", 3.0),
                                ("divergence/queue=20", 1.05), ("divergence/queue=1000", 1.3), ("other", 9.0))]
    summary = pd.DataFrame(rows)
    table = divergence_table(summary)
    assert table[["factor", "level"]].values.tolist()[:3] == [["loss", 0.0], ["loss", 0.01], ["loss", 0.05]]
    assert "other" not in set(table["scenario"]) and table["ns3_over_analytic"].max() == 3.0
    csv = tmp_path / "summary.csv"
    summary.to_csv(csv, index=False)
    out = tmp_path / "divergence.png"
    result = CliRunner().invoke(main, ["plot", str(csv), "--kind", "divergence", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"\x89PNG"
    plain = tmp_path / "plain.csv"
    summary[summary["scenario"] == "1/5"].to_csv(plain, index=False)
    result = CliRunner().invoke(main, ["plot", str(plain), "--kind", "divergence", "--out", str(tmp_path / "x.png")])
    assert "no scenario named <factor>=<level>" in result.output and not (tmp_path / "x.png").exists()


def test_theory_follows_mathis_pftk_and_the_trace_integral():
    from harness import analytic
    from ns3_scenarios.links import CapacityTrace, Impairments, RandomLoss

    plain = parse_network("1/5")
    assert analytic.theory_s(5_000_000, plain, "up") == analytic.transfer_s(5_000_000, 1e6, 0.05)
    lossy = plain.with_(up=Impairments(loss=RandomLoss(0.05)))
    # 5 MB at 1 Mbps with 5 % loss: PFTK ~0.32 Mbps (NS3-REALISM.md measured 0.37 in ns-3)
    assert 5e6 * 8 / analytic.theory_s(5_000_000, lossy, "up") == pytest.approx(0.33e6, rel=0.1)
    assert analytic.theory_s(5_000_000, lossy, "down") == analytic.transfer_s(5_000_000, 5e6, 0.05)
    assert analytic.mathis_bps(0.01, 0.1, 1448) == pytest.approx(1448 * 8 / 0.1 * 1.2247 / 0.1, rel=1e-3)
    step = CapacityTrace((0.0, 10.0), (1e6, 4e6), 20.0)
    traced = plain.with_(up=Impairments(trace=step))
    bits = (1_000_000 + 54 * math.ceil(1_000_000 / 1448)) * 8
    # handshake 0.1 s (to trace time 9.9), 0.1 s of data at 1 Mbps, the rest at 4 Mbps, then 50 ms propagation
    t = analytic.theory_s(1_000_000, traced, "up", trace_start_s=9.8)
    assert t == pytest.approx(0.1 + 0.1 + (bits - 0.1e6) / 4e6 + 0.05, rel=1e-9)


def test_sweep_scenario_globs_expand_over_builtins():
    from harness.params import SCENARIOS

    names = [s.name for s in SCENARIOS.convert("divergence/loss=*", None, None)]
    assert names == ["divergence/loss=0.001", "divergence/loss=0.01", "divergence/loss=0.05"]
    assert [s.name for s in SCENARIOS.convert("1/5", None, None)] == ["1/5"]
