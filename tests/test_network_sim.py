"""Real ns-3 flows, run in this session's shared worker process (one ns-3 import for the suite)."""
from __future__ import annotations

import pytest

from ns3_scenarios.engines import isolated as flows, star
from ns3_scenarios.network import PRESETS, heterogeneous_links
from ns3_scenarios.transfers import ClientTransfer
from ns3_scenarios.worker import shared_worker

MB = 1_000_000


def ns3(fn, *args, **kwargs):
    return shared_worker().call(fn, *args, timeout_s=300, **kwargs)


def test_10mb_upload_at_1mbps_has_linux_like_goodput():
    seconds = ns3(flows.flow_time, 10 * MB, 1e6, 0.05, "linux", 5e6)
    goodput = 10 * MB * 8 / seconds / 1e6
    assert 0.8 < goodput < 1.0
    assert goodput == pytest.approx(0.962, abs=0.01)  # the 1448/1502 header ceiling


def test_ns3_default_tcp_reproduces_the_papers_089_mbps():
    seconds = ns3(flows.flow_time, 10 * MB, 1e6, 0.05, "ns3-default")
    assert 0.84 < 10 * MB * 8 / seconds / 1e6 < 0.91


def test_each_direction_is_shaped_at_its_own_rate():
    net = PRESETS["1/5"]
    (t,) = ns3(star.simulate_round, net, [ClientTransfer(0, 4 * MB, 0.5, 4 * MB)])
    assert 4.0 < t.upload_s / t.download_s < 5.2
    assert 4 * MB * 8 / t.upload_s / 1e6 < 1.0 < 4 * MB * 8 / t.download_s / 1e6 < 5.0


def test_isolated_flows_equal_the_full_star():
    links = heterogeneous_links(5, seed=7)
    transfers = [
        ClientTransfer(0, 600_000, 1.5, 300_000, links[0]),
        ClientTransfer(4, 1_000_001, 0.7, 123_457, links[1]),
        ClientTransfer(9, 0, 2.0, 250_000, links[2]),  # nothing to download: uploads after computing
        ClientTransfer(11, 400_000, 0.5, 0, links[3]),  # nothing to upload
        ClientTransfer(12, 0, 3.25, 0, links[4]),
    ]
    net = PRESETS["1/5"]
    full = ns3(star.simulate_round, net, transfers)
    composed = ns3(flows.isolated_round, net, transfers)
    assert [t.client for t in full] == [0, 4, 9, 11, 12]
    for a, b in zip(full, composed):
        assert a.download_done_s == pytest.approx(b.download_done_s, abs=1e-6)
        assert a.upload_start_s == pytest.approx(b.upload_start_s, abs=1e-6)
        assert a.upload_done_s == pytest.approx(b.upload_done_s, abs=1e-6)
    assert (full[2].download_done_s, full[2].upload_start_s) == (0.0, 2.0)
    assert full[3].upload_done_s == full[3].upload_start_s
    assert (full[4].download_done_s, full[4].upload_start_s, full[4].upload_done_s) == (0.0, 3.25, 3.25)


def test_a_shared_server_link_is_a_bottleneck():
    transfers = [ClientTransfer(i, MB, 1.0, 200_000) for i in range(4)]
    alone = ns3(star.simulate_round, PRESETS["1/5"], transfers)
    shared = ns3(star.simulate_round, PRESETS["1/5"].with_(server_link_bps=5e6), transfers)
    wide = ns3(star.simulate_round, PRESETS["1/5"].with_(server_link_bps=10e9), transfers)
    slowest_alone = max(t.download_s for t in alone)
    assert min(t.download_s for t in shared) > 2 * slowest_alone  # 4 downloads share 5 Mbps
    assert max(t.download_s for t in wide) == pytest.approx(slowest_alone, rel=0.02)


def test_simulations_are_deterministic():
    net = PRESETS["0.2/1"]
    transfers = [ClientTransfer(0, 50_000, 0.1, 20_000), ClientTransfer(1, 70_000, 0.2, 10_000)]
    assert ns3(star.simulate_round, net, transfers) == ns3(star.simulate_round, net, transfers)


def test_engines_wrap_the_round_functions():
    from ns3_scenarios.engines import ENGINES

    transfers = [ClientTransfer(0, 50_000, 0.1, 20_000), ClientTransfer(1, 70_000, 0.2, 10_000)]
    net = PRESETS["1/5"]
    assert ns3(ENGINES["star"].simulate_round, net, transfers, seed=3) == ns3(star.simulate_round, net, transfers)
    assert ns3(ENGINES["isolated"].simulate_round, net, transfers, seed=3) == ns3(flows.isolated_round, net,
                                                                                   transfers)
