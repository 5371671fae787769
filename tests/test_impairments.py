"""Impairments in ns-3, each against an expectation derived in its docstring (docs/NETWORK.md, "Impairments").

All simulations run in this session's shared ns-3 worker; flows are <= 200 kB.
"""
from __future__ import annotations

import math

import pytest

from ns3_scenarios import flowcache, probes
from ns3_scenarios.engines import isolated as flows, star
from ns3_scenarios.engines.isolated import FlowSpec
from ns3_scenarios.links import (
    CapacityTrace, Connection, CrossTraffic, GilbertElliott, Impairments, Queue, RandomLoss,
)
from ns3_scenarios.network import PRESETS, Network, heterogeneous_links
from ns3_scenarios.tcp import WIRE_HEADER_BYTES
from ns3_scenarios.transfers import ClientTransfer
from ns3_scenarios.worker import shared_worker

KB = 1000
MSS = 1448


def ns3(fn, *args, **kwargs):
    return shared_worker().call(fn, *args, timeout_s=300, **kwargs)


def _uncached(fn, *args, **kwargs):
    """``fn`` in the worker with empty memory and disk caches (so every flow is simulated)."""
    flowcache.reset(None)
    flows._CACHE.clear()
    return fn(*args, **kwargs)


def test_no_impairment_is_bit_identical_to_before():
    """Loss 0, the default queue and no trace build exactly today's simulation.

    The numbers are what the code before impairments existed returned (same flows, same round),
    whose default TCP was ``linux``; it is named here since ``linux-rto`` became the default.
    """
    plain = Network(1e6, 5e6, up=Impairments(loss=RandomLoss(0.0)), queue=Queue())
    assert plain == PRESETS["1/5"]
    plain = plain.with_(tcp="linux")
    seconds = ns3(_uncached, flows.flow_times, [
        FlowSpec(200_000, 1e6, 5e6, 0.05, "linux"), FlowSpec(123_457, 5e6, 25e6, 0.05, "linux"),
        FlowSpec(150_000, 0.2e6, 1e6, 0.02, "ns3-default"), FlowSpec(1_000_001, 25e6, 5e6, 0.05, "linux"),
    ])
    assert seconds == [1.8110368, 0.4990032, 6.669744, 0.8378288]
    links = [link.with_(tcp="linux") for link in heterogeneous_links(3, seed=7)]
    transfers = [ClientTransfer(0, 150_000, 1.5, 60_000, links[0]), ClientTransfer(4, 100_001, 0.7, 123_457, links[1]),
                 ClientTransfer(9, 0, 2.0, 50_000, links[2])]
    rows = [[t.download_done_s, t.upload_start_s, t.upload_done_s]
            for t in ns3(star.simulate_round, plain, transfers, seed=5)]
    assert rows == [[0.4973584, 1.9973584, 2.442896], [0.4526704, 1.1526704, 2.3284672], [0.0, 2.0, 2.36836992]]
    shared = ns3(star.simulate_round, plain.with_(server_link_bps=3e6), transfers)
    assert [t.upload_done_s for t in shared] == [2.821732216, 2.680865549, 2.399242718]


def test_goodput_under_random_loss_is_near_mathis():
    """1 % random loss on the data direction, 20 Mbps, 10 ms one-way, 1 MB (690 segments), 16 seeds.

    Mathis et al.: goodput ~ MSS / RTT x sqrt(3 / 2p) = 1448 B x 8 / 20.6 ms x 1.22 / 0.1 ~ 6.9 Mbps,
    far below the link rate, so loss sets the rate. Mathis models Reno (window x 0.5 per loss) in
    steady state; CUBIC backs off only to 0.7, and a 1 MB flow has ~7 loss events and runs its
    first ~100 segments (the mean gap between losses) in slow start at up to the link rate.
    All three push goodput above Mathis, so we expect the mean within [0.6, 2.0] x Mathis and
    clearly below the lossless goodput. (Measured: 11.5 Mbps = 1.67 x Mathis; lossless 17.0.
    A 200 kB flow sees ~1.4 losses: slow start, not Mathis.)
    """
    nbytes = 1_000_000
    rtt = 2 * 0.010 + (MSS + WIRE_HEADER_BYTES) * 8 / 20e6
    mathis = MSS * 8 / rtt * math.sqrt(3 / (2 * 0.01))
    lossy = [FlowSpec(nbytes, 20e6, 20e6, 0.010, data=Impairments(loss=RandomLoss(0.01)), data_seed=s)
             for s in range(16)]
    seconds = ns3(_uncached, flows.flow_times, lossy + [FlowSpec(nbytes, 20e6, 20e6, 0.010)])
    goodput = [nbytes * 8 / s for s in seconds[:-1]]
    mean = sum(goodput) / len(goodput)
    assert 0.6 * mathis < mean < 2.0 * mathis
    assert mean < 0.8 * nbytes * 8 / seconds[-1]


