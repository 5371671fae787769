"""Impairment dataclasses, traces and seeds: validation, round trips, closed forms (no ns-3)."""
from __future__ import annotations

import json
import math

import pytest

from ns3_scenarios.engines import ENGINES, get_engine
from ns3_scenarios.engines.registry import NoSettings
from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.links import (
    NONE, CapacityTrace, Connection, CrossTraffic, GilbertElliott, Impairments, Queue, RandomLoss,
)
from ns3_scenarios.network import PRESETS, Network
from ns3_scenarios.seeds import flow_seed
from ns3_scenarios.traces import generate_trace, read_trace, write_trace


def test_a_network_without_impairments_is_todays_network():
    plain = Network(1e6, 5e6)
    assert plain == Network(1e6, 5e6, up=NONE, down=Impairments(loss=RandomLoss(0.0)), queue=Queue())
    assert not plain.impaired and not plain.random
    assert plain.label == "1/5"
    assert PRESETS["1/5"] == plain


def test_impaired_networks_round_trip_through_json():
    net = Network(
        1e6, 5e6, up=Impairments(loss=RandomLoss(0.01), trace=generate_trace(1e6, duration_s=10, seed=3)),
        down=Impairments(loss=GilbertElliott.from_rate(0.01, 4)), queue=Queue(50, "ms", "pfifo", True),
        cross=(CrossTraffic("onoff", "down", 2.0, 1e6),), connection=Connection("persistent", True),
    )
    assert net.impaired and net.random
    assert Network.from_dict(json.loads(json.dumps(net.to_dict()))) == net
    assert "up-loss 1%" in net.label and "queue 50ms pfifo bql" in net.label


@pytest.mark.parametrize("make, field", [
    (lambda: RandomLoss(1.0), "loss.rate"),
    (lambda: RandomLoss(-0.1), "loss.rate"),
    (lambda: GilbertElliott(1.2, 0.5), "loss.p_good_bad"),
    (lambda: GilbertElliott(0.1, 0.0), "loss.p_bad_good"),
    (lambda: Queue(0), "queue.limit"),
    (lambda: Queue(10.5), "queue.limit"),
    (lambda: Queue(10, "frames"), "queue.unit"),
    (lambda: Queue(10, discipline="red"), "queue.discipline"),
    (lambda: CrossTraffic("udp"), "cross.kind"),
    (lambda: CrossTraffic(direction="sideways"), "cross.direction"),
    (lambda: CrossTraffic("onoff"), "cross.rate_bps"),
    (lambda: CrossTraffic(start_s=-1), "cross.start_s"),
    (lambda: Connection("pooled"), "connection.model"),
    (lambda: Connection(tls="yes"), "connection.tls"),
    (lambda: Queue.from_dict({"limit": 5, "size": 3}), "queue.size"),
])
def test_bad_values_name_their_field(make, field):
    with pytest.raises(ScenarioError, match=field.replace(".", r"\.")):
        make()


def test_gilbert_elliott_closed_forms():
    ge = GilbertElliott(0.0025, 0.25)
    assert ge.stationary_loss == pytest.approx(0.0025 / 0.2525)
    assert ge.mean_burst == 4
    ge = GilbertElliott.from_rate(0.02, 5)
    assert (ge.stationary_loss, ge.mean_burst) == (pytest.approx(0.02), pytest.approx(5))


def test_queue_in_milliseconds_is_bytes_at_the_rate():
    assert Queue(100, "ms").device_size(1e6) == "12500B"
    assert Queue(20).device_size(1e6) == "20p"


def test_trace_integral_and_wrap():
    trace = CapacityTrace((0.0, 1.0), (1e6, 3e6), 2.0)
    assert trace.mean_bps == 2e6
    assert trace.rate_at(2.5) == 1e6 and trace.rate_at(3.5) == 3e6
    assert trace.finish_time(4e6) == pytest.approx(2.0)  # 1 Mbit in the first second, 3 in the second
    assert trace.finish_time(1e6, start_s=1.0) == pytest.approx(1 / 3)


def test_read_csv_and_mahimahi(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("time_s,mbps\n10,1.5\n11, 0\n12 2\n")
    trace = read_trace(csv)
    assert trace.times_s == (0.0, 1.0, 2.0) and trace.bps == (1.5e6, 0.0, 2e6) and trace.period_s == 3.0
    mm = tmp_path / "t.mahi"
    mm.write_text("\n".join(["1", "1", "400", "600", "1000"]) + "\n")
    trace = read_trace(mm, bin_s=0.5)
    assert trace.period_s == 1.0 and trace.bps == (3 * 12000 / 0.5, 2 * 12000 / 0.5)
    generated = generate_trace(2e6, duration_s=50, seed=1)
    assert read_trace(write_trace(generated, tmp_path / "g.csv")).bps == generated.bps


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("", "is empty"),
    ("time_s,mbps\n", "is empty"),
    ("0,1\n1,2\n1,3\n", "line 3: time 1.0 does not increase"),
    ("0,1\n1,-2\n", "line 2: negative rate"),
    ("0,1\n1,abc\n", "line 2: expected 'time_s, mbps'"),
    ("10\n5\n", "line 2: time 5 ms goes back"),
])
def test_malformed_traces_give_one_clear_error(tmp_path, content, message):
    path = tmp_path / "trace.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ScenarioError, match=message):
        read_trace(path)


def test_generator_is_seeded_and_has_the_stated_moments():
    a, b = generate_trace(5e6, duration_s=20000, seed=7), generate_trace(5e6, duration_s=20000, seed=7)
    assert a == b != generate_trace(5e6, duration_s=20000, seed=8)
    mean = sum(a.bps) / len(a.bps)
    sd = math.sqrt(sum((r - mean) ** 2 for r in a.bps) / len(a.bps))
    assert mean == pytest.approx(5e6, rel=0.05) and sd / mean == pytest.approx(0.5, rel=0.15)


def test_flow_seeds_are_stable_and_distinct():
    seeds = {flow_seed(s, c, d) for s in range(3) for c in range(4) for d in ("up", "down")}
    assert len(seeds) == 24 and all(0 <= s < 2**63 for s in seeds)
    assert flow_seed(1, 2, "up") == flow_seed(1, 2, "up")
    with pytest.raises(ScenarioError):
        flow_seed(1, 2, "")


def test_engine_registry():
    assert {"isolated", "star"} <= set(ENGINES)
    assert get_engine("star").settings_type is NoSettings
    assert NoSettings.from_mapping({}, "engine").to_dict() == {}
    with pytest.raises(ScenarioError, match="engine.speed"):
        NoSettings.from_mapping({"speed": 1}, "engine")
    with pytest.raises(ScenarioError, match="unknown engine 'ns2'"):
        get_engine("ns2")
