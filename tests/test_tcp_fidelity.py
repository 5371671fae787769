"""The TCP configurations' Linux-fidelity attributes (issue 18 item 12): pure Python, no ns-3.

docs/NETWORK.md, "Fidelity to real Linux", has the measurements behind each value
(``benchmarks/tcp_fidelity.py``); these tests pin the attributes, not timings.
"""
from __future__ import annotations

from ns3_scenarios.network import DEFAULT_TCP, PRESETS, parse_network
from ns3_scenarios.tcp import TCP_CONFIGS


def _settings(name: str) -> dict:
    return {path: value for path, _, value in TCP_CONFIGS[name].settings()}


def test_the_default_tcp_is_linux_cubic_with_quick_acks():
    assert DEFAULT_TCP == "linux-cubic"
    assert parse_network("1/5").tcp == "linux-cubic"
    assert {net.tcp for net in PRESETS.values()} == {"linux-cubic"}
    cubic = TCP_CONFIGS["linux-cubic"]
    assert (cubic.socket_type, cubic.quickacks, cubic.rcv_autotune) == ("ns3::TcpLinuxCubic", 16, False)
    assert TCP_CONFIGS["linux-rto"].quickacks == 0 and TCP_CONFIGS["linux"].quickacks == 0


def test_linux_rto_sets_linuxs_rto_syn_timeout_and_hystart_ceiling():
    s = _settings("linux-rto")
    assert s["ns3::TcpSocketBase::ClockGranularity"] == 200  # RTO = srtt + max(200 ms, 4 rttvar)
    assert s["ns3::TcpSocketBase::MinRto"] == 200  # TCP_RTO_MIN
    assert s["ns3::TcpSocket::ConnTimeout"] == 1000  # TCP_TIMEOUT_INIT
    assert s["ns3::TcpCubic::HyStart"] is True
    assert s["ns3::TcpCubic::HyStartDelayMax"] == 16  # HYSTART_DELAY_MAX
    assert s["ns3::TcpCubic::TcpFriendliness"] is True  # tcp_cubic's tcp_friendliness=1; off is 62 % slow at 5M 1 %
    assert s["ns3::TcpL4Protocol::RecoveryType"] == "ns3::TcpPrrRecovery"
    assert (s["ns3::TcpSocket::DelAckCount"], s["ns3::TcpSocket::DelAckTimeout"]) == (2, 40)


def test_linux_and_ns3_default_keep_ns3s_values_for_the_new_keys():
    # "linux" stays bit-identical to earlier releases; every config writes every key its socket type
    # reads (the CUBIC port's only where it is the socket type), so a linux-rto simulation cannot
    # leave its values behind for the next one in the process.
    for name in ("linux", "ns3-default"):
        s = _settings(name)
        assert (s["ns3::TcpSocket::ConnTimeout"], s["ns3::TcpCubic::HyStartDelayMax"]) == (3000, 1000), name
        assert s["ns3::TcpCubic::HyStart"] is True
    assert _settings("linux")["ns3::TcpSocketBase::ClockGranularity"] == 1
    port = "ns3::TcpLinuxCubic::"
    keys = [[k for k in _settings(n) if not k.startswith(port)] for n in TCP_CONFIGS]
    assert all(k == keys[0] for k in keys)
    port_keys = [[k for k in _settings(n) if k.startswith(port)] for n, c in TCP_CONFIGS.items()
                 if c.socket_type == "ns3::TcpLinuxCubic"]
    assert port_keys and all(k == port_keys[0] and k for k in port_keys)


def test_the_bursty_reference_cases_are_the_divergence_chain_on_both_stacks():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import linux_reference
    import tcp_fidelity

    bursty = [c for c in tcp_fidelity.CASES if isinstance(c[4], tuple)]
    assert [c[0] for c in bursty] == ["5M 25ms 2MB GE 1% b4", "20M 10ms 1MB GE 1% b4"]
    for _, _, _, _, loss, _ in bursty:
        model = tcp_fidelity.loss_model(loss)
        assert abs(model.stationary_loss - 0.01) < 1e-12 and abs(model.mean_burst - 4) < 1e-12
        # the relay gets the same four numbers ns-3's chain does
        assert linux_reference.relay_loss(loss) == "ge:" + ":".join(repr(float(x)) for x in
                                                                   (model.p_good_bad, model.p_bad_good,
                                                                    model.loss_good, model.loss_bad))
    assert linux_reference.relay_loss(0.01) == "0.01"


def test_the_trace_cases_hand_the_relay_ns3s_steps():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import linux_reference
    import tcp_fidelity
    from ns3_scenarios.links import CapacityTrace

    assert sorted(tcp_fidelity.TRACES) == sorted(c[0] for c in tcp_fidelity.CASES if c[0].startswith("trace "))
    times, rates, period = tcp_fidelity.TRACES["trace 1-5M 25ms 5MB 1%"]
    CapacityTrace(times, rates, period)  # a valid trace for ns-3
    assert linux_reference.relay_trace((times, rates, period)) == \
        "5.0:0.0=5000000.0,1.0=1000000.0,2.0=3000000.0,3.0=2000000.0,4.0=4000000.0"
