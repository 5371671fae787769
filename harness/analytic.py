"""A closed-form reference for one TCP transfer, reported beside every ns-3 figure.

For ``B`` payload bytes on a link of rate ``R`` bit/s with one-way latency ``L``, a TCP
config with segment size ``MSS`` and initial window ``IW`` segments:

* ``n = ceil(B / MSS)`` segments; on the wire each carries ``H = 54`` B of headers,
  so the wire bytes are ``W = B + H * n`` and one full segment takes ``s = (MSS + H) * 8 / R``.
* ``RTT = 2 L + s``.
* handshake: ``2 L`` (SYN out, SYN-ACK back; data follows the ACK).
* slow start (the classic idle-time model): the window starts at ``IW`` and doubles every
  RTT, up to the socket buffers (``Wmax = min(SndBuf, RcvBuf) / MSS``); the sender idles
  ``max(0, RTT - w_k * s)`` after burst ``k`` until the window fills the pipe
  (``w_k * s >= RTT``) or the data runs out. A window capped below the pipe (ns-3's
  128 KiB buffers at 25 Mbps, 100 ms) idles every RTT until the end.
* serialization: ``W * 8 / R``, then ``L`` for the last byte to propagate.

    T(B) = 2 L + sum_k max(0, RTT - w_k s) + W * 8 / R + L        (T(0) = 0)

It ignores losses, delayed ACKs (which slow window growth) and queueing, so ns-3 is
usually a little slower; docs/NETWORK.md compares the two.

:func:`theory_s` adds what textbook models say about a link's impairments: a loss-limited
throughput (:func:`pftk_bps`; :func:`mathis_bps` is its timeout-free special case) and,
on a capacity trace, the time the trace's integral needs to carry the wire bytes.
"""
from __future__ import annotations

import math

from ns3_scenarios.tcp import WIRE_HEADER_BYTES, get_config


def slow_start_idle_s(segments: int, segment_s: float, rtt_s: float, initial_cwnd: int, max_cwnd: int) -> float:
    """Seconds a sender idles waiting for ACKs while its window is below the pipe size."""
    idle, window, remaining = 0.0, min(initial_cwnd, max_cwnd), segments
    while remaining > 0:
        burst = min(window, remaining)
        remaining -= burst
        if remaining == 0 or burst * segment_s >= rtt_s:
            break
        idle += rtt_s - burst * segment_s
        if window == max_cwnd:  # window-limited for good: one idle gap per further full burst
            idle += (rtt_s - window * segment_s) * ((remaining - 1) // window)
            break
        window = min(2 * window, max_cwnd)
    return idle


def transfer_s(nbytes: int, rate_bps: float, latency_s: float, tcp: str = "linux-rto") -> float:
    """Analytic completion time in seconds of ``nbytes`` over one idle link (formula in the module doc)."""
    if nbytes <= 0:
        return 0.0
    config = get_config(tcp)
    segments = math.ceil(nbytes / config.segment_size)
    wire_bytes = nbytes + WIRE_HEADER_BYTES * segments
    segment_s = (config.segment_size + WIRE_HEADER_BYTES) * 8 / rate_bps
    rtt_s = 2 * latency_s + segment_s
    max_cwnd = max(1, min(config.snd_buf, config.rcv_buf) // config.segment_size)
    idle = slow_start_idle_s(segments, segment_s, rtt_s, config.initial_cwnd, max_cwnd)
    return 2 * latency_s + idle + wire_bytes * 8 / rate_bps + latency_s


def mathis_bps(loss_event_rate: float, rtt_s: float, mss: int) -> float:
    """Mathis et al. (1997) steady-state TCP throughput in payload bit/s: ``MSS / RTT * sqrt(3 / 2) / sqrt(p)``."""
    if loss_event_rate <= 0:
        return math.inf
    return mss * 8 / rtt_s * math.sqrt(1.5 / loss_event_rate)


def pftk_bps(loss_event_rate: float, rtt_s: float, mss: int, rto_s: float, acked_per_ack: int = 2) -> float:
    """Padhye, Firoiu, Towsley, Kurose (1998) throughput in payload bit/s, timeouts included:

        B(p) = MSS / (RTT sqrt(2bp/3) + T0 min(1, 3 sqrt(3bp/8)) p (1 + 32 p^2))

    with ``b`` segments acknowledged per ACK (2: delayed ACKs) and ``T0`` the retransmission timeout.
    """
    p = loss_event_rate
    if p <= 0:
        return math.inf
    b = acked_per_ack
    denominator = rtt_s * math.sqrt(2 * b * p / 3) + rto_s * min(1.0, 3 * math.sqrt(3 * b * p / 8)) * p * (1 + 32 * p * p)
    return mss * 8 / denominator


def _impairments(link, direction: str):
    """``(loss model, capacity trace)`` of one direction of ``link`` (``None`` where unset)."""
    impairments = getattr(link, direction, None)
    return getattr(impairments, "loss", None), getattr(impairments, "trace", None)


def theory_s(nbytes: int, link, direction: str, trace_start_s: float = 0.0) -> float:
    """The closed form of one transfer in ``direction`` (``"up"``/``"down"``) of ``link``, with its impairments.

    * **capacity trace**: the handshake ``2 L``, then the time until the integral of the
      trace from ``trace_start_s + 2 L`` (the trace clock when data starts) reaches the
      wire bits (:meth:`CapacityTrace.finish_time`, the fluid bound), then ``L``; slow start
      is left out (it is short beside a trace's variation).
    * **loss** (random or Gilbert–Elliott): TCP's rate is capped at the PFTK throughput
      :func:`pftk_bps` for the loss *event* rate ``p = stationary loss / mean burst`` (a burst
      of consecutive losses costs one window halving), base RTT ``2 L + s``, ``T0 = max(min RTO,
      2 RTT)``; the serialization term ``W * 8 / R`` becomes ``W * 8 / min(R, B(p))``.

    Equal to :func:`transfer_s` on a plain link. Queues, cross traffic and the reverse
    direction's impairments are not in it: what ns-3 adds over it is theirs.
    """
    rate = link.up_bps if direction == "up" else link.down_bps
    base = transfer_s(nbytes, rate, link.latency_s, link.tcp)
    loss, trace = _impairments(link, direction)
    if nbytes <= 0 or (loss is None and trace is None):
        return base
    config = get_config(link.tcp)
    segments = math.ceil(nbytes / config.segment_size)
    wire_bits = (nbytes + WIRE_HEADER_BYTES * segments) * 8
    latency = link.latency_s
    if trace is not None:
        base = 2 * latency + trace.finish_time(wire_bits, trace_start_s + 2 * latency) + latency
        rate = trace.mean_bps
    if loss is not None and loss.stationary_loss > 0:
        rtt = 2 * latency + (config.segment_size + WIRE_HEADER_BYTES) * 8 / rate
        capped = pftk_bps(loss.stationary_loss / loss.mean_burst, rtt, config.segment_size,
                          max(config.min_rto_ms / 1e3, 2 * rtt))
        base += max(0.0, nbytes * 8 / capped - wire_bits / rate)
    return base