def test_gilbert_elliott_realised_loss_matches_its_stationary_rate():
    """GE with 1 % stationary loss and mean burst 4 (p_gb = 0.0025/0.99, p_bg = 0.25), 10^6 packets.

    About 2,500 bursts: the realised loss's relative s.d. is ~3 %, so it lies within 10 % of
    pi_B = p_gb / (p_gb + p_bg) = 1 %, and the mean run of drops within 10 % of 1 / p_bg = 4.
    Independent loss at the same rate has runs of 1 / (1 - p) ~ 1.01.
    """
    ge = GilbertElliott.from_rate(0.01, 4)
    share, burst = ns3(probes.realised_loss, ge, 1_000_000, 7)
    assert share == pytest.approx(ge.stationary_loss, rel=0.10)
    assert burst == pytest.approx(ge.mean_burst, rel=0.10)
    share, burst = ns3(probes.realised_loss, RandomLoss(0.01), 1_000_000, 7)
    assert share == pytest.approx(0.01, rel=0.05) and burst == pytest.approx(1 / 0.99, rel=0.02)


def test_gilbert_elliott_in_real_flows_keeps_its_bursts_under_a_capacity_trace():
    """GE 1 %, mean burst 4, on the data direction of real 1 MB TCP flows (8 seeds): at the line rate
    of 1.25 Mbps, and on a 5 Mbps link whose trace holds it at 1.25 Mbps. The chain steps once per
    1500-byte slot at the link's *current* rate, so both see the same per-packet loss and bursts
    (with slots at the nominal 5 Mbps a packet spanned 4 slots: bursts of 1.45 packets, not ~3).
    """
    ge = GilbertElliott.from_rate(0.01, 4)
    plain = [ns3(probes.flow_loss, 1_000_000, 1.25e6, 6.25e6, 0.025, ge, seed=s) for s in range(1, 9)]
    held = [ns3(probes.flow_loss, 1_000_000, 5e6, 25e6, 0.025, ge, seed=s,
                trace=CapacityTrace((0.0,), (1.25e6,), 10.0, "1.25 Mbps")) for s in range(1, 9)]
    mean = lambda runs, key: sum(r[key] for r in runs) / len(runs)  # noqa: E731
    assert mean(held, "data_burst") == pytest.approx(mean(plain, "data_burst"), rel=0.15)
    assert mean(held, "data_burst") > 2.5  # bursts of several packets, below 4 as TCP pauses after losses
    assert 0.005 < mean(held, "data_loss") < 0.015


def test_a_flow_over_a_step_trace_finishes_at_the_trace_integral():
    """200 kB over a trace of 1 Mbps for 1 s then 0.25 Mbps for 1 s (repeating), 10 ms one-way.

    The bandwidth-delay product (~2.5 kB) is below the initial window, so TCP keeps the link
    busy: the last byte arrives when the integral of the rate from the first data segment
    (one handshake RTT in) reaches the bytes on the wire (payload + 54 B per segment), plus
    one propagation delay. Expected within 3 %; the constant mean rate (0.625 Mbps) is off by
    more than 5 % (it ignores where in the trace the flow runs).
    """
    latency, nbytes = 0.010, 200 * KB
    trace = CapacityTrace((0.0, 1.0), (1e6, 0.25e6), 2.0, "step")
    (seconds,) = ns3(_uncached, flows.flow_times, [FlowSpec(nbytes, 1e6, 10e6, latency, data=Impairments(trace=trace))])
    wire_bits = (nbytes + math.ceil(nbytes / MSS) * WIRE_HEADER_BYTES) * 8
    handshake = 2 * latency
    expected = handshake + trace.finish_time(wire_bits, start_s=handshake) + latency
    assert seconds == pytest.approx(expected, rel=0.03)
    assert abs(seconds - (handshake + wire_bits / trace.mean_bps + latency)) > 0.05 * seconds


