"""Network, latency and TCP-config parsing and validation: pure Python, no ns-3."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import analytic
from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.network import (
    PRESETS,
    Network,
    heterogeneous_links,
    parse_latency,
    parse_network,
    parse_network_list,
)
from ns3_scenarios.tcp import TCP_CONFIGS
from ns3_scenarios.transfers import ClientTransfer, check_round
from fl_core.errors import NetbenchError


def test_presets_are_the_papers_four_networks_at_50ms():
    assert list(PRESETS) == ["0.2/1", "1/5", "2/10", "5/25"]
    assert all(n.latency_s == 0.05 and n.tcp == "linux-cubic" and n.down_bps == 5 * n.up_bps for n in PRESETS.values())
    assert PRESETS["0.2/1"].up_bps == 200_000 and PRESETS["0.2/1"].down_bps == 1_000_000


@pytest.mark.parametrize("text, up, down, name", [("1/5", 1e6, 5e6, "1/5"), ("0.2/1", 2e5, 1e6, "0.2/1"),
                                                  (" 2 / 10 ", 2e6, 10e6, "2/10"), (".5/2.5", 5e5, 2.5e6, "0.5/2.5")])
def test_parse_network(text, up, down, name):
    net = parse_network(text)
    assert (net.up_bps, net.down_bps, net.name) == (up, down, name)


@pytest.mark.parametrize("text, fragment", [
    ("1Mbps", "invalid network '1Mbps': expected UP/DOWN in Mbps, e.g. 1/5"),
    ("1Mbps/5Mbps", "without units"),
    ("0/5", "the uplink rate must be > 0 Mbps"),
    ("1/0", "the downlink rate must be > 0 Mbps"),
    ("-1/5", "invalid network '-1/5'"),
    ("1/5/7", "invalid network '1/5/7'"),
    ("", "invalid network ''"),
    ("0.0000001/1", "must lie between"),
    ("1/1e9", "invalid network '1/1e9'"),
    ("999999/5", "must lie between"),
])
def test_bad_networks_are_refused_naming_the_value(text, fragment):
    with pytest.raises(ScenarioError) as info:
        parse_network(text)
    assert fragment in str(info.value)
    assert isinstance(info.value, NetbenchError)


@pytest.mark.parametrize("text, seconds", [("50ms", 0.05), ("0.05s", 0.05), ("50 ms", 0.05), ("500us", 5e-4),
                                           ("0ms", 0.0), ("10s", 10.0)])
def test_parse_latency(text, seconds):
    assert parse_latency(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text, fragment", [("50", "give a unit"), ("-5ms", "must be >= 0"), ("abc", "with a unit"),
                                            ("11s", "must be <= 10 s"), ("50 mS", "with a unit"), ("", "with a unit")])
def test_bad_latencies_are_refused(text, fragment):
    with pytest.raises(ScenarioError) as info:
        parse_latency(text)
    assert fragment in str(info.value) and repr(text) in str(info.value)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(up_bps=math.nan, down_bps=1e6), "finite rate > 0"),
    (dict(up_bps=1e6, down_bps=math.inf), "finite rate > 0"),
    (dict(up_bps=1e6, down_bps=5e6, latency_s=-0.01), "invalid latency"),
    (dict(up_bps=1e6, down_bps=5e6, tcp="reno"), "unknown TCP config 'reno'"),
    (dict(up_bps=1e6, down_bps=5e6, server_link_bps=0), "server link rate"),
    (dict(up_bps="1", down_bps=5e6), "expected a number"),
])
def test_network_validates_every_field(kwargs, fragment):
    with pytest.raises(ScenarioError) as info:
        Network(**kwargs)
    assert fragment in str(info.value)


def test_label_names_what_differs_from_the_paper():
    assert PRESETS["1/5"].label == "1/5"
    assert PRESETS["1/5"].with_(latency_s=0.02, tcp="ns3-default").label == "1/5 20ms ns3-default"
    assert PRESETS["1/5"].with_(server_link_bps=10e6).label == "1/5 server 10Mbps"


def test_network_list_refuses_duplicates():
    assert [n.name for n in parse_network_list("0.2/1,1/5")] == ["0.2/1", "1/5"]
    with pytest.raises(ScenarioError, match="1/5 given twice"):
        parse_network_list("1/5,1/5")


def test_heterogeneous_links_are_seeded():
    a = heterogeneous_links(20, ["0.2/1", "5/25"], seed=3)
    assert a == heterogeneous_links(20, ["0.2/1", "5/25"], seed=3)
    assert {n.name for n in a} == {"0.2/1", "5/25"}
    assert a != heterogeneous_links(20, ["0.2/1", "5/25"], seed=4)
    assert {n.name for n in heterogeneous_links(50)} <= set(PRESETS)
    with pytest.raises(ScenarioError):
        heterogeneous_links(0)


def test_round_checks_name_the_client():
    net = PRESETS["1/5"]
    with pytest.raises(ScenarioError, match="client 3: invalid uplink_bytes -1"):
        check_round(net, [ClientTransfer(3, 10, 1.0, -1)])
    with pytest.raises(ScenarioError, match="client 1 appears twice"):
        check_round(net, [ClientTransfer(1, 10, 1.0, 1), ClientTransfer(1, 10, 1.0, 1)])
    with pytest.raises(ScenarioError, match="invalid compute_s nan"):
        check_round(net, [ClientTransfer(1, 10, math.nan, 1)])
    with pytest.raises(ScenarioError, match="one TCP config per simulation"):
        check_round(net, [ClientTransfer(1, 10, 1.0, 1, net.with_(tcp="ns3-default"))])


def test_tcp_configs_set_the_same_keys():
    linux, default = TCP_CONFIGS["linux"], TCP_CONFIGS["ns3-default"]
    assert [k for k, _, _ in linux.settings()] == [k for k, _, _ in default.settings()] == [
        k for k, _, _ in TCP_CONFIGS["linux-rto"].settings()]
    assert (linux.segment_size, default.segment_size) == (1448, 536)


@given(st.integers(0, 50_000_000), st.sampled_from(list(PRESETS.values())))
def test_analytic_time_is_at_least_serialization(nbytes, net):
    t = analytic.transfer_s(nbytes, net.up_bps, net.latency_s)
    assert t == 0 if nbytes == 0 else t >= nbytes * 8 / net.up_bps + 3 * net.latency_s


@pytest.mark.parametrize("nbytes, rate, tcp, ns3_s", [
    (10_000_000, 1e6, "linux", 83.207),  # serialization-bound
    (100_000, 25e6, "linux", 0.398),  # slow-start-bound
    (10_000_000, 25e6, "ns3-default", 8.192),  # bound by ns-3's 128 KiB socket buffers
])
def test_analytic_reference_is_close_to_ns3(nbytes, rate, tcp, ns3_s):
    # ns3_s: completion times measured with ns3_scenarios.engines.isolated.flow_time at 50 ms (docs/NETWORK.md)
    assert analytic.transfer_s(nbytes, rate, 0.05, tcp) == pytest.approx(ns3_s, rel=0.08)
