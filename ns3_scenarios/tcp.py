"""Named TCP configurations, applied to ns-3's process-global attribute defaults.

This module holds data only; :func:`apply` receives the loaded ``ns`` module, so the
parent process can validate ``--tcp`` names without importing ns-3.

``linux`` follows a stock Linux (>= 3.2) host on a 1500-byte Ethernet MTU:

* CUBIC is the default congestion control since 2.6.19; loss recovery is PRR (RFC 6937, since 3.2).
* MSS 1448 B = 1500 MTU - 20 IP - 20 TCP - 12 B timestamp option.
* initial window 10 segments (RFC 6928, default since 2.6.39).
* send / receive buffers at the ``net.ipv4.tcp_wmem`` / ``tcp_rmem`` maxima: 4 MiB and 6 MiB.
* delayed ACK every 2nd segment, 40 ms timer (``TCP_DELACK_MIN`` = HZ/25).
* minimum RTO 200 ms (``TCP_RTO_MIN``); SACK, window scaling and timestamps on (sysctl defaults).

``linux-rto`` is ``linux`` with Linux's RTO formula, SYN timeout and HyStart delay ceiling
(below). ``linux-cubic`` (the default) is ``linux-rto`` with ns-3's ``TcpCubic`` replaced by
``ns3::TcpLinuxCubic``, a port of Linux 6.x's ``tcp_cubic.c`` (``cpp/linux_cubic.h``), and the
receiver's quick-ack mode at the start of a connection (16 segments ACKed one by one,
``cpp/rcv_autotune.h``): within 5 % of real Linux 6.18 in 8 of the 9 reference cases (all but
5 % random loss), where ``linux-rto`` is within 5 % in 5 (docs/NETWORK.md, "Fidelity to real Linux").
``linux-cubic-rcvtune`` adds Linux's receive-window autotuning.

``ns3-default`` writes back ns-3.44's own defaults (CUBIC, PRR, **MSS 536**, 128 KiB buffers,
200 ms delayed-ACK timer, 1 s minimum RTO). Its small segments put 54 B of headers on every
536 B, which yields 0.85-0.91 Mbps of goodput on a 1 Mbps link: the paper's "0.89 Mbps".

Both configs set every key, because ``Config::SetDefault`` is process-global and persists
from one simulation to the next in the same process.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ns3_scenarios.errors import ScenarioError

#: Bytes of headers each full segment carries on a point-to-point wire:
#: TCP 20 + options 12 (timestamps) + IPv4 20 + PPP 2.
WIRE_HEADER_BYTES = 54

_TCP = "ns3::TcpSocket::"
_BASE = "ns3::TcpSocketBase::"
_L4 = "ns3::TcpL4Protocol::"
_CUBIC = "ns3::TcpCubic::"
#: The CUBIC port's TypeId (cpp/linux_cubic.h), registered by a process the first time a config names it.
LINUX_CUBIC = "ns3::TcpLinuxCubic"
_LINUX_CUBIC = LINUX_CUBIC + "::"


@dataclass(frozen=True)
class TcpConfig:
    """One named TCP configuration: its segment size and every attribute default it sets."""

    name: str
    socket_type: str
    recovery_type: str
    segment_size: int
    initial_cwnd: int
    snd_buf: int
    rcv_buf: int
    del_ack_count: int
    del_ack_timeout_ms: int
    min_rto_ms: int
    #: Retransmissions of one segment before the connection is dropped (Linux: tcp_retries2 = 15).
    data_retries: int = 6
    #: RFC 6298's G: RTO = max(MinRto, srtt + max(G, 4 rttvar)). ns-3's default is 1 ms; Linux floors
    #: the variance term at tcp_rto_min (200 ms), i.e. G = 200 ms.
    clock_granularity_ms: int = 1
    sack: bool = True
    window_scaling: bool = True
    timestamps: bool = True
    #: SYN retransmission timeout (ns-3 default 3 s; Linux: TCP_TIMEOUT_INIT = 1 s, RFC 6298).
    conn_timeout_ms: int = 3000
    #: CUBIC's HyStart (Linux: on, ``hystart=1``) and the ceiling of its delay-increase
    #: threshold (ns-3 default 1 s; Linux clamps it to HYSTART_DELAY_MAX = 16 ms).
    hystart: bool = True
    hystart_delay_max_ms: int = 1000
    #: CUBIC's TCP-friendly (Reno-emulating) window floor (ns-3 and Linux default: on).
    tcp_friendliness: bool = True
    #: ``ns3::TcpLinuxCubic`` only: count an ACK's segments as Linux does (delivered, SACKed
    #: included); False is an ablation switch that feeds it ns-3's ``segmentsAcked`` instead.
    linux_cubic_acked_is_delivered: bool = True
    #: Linux's receive-window autotuning on every receiving socket (``netbench::RcvAutotune``,
    #: cpp/rcv_autotune.h): the window starts from ``tcp_rmem[1]`` (``rcv_buf_initial``) and grows
    #: once per receiver RTT with what the application read (``tcp_rcv_space_adjust``), capped
    #: at ``tcp_rmem[2]`` = ``rcv_buf``. Off: ns-3's constant ``rcv_buf``.
    rcv_autotune: bool = False
    rcv_buf_initial: int = 131072
    #: ``skb->truesize`` of one received full segment, which sets Linux's ``scaling_ratio``
    #: (window = buffer x len / truesize): 2304 B for the reference's 1514-byte frames, each in
    #: a kmalloc-2048 head (1728 B) + the 256-byte sk_buff + 320-byte shared info.
    rcv_skb_truesize: int = 2304
    #: Add Linux 6.19's slow-start term to the autotuned window (``tcp: fix too slow
    #: tcp_rcvbuf_grow() action``); False is 6.16-6.18's ``rcvwin = 2 * copied``, the reference's.
    rcv_autotune_619: bool = False
    #: Linux's quick-ack mode at a connection's first data (``tcp_incr_quickack(sk,
    #: TCP_MAX_QUICKACKS)``, 16): the receiver ACKs this many data segments one by one before its
    #: delayed ACK (``del_ack_count``) applies (``netbench::RcvAutotune``, with or without
    #: ``rcv_autotune``). 0: ns-3's delayed ACK from the first segment.
    quickacks: int = 0

    def settings(self) -> list[tuple[str, str, Any]]:
        """``(attribute path, value kind, value)`` for every key this config sets (the CUBIC
        port's only where it is the socket type: only then is it compiled and registered)."""
        return [
            (_L4 + "SocketType", "typeid", self.socket_type),
            (_L4 + "RecoveryType", "typeid", self.recovery_type),
            (_TCP + "SegmentSize", "uint", self.segment_size),
            (_TCP + "InitialCwnd", "uint", self.initial_cwnd),
            (_TCP + "SndBufSize", "uint", self.snd_buf),
            (_TCP + "RcvBufSize", "uint", self.rcv_buf),
            (_TCP + "DelAckCount", "uint", self.del_ack_count),
            (_TCP + "DelAckTimeout", "time_ms", self.del_ack_timeout_ms),
            (_BASE + "MinRto", "time_ms", self.min_rto_ms),
            (_TCP + "DataRetries", "uint", self.data_retries),
            (_BASE + "ClockGranularity", "time_ms", self.clock_granularity_ms),
            (_BASE + "Sack", "bool", self.sack),
            (_BASE + "WindowScaling", "bool", self.window_scaling),
            (_BASE + "Timestamp", "bool", self.timestamps),
            (_TCP + "ConnTimeout", "time_ms", self.conn_timeout_ms),
            (_CUBIC + "HyStart", "bool", self.hystart),
            (_CUBIC + "HyStartDelayMax", "time_ms", self.hystart_delay_max_ms),
            (_CUBIC + "TcpFriendliness", "bool", self.tcp_friendliness),
        ] + ([
            # The same two switches for the Linux port (cpp/linux_cubic.h); its HyStart threshold is
            # Linux's fixed clamp(delay_min / 8, 4 ms, 16 ms), so hystart_delay_max_ms does not apply.
            (_LINUX_CUBIC + "HyStart", "bool", self.hystart),
            (_LINUX_CUBIC + "TcpFriendliness", "bool", self.tcp_friendliness),
            (_LINUX_CUBIC + "AckedIsDelivered", "bool", self.linux_cubic_acked_is_delivered),
        ] if self.socket_type == LINUX_CUBIC else [])


TCP_CONFIGS: dict[str, TcpConfig] = {
    "linux": TcpConfig(
        name="linux",
        socket_type="ns3::TcpCubic",
        recovery_type="ns3::TcpPrrRecovery",
        segment_size=1448,
        initial_cwnd=10,
        snd_buf=4 * 1024 * 1024,
        rcv_buf=6 * 1024 * 1024,
        del_ack_count=2,
        del_ack_timeout_ms=40,
        min_rto_ms=200,
        data_retries=15,
    ),
    "ns3-default": TcpConfig(
        name="ns3-default",
        socket_type="ns3::TcpCubic",
        recovery_type="ns3::TcpPrrRecovery",
        segment_size=536,
        initial_cwnd=10,
        snd_buf=131072,
        rcv_buf=131072,
        del_ack_count=2,
        del_ack_timeout_ms=200,
        min_rto_ms=1000,
    ),
}
# "linux" with Linux's RTO: srtt + max(200 ms, 4 rttvar). ns-3's RTO with "linux" is
# max(200 ms, srtt + 4 rttvar), which fires spuriously when queueing inflates a steady RTT
# (a 400 kB download behind a bulk upload's standing queue: 79 s instead of 4.7 s).
# It also takes Linux's 1 s SYN timeout and HyStart's 16 ms delay ceiling, which "linux"
# leaves at ns-3's values so that its results stay those of earlier releases
# (docs/NETWORK.md, "Fidelity to real Linux"; benchmarks/tcp_fidelity.py).
TCP_CONFIGS["linux-rto"] = replace(TCP_CONFIGS["linux"], name="linux-rto", clock_granularity_ms=200,
                                   conn_timeout_ms=1000, hystart_delay_max_ms=16)
# "linux-rto" with ns-3's TcpCubic replaced by a port of Linux 6.x's tcp_cubic.c
# (ns3::TcpLinuxCubic, cpp/linux_cubic.h: Linux's ACK counting, cnt credits, HyStart, HZ 250)
# and Linux's 16 quick ACKs (TCP_MAX_QUICKACKS) at a connection's first data; the default,
# measured in docs/NETWORK.md, "Linux's CUBIC in ns-3".
TCP_CONFIGS["linux-cubic"] = replace(TCP_CONFIGS["linux-rto"], name="linux-cubic", socket_type=LINUX_CUBIC,
                                     quickacks=16)
# "linux-cubic" with Linux's receive-window autotuning (cpp/rcv_autotune.h); opt-in, measured in
# docs/NETWORK.md, "Receive-window autotuning (linux-cubic-rcvtune)".
TCP_CONFIGS["linux-cubic-rcvtune"] = replace(TCP_CONFIGS["linux-cubic"], name="linux-cubic-rcvtune", rcv_autotune=True)


def get_config(name: str) -> TcpConfig:
    """The config called ``name``; ``ScenarioError`` lists the known names otherwise."""
    try:
        return TCP_CONFIGS[name]
    except (KeyError, TypeError):
        known = ", ".join(TCP_CONFIGS)
        raise ScenarioError(f"unknown TCP config {name!r}: expected one of {known}") from None


def apply(ns: Any, name: str) -> TcpConfig:
    """Set every attribute default of config ``name`` in the loaded ns-3 module ``ns``.

    Uses ``Config::SetDefaultFailSafe`` and checks each return, so a refused key is a
    ``ScenarioError`` rather than an ns-3 abort. Call before building any node.
    """
    config = get_config(name)
    for path, kind, value in config.settings():
        if kind == "typeid":
            ok_type, type_id = ns.LookupByNameFailSafe(value)
            if not ok_type:
                raise ScenarioError(f"TCP config {name!r}: ns-3 has no type {value!r}")
            attr = ns.TypeIdValue(type_id)
        elif kind == "uint":
            attr = ns.UintegerValue(value)
        elif kind == "bool":
            attr = ns.BooleanValue(value)
        else:
            attr = ns.TimeValue(ns.MilliSeconds(value))
        if not ns.Config.SetDefaultFailSafe(path, attr):
            raise ScenarioError(f"TCP config {name!r}: ns-3 refused {path} = {value!r}")
    return config