def test_one_bulk_tcp_competitor_roughly_halves_an_upload():
    """A 200 kB upload on 5 Mbps (plain 100-packet FIFO, no queue disc) with and without one bulk TCP upload.

    Two long-lived TCP flows sharing a FIFO bottleneck get about half each, so the upload takes
    about twice as long; TCP's unfairness toward a newcomer behind a standing queue widens that,
    so we expect a ratio in [1.5, 3.5].
    """
    net = Network(5e6, 25e6, queue=Queue(100, discipline="droptail"))
    transfers = [ClientTransfer(0, 0, 3.0, 200 * KB)]
    (alone,) = ns3(star.simulate_round, net, transfers)
    (shared,) = ns3(star.simulate_round, net.with_(cross=(CrossTraffic("bulk", "up"),)), transfers)
    assert 1.5 < shared.upload_s / alone.upload_s < 3.5


def test_droptail_1000_packets_bloats_a_probe_and_fq_codel_with_bql_does_not():
    """A 1448-byte probe (handshake + one segment, ~2 RTT) at t = 3 s while a bulk TCP flow fills the uplink.

    10 Mbps, 20 ms one-way: idle, the probe takes ~2 x 41 ms. A 1000-packet DropTail FIFO lets
    the bulk flow queue up to 1000 x 1500 B = 1.2 s ahead of the probe: expected > 5x idle.
    FqCoDel isolates the probe's flow and BQL keeps the device queue to a few packets: < 1.5x idle.
    """
    net = Network(10e6, 10e6, 0.020)
    probe = [ClientTransfer(0, 0, 3.0, MSS)]
    (idle,) = ns3(star.simulate_round, net, probe)
    load = (CrossTraffic("bulk", "up"),)
    (bloated,) = ns3(star.simulate_round, net.with_(queue=Queue(1000, discipline="droptail"), cross=load), probe)
    (managed,) = ns3(star.simulate_round, net.with_(queue=Queue(100, bql=True), cross=load), probe)
    assert bloated.upload_s > 5 * idle.upload_s
    assert managed.upload_s < 1.5 * idle.upload_s


def test_second_transfer_after_idle_on_a_persistent_connection():
    """200 kB, 5 s idle, 200 kB again on one connection; 20 Mbps, 50 ms one-way.

    ns-3 keeps the congestion window through idle (no cwnd restart, unlike Linux's
    tcp_slow_start_after_idle): the second transfer is much faster than the first minus its
    handshake. No round sends twice on one socket, so this never reaches a round time.
    """
    first, second = ns3(probes.connection_reuse, 200 * KB, 5.0, 20e6, 0.05)
    rtt = 2 * 0.05
    assert second < 0.6 * (first - rtt)


def test_linux_rto_floor_avoids_spurious_timeouts_behind_a_bloated_uplink():
    """A 400 kB download on 1/5 Mbps while a bulk TCP upload keeps ~1.2 s queued in the uplink FIFO,
    which every download ACK crosses.

    The RTT is then a steady ~1.3 s. Linux's RTO is srtt + max(200 ms, 4 rttvar) >= 1.5 s: no
    timeout fires, and slow start over ~6 such RTTs moves 400 kB in a few seconds (< 10 s).
    ns-3's own formula with MinRto 200 ms, max(200 ms, srtt + 4 rttvar), sits barely above a
    steady RTT and fires spuriously (``linux``: 79 s here; docs/NETWORK.md).
    """
    net = Network(1e6, 5e6, tcp="linux-rto", cross=(CrossTraffic("bulk", "up"),))
    (t,) = ns3(star.simulate_round, net, [ClientTransfer(0, 400 * KB, 2.0, 0)])
    assert t.download_s < 10


def test_connection_models_and_tls_cost_one_round_trip():
    """Per message, TLS 1.3 adds about one RTT (>= 2 x 50 ms) to each message; a persistent connection
    (opened before the round) saves the TCP handshake RTT on the download."""
    net = PRESETS["1/5"]
    transfers = [ClientTransfer(0, 100 * KB, 1.0, 100 * KB)]
    (plain,) = ns3(star.simulate_round, net, transfers)
    (tls,) = ns3(star.simulate_round, net.with_(connection=Connection(tls=True)), transfers)
    (kept,) = ns3(star.simulate_round, net.with_(connection=Connection("persistent")), transfers)
    for extra in (tls.download_s - plain.download_s, tls.upload_s - plain.upload_s):
        assert 0.1 <= extra < 0.16
    assert 0.09 < plain.download_s - kept.download_s < 0.12


