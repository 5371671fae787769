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


def transfer_s(nbytes: int, rate_bps: float, latency_s: float, tcp: str = "linux") -> float:
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


def _impairments(link, direction: str):
    """``(loss model, capacity trace)`` of one direction of ``link`` (``None`` where unset)."""
    impairments = getattr(link, direction, None)
    return getattr(impairments, "loss", None), getattr(impairments, "trace", None)


def theory_s(nbytes: int, link, direction: str) -> float:
    """The closed form of :func:`transfer_s` for one direction (``"up"``/``"down"``) of ``link``, stretched by
    its impairments (see :func:`loss_limited_s`); equal to :func:`transfer_s` on a plain link."""
    rate = link.up_bps if direction == "up" else link.down_bps
    return transfer_s(nbytes, rate, link.latency_s, link.tcp)
