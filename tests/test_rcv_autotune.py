"""``linux-cubic-rcvtune``: Linux's receive-window autotuning on ns-3's receiving sockets
(ns3_scenarios/cpp/rcv_autotune.h; docs/NETWORK.md, "Receive-window autotuning").

A few short simulations read the helper's state on the receiving socket: the window starts at
Linux's initial value (about 64 KB), grows over a lossless flow once per receiver RTT, and never
passes ``tcp_rmem[2]``; a lossy flow delivers every byte; lossless completion stays that of
``linux-cubic``.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from ns3_scenarios import simcore
from ns3_scenarios.engines.isolated import FlowSpec, simulate_flows
from ns3_scenarios.links import Impairments, Queue, RandomLoss
from ns3_scenarios.tcp import TCP_CONFIGS

DROPTAIL = Queue(100, "packets", "droptail")
MSS = 1448
#: tcp_rmem[1] = 131072 at Linux's default scaling_ratio 128: 65536 B, one segment reserved
#: (tcp_init_buffer_space), i.e. the window clamp before the first data segment.
LINUX_INITIAL_WINDOW = 65536 - MSS
#: scaling_ratio once the first full segment arrived: 1448 * 256 // 2304 (truesize).
RATIO = 1448 * 256 // 2304


@pytest.fixture
def no_cache(monkeypatch):
    monkeypatch.setenv("NETBENCH_FLOW_CACHE", "off")


def one_flow(tcp: str, nbytes: int, bps: float, delay_s: float, *, loss: float = 0.0, tls: bool = False):
    """Run one flow; returns (seconds, the receiver's autotuner state as a dict)."""
    with simcore.Simulation(tcp) as sim:
        nodes = sim.nodes(2)
        sender, receiver = nodes.Get(0), nodes.Get(1)
        data = Impairments(loss=RandomLoss(loss)) if loss else Impairments()
        interfaces = sim.link(sender, receiver, bps, bps, delay_s, queue=DROPTAIL, a_sends=data, a_seed=3)
        done, start = sim.message(sender, receiver, interfaces.GetAddress(1), 9, nbytes, tag=0, tls=tls)
        start(0)
        sim.run(simcore.horizon_s(nbytes, bps))
        seconds = simcore.check_done(done, nbytes, "test flow", simcore.horizon_s(nbytes, bps))
        tune = sim.autotuners[0]  # the sink's, or with TLS the receiving (passive) end's, made first
        state = {k: getattr(tune, k)() for k in ("InitialWindow", "FirstAdvWnd", "MaxAdvWnd", "Window", "RcvBuf",
                                                  "WindowClamp", "ScalingRatio", "RttUs", "Adjusts", "BufferSize",
                                                  "Attached")}
        state["history"] = list(zip(tune.HistoryUs(), tune.HistoryWindow()))
        return seconds, state


def test_the_window_starts_at_linuxs_and_grows_over_a_lossless_flow(no_cache):
    seconds, st = one_flow("linux-cubic-rcvtune", 1_000_000, 20e6, 0.010)
    assert st["InitialWindow"] == LINUX_INITIAL_WINDOW
    # the first ACK carries it plus tcp_grow_window's 2 segments for the first data segment
    assert LINUX_INITIAL_WINDOW <= st["FirstAdvWnd"] <= LINUX_INITIAL_WINDOW + 2 * MSS
    assert st["ScalingRatio"] == RATIO
    assert st["RttUs"] >= 20_000  # the receiver's timestamp RTT: 2 x 10 ms and more (queueing)
    windows = [w for _, w in st["history"]]
    assert windows == sorted(windows)  # only grows
    assert st["Adjusts"] >= 3 and st["MaxAdvWnd"] > 2.5 * LINUX_INITIAL_WINDOW  # 188 kB (HyStart at 38 segments)
    # the buffer ns-3 advertises from is the emulated window, and tcp_rmem[2] is far away
    assert st["BufferSize"] == st["Window"] == min(st["WindowClamp"], st["Window"])
    assert st["RcvBuf"] <= TCP_CONFIGS["linux-cubic-rcvtune"].rcv_buf
    # the first growth comes after the first receiver RTT, not before
    grown = [t for t, w in st["history"] if w > LINUX_INITIAL_WINDOW + 16 * MSS]
    assert grown and grown[0] >= 2 * 20_000
    assert seconds == pytest.approx(0.4694, abs=0.002)


def test_the_buffer_never_passes_tcp_rmem2(no_cache):
    TCP_CONFIGS["test-rcvtune-256KiB"] = replace(TCP_CONFIGS["linux-cubic-rcvtune"], name="test-rcvtune-256KiB",
                                                 rcv_buf=256 * 1024)
    try:
        _, st = one_flow("test-rcvtune-256KiB", 2_000_000, 20e6, 0.010)
    finally:
        del TCP_CONFIGS["test-rcvtune-256KiB"]
    assert st["RcvBuf"] == 256 * 1024  # reached, and capped
    cap = 256 * 1024 * RATIO // 256  # tcp_win_from_space(tcp_rmem[2])
    assert st["WindowClamp"] == cap and st["MaxAdvWnd"] <= cap
    assert max(w for _, w in st["history"]) <= cap


def test_a_lossy_flow_delivers_every_byte(no_cache):
    """5 % and 1 % loss: out-of-order segments, recoveries, RTOs; check_done raises unless all arrived."""
    seconds, st = one_flow("linux-cubic-rcvtune", 300_000, 5e6, 0.025, loss=0.05)
    assert seconds > 0.5 and st["Adjusts"] >= 1
    (lossy,) = simulate_flows([FlowSpec(1_000_000, 20e6, 20e6, 0.010, "linux-cubic-rcvtune", data=Impairments(
        loss=RandomLoss(0.01)), queue=DROPTAIL, data_seed=1)])
    assert lossy > 0.4694


def test_a_tls_endpoint_autotunes_too(no_cache):
    seconds, st = one_flow("linux-cubic-rcvtune", 500_000, 20e6, 0.010, tls=True)
    assert st["Attached"] and st["Adjusts"] >= 2 and st["InitialWindow"] == LINUX_INITIAL_WINDOW


def test_lossless_completion_is_linux_cubics(no_cache):
    """Lossless, the window barely limits slow start: within 0.5 % of linux-cubic (measured
    3.432 vs 3.435 s at 5 Mbit/s, 0.4694 s both at 20 Mbit/s)."""
    cases = [(2_000_000, 5e6, 0.025), (1_000_000, 20e6, 0.010)]
    times = {tcp: simulate_flows([FlowSpec(n, r, r, d, tcp, queue=DROPTAIL) for n, r, d in cases])
             for tcp in ("linux-cubic", "linux-cubic-rcvtune")}
    for ours, theirs in zip(times["linux-cubic-rcvtune"], times["linux-cubic"]):
        assert ours == pytest.approx(theirs, rel=0.005)


def test_it_is_opt_in():
    assert [name for name, c in TCP_CONFIGS.items() if c.rcv_autotune] == ["linux-cubic-rcvtune"]
    ours, base = TCP_CONFIGS["linux-cubic-rcvtune"], TCP_CONFIGS["linux-cubic"]
    assert replace(ours, name="linux-cubic", rcv_autotune=False) == base


def test_without_timestamps_it_is_refused(no_cache):
    from ns3_scenarios.errors import ScenarioError

    TCP_CONFIGS["test-rcvtune-no-ts"] = replace(TCP_CONFIGS["linux-cubic-rcvtune"], name="test-rcvtune-no-ts",
                                                timestamps=False)
    try:
        with pytest.raises(ScenarioError, match="needs timestamps"):
            simulate_flows([FlowSpec(10_000, 5e6, 5e6, 0.025, "test-rcvtune-no-ts")])
    finally:
        del TCP_CONFIGS["test-rcvtune-no-ts"]