def test_a_tls_download_sends_the_server_flight_down():
    """A download's TLS client is the receiving client: its 517-byte ClientHello goes up, the 4 kB
    server flight comes down with the data. At 0.2/1 Mbps the flight costs 4 kB at 1 Mbps (~33 ms)
    beside the extra RTT (~0.1 s), not 4 kB on the 0.2 Mbps uplink (~0.16 s), as for an upload (whose
    TLS client is the sender); the isolated engine agrees."""
    net = PRESETS["0.2/1"]
    transfers = [ClientTransfer(0, 100 * KB, 1.0, 20 * KB)]
    secure = net.with_(connection=Connection(tls=True))
    (plain,) = ns3(star.simulate_round, net, transfers)
    (tls,) = ns3(star.simulate_round, secure, transfers)
    (alone,) = ns3(_uncached, flows.isolated_round, secure, transfers)
    print(f"\nTLS extra at 0.2/1: download {tls.download_s - plain.download_s:.3f} s, "
          f"upload {tls.upload_s - plain.upload_s:.3f} s")
    extra_down, extra_up = tls.download_s - plain.download_s, tls.upload_s - plain.upload_s
    assert 0.1 <= extra_down < 0.2  # the flight on the 0.2 Mbps uplink gave ~0.27 s
    assert abs(extra_down - extra_up) < 0.02  # both directions: hello up, flight down
    assert alone.download_s == pytest.approx(tls.download_s, abs=1e-3)


def test_random_results_are_deterministic_per_seed_and_batching_changes_nothing():
    """The same seed gives the same times (fresh caches, one simulation per flow or all in one);
    another seed gives other times."""
    net = Network(1e6, 5e6, up=Impairments(loss=RandomLoss(0.02)),
                  down=Impairments(loss=GilbertElliott.from_rate(0.02, 3)))
    transfers = [ClientTransfer(i, 80 * KB, 1.0, 60 * KB) for i in range(3)]
    a = ns3(_uncached, flows.isolated_round, net, transfers, seed=1)
    b = ns3(_uncached, flows.isolated_round, net, transfers, seed=1)
    c = ns3(_uncached, flows.isolated_round, net, transfers, seed=2)
    assert a == b != c
    specs = [FlowSpec(80 * KB, 1e6, 5e6, 0.05, data=Impairments(loss=RandomLoss(0.02)), data_seed=s) for s in range(4)]
    assert ns3(_uncached, flows.flow_times, specs) == ns3(_uncached, flows.flow_times, specs, batch=False)


def test_long_loss_bursts_do_not_stall_a_flow():
    """GE with 2 % loss in bursts of 20 packet times (240 ms at 1 Mbps): the channel keeps evolving while
    TCP backs off, so every 100 kB flow completes within a few seconds of its lossless time (8 x 0.1 MB
    at 1 Mbps is ~0.9 s); a per-packet chain held a backed-off sender in the Bad state for minutes."""
    bursty = Impairments(loss=GilbertElliott.from_rate(0.02, 20))
    seconds = ns3(_uncached, flows.flow_times,
                  [FlowSpec(100 * KB, 1e6, 5e6, 0.05, data=bursty, ack=bursty, data_seed=s, ack_seed=s + 100)
                   for s in range(6)])
    assert all(0.9 < s < 15 for s in seconds)


def test_flow_cache_on_disk_is_reused(tmp_path):
    """A second worker-side lookup reads the stored value instead of simulating."""
    spec = FlowSpec(50 * KB, 1e6, 5e6, 0.05, data=Impairments(loss=RandomLoss(0.01)), data_seed=3)
    first, hits_before = ns3(_with_disk_cache, tmp_path, spec)
    second, hits_after = ns3(_with_disk_cache, tmp_path, spec)
    assert first == second and hits_before == 0 and hits_after == 1
    assert list(tmp_path.rglob("*.json"))


def _with_disk_cache(folder, spec):
    cache = flowcache.reset(folder)
    flows._CACHE.clear()
    try:
        return flows.flow_times([spec])[0], cache.hits
    finally:
        flowcache.reset(None)


def test_cross_traffic_and_traces_in_the_isolated_engine_match_the_star():
    """A client with cross traffic is simulated as a one-client star, so both engines agree exactly."""
    net = PRESETS["1/5"].with_(cross=(CrossTraffic("onoff", "down", 0.5, 2e6, 0.3, 0.3),))
    transfers = [ClientTransfer(3, 60 * KB, 1.0, 40 * KB)]
    assert ns3(_uncached, flows.isolated_round, net, transfers, seed=4) == ns3(star.simulate_round, net, transfers,
                                                                             seed=4)
