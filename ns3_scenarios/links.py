"""Per-link impairments: loss, bursty loss, capacity traces, queues, cross traffic, connections.

Plain frozen dataclasses (no ns-3), validated on construction: a bad value raises
:class:`~ns3_scenarios.errors.ScenarioError` naming the field, e.g.
``invalid loss.rate 1.5: expected a probability in [0, 1)``. Each has ``to_dict()`` (JSON-able,
the input of a scenario's resolved spec and hash) and ``from_dict()`` (its inverse).
:class:`~ns3_scenarios.network.Network` carries them; ``NONE`` everywhere is today's
lossless, constant-rate, private link, and a network without impairments simulates
bit-identically to one built before these fields existed.

How ns-3 applies each one is in ``ns3_scenarios/simcore.py`` and docs/NETWORK.md
("Impairments").
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ns3_scenarios.errors import ScenarioError

#: The two directions of an access link: ``up`` is client -> server, ``down`` server -> client.
DIRECTIONS = ("up", "down")
#: The fastest rate a link or a trace step may have (bits per second): 100,000 Mbps.
MAX_RATE_BPS = 100e9
#: Bounds of a capacity trace: its points (steps) and the finest step. ns-3 schedules one rate
#: change per step and the scenario keeps every point in memory; a finer or longer trace is
#: refused with its numbers (resample it: mahimahi traces are binned, ``bin_s``).
MAX_TRACE_POINTS = 100_000
MIN_TRACE_STEP_S = 1e-3


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ScenarioError(f"invalid {what} {value!r}: expected a finite number")
    return float(value)


def probability(value: Any, what: str, *, below_one: bool = False) -> float:
    """``value`` as a float in [0, 1] (or [0, 1) with ``below_one``); ``ScenarioError`` naming ``what`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ScenarioError(f"invalid {what} {value!r}: expected a probability in [0, 1{')' if below_one else ']'}")
    p = float(value)
    if not (0.0 <= p < 1.0 if below_one else 0.0 <= p <= 1.0):
        raise ScenarioError(f"invalid {what} {value!r}: expected a probability in [0, 1{')' if below_one else ']'}")
    return p


def _non_negative(value: Any, what: str) -> float:
    x = _number(value, what)
    if x < 0:
        raise ScenarioError(f"invalid {what} {value!r}: must be >= 0")
    return x


def _positive(value: Any, what: str) -> float:
    x = _number(value, what)
    if x <= 0:
        raise ScenarioError(f"invalid {what} {value!r}: must be > 0")
    return x


def _choice(value: Any, what: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ScenarioError(f"invalid {what} {value!r}: expected one of {', '.join(choices)}")
    return value


def _keys(mapping: Any, what: str, allowed: Sequence[str]) -> Mapping:
    if not isinstance(mapping, Mapping):
        raise ScenarioError(f"invalid {what} {mapping!r}: expected a table of {', '.join(allowed)}")
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        raise ScenarioError(f"unknown key {what}.{unknown[0]}: expected one of {', '.join(allowed)}")
    return mapping


@dataclass(frozen=True)
class RandomLoss:
    """Independent packet loss: each packet arriving at the receiving device is dropped with ``rate``."""

    rate: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", probability(self.rate, "loss.rate", below_one=True))

    @property
    def stationary_loss(self) -> float:
        return self.rate

    @property
    def mean_burst(self) -> float:
        """Mean run of consecutive losses, in packets: 1 / (1 - rate)."""
        return 1.0 / (1.0 - self.rate)

    def to_dict(self) -> dict:
        return {"kind": "random", "rate": self.rate}


@dataclass(frozen=True)
class GilbertElliott:
    """A two-state Markov loss channel, advanced once per packet time.

    In state Good a packet is lost with ``loss_good``, in Bad with ``loss_bad``. The channel
    moves Good -> Bad with ``p_good_bad`` and Bad -> Good with ``p_bad_good`` once per slot,
    the time one 1500-byte packet takes at the direction's nominal rate: back-to-back packets
    see the classic per-packet chain, and idle time (a retransmission timeout) lets the channel
    evolve too, so a burst is an interval of time, not a count of packets that a backed-off
    sender could take minutes to send.
    Stationary share of Bad: pi_B = p_gb / (p_gb + p_bg); loss rate
    (1 - pi_B) loss_good + pi_B loss_bad; mean stay in Bad 1 / p_bg packets (the mean loss
    burst when ``loss_bad`` = 1 and ``loss_good`` = 0).
    """

    p_good_bad: float
    p_bad_good: float
    loss_good: float = 0.0
    loss_bad: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "p_good_bad", probability(self.p_good_bad, "loss.p_good_bad"))
        object.__setattr__(self, "p_bad_good", probability(self.p_bad_good, "loss.p_bad_good"))
        object.__setattr__(self, "loss_good", probability(self.loss_good, "loss.loss_good", below_one=True))
        object.__setattr__(self, "loss_bad", probability(self.loss_bad, "loss.loss_bad"))
        if self.p_bad_good == 0:
            raise ScenarioError("invalid loss.p_bad_good 0: the channel would stay in the Bad state forever")

    @property
    def bad_share(self) -> float:
        """Stationary probability of the Bad state."""
        return self.p_good_bad / (self.p_good_bad + self.p_bad_good)

    @property
    def stationary_loss(self) -> float:
        """Long-run share of packets lost."""
        pi_b = self.bad_share
        return (1 - pi_b) * self.loss_good + pi_b * self.loss_bad

    @property
    def mean_burst(self) -> float:
        """Mean number of consecutive packets spent in the Bad state (1 / p_bad_good)."""
        return 1.0 / self.p_bad_good

    @classmethod
    def from_rate(cls, loss: float, mean_burst: float) -> GilbertElliott:
        """The channel with ``loss_good`` 0, ``loss_bad`` 1, this stationary loss and mean burst (packets)."""
        loss = probability(loss, "loss.rate", below_one=True)
        if _number(mean_burst, "loss.mean_burst") < 1:
            raise ScenarioError(f"invalid loss.mean_burst {mean_burst!r}: must be >= 1 packet")
        p_bg = 1.0 / mean_burst
        return cls(p_good_bad=p_bg * loss / (1.0 - loss), p_bad_good=p_bg)

    def to_dict(self) -> dict:
        return {"kind": "gilbert_elliott", "p_good_bad": self.p_good_bad, "p_bad_good": self.p_bad_good,
                "loss_good": self.loss_good, "loss_bad": self.loss_bad}


Loss = RandomLoss | GilbertElliott


def loss_from_dict(d: Mapping, where: str = "loss") -> Loss | None:
    """Inverse of ``to_dict`` for both loss kinds (``None`` for ``None``)."""
    if d is None:
        return None
    if not isinstance(d, Mapping):
        raise ScenarioError(f"invalid {where} {d!r}: expected a table with kind = random or gilbert_elliott")
    kind = d.get("kind")
    if kind == "random":
        _keys(d, where, ("kind", "rate"))
        return RandomLoss(d.get("rate"))
    if kind == "gilbert_elliott":
        _keys(d, where, ("kind", "p_good_bad", "p_bad_good", "loss_good", "loss_bad"))
        return GilbertElliott(**{k: v for k, v in d.items() if k != "kind"})
    raise ScenarioError(f"invalid {where}.kind {kind!r}: expected random or gilbert_elliott")


@dataclass(frozen=True)
class CapacityTrace:
    """A piecewise-constant rate over time, repeating with period ``period_s``.

    The rate is ``bps[i]`` from ``times_s[i]`` to ``times_s[i + 1]`` (the last one until
    ``period_s``); ``times_s[0]`` is 0. A rate of 0 is an outage: ns-3 keeps the last
    non-zero rate on the device and drops every packet arriving in that direction (a device
    rate of 0 would divide by zero, and a tiny rate would stall the frame being serialised).
    ``source`` names where it came from (a file name or the generator's parameters).
    """

    times_s: tuple[float, ...]
    bps: tuple[float, ...]
    period_s: float
    source: str = ""

    def __post_init__(self) -> None:
        times = tuple(_non_negative(t, "trace.times_s") for t in self.times_s)
        rates = tuple(_non_negative(r, "trace rate") for r in self.bps)
        if not times:
            raise ScenarioError(f"trace {self.source or ''} is empty".replace("  ", " "))
        if len(times) != len(rates):
            raise ScenarioError(f"trace {self.source}: {len(times)} times but {len(rates)} rates")
        if times[0] != 0:
            raise ScenarioError(f"trace {self.source}: the first time must be 0, got {times[0]}")
        if len(times) > MAX_TRACE_POINTS:
            raise ScenarioError(f"trace {self.source}: {len(times):,} points; at most {MAX_TRACE_POINTS:,} "
                                f"(resample it to coarser steps)")
        for a, b in zip(times, times[1:]):
            if b <= a:
                raise ScenarioError(f"trace {self.source}: times must increase, got {a} then {b}")
            if b - a < MIN_TRACE_STEP_S - 1e-12:
                raise ScenarioError(f"trace {self.source}: step of {b - a:g} s at {a:g} s; the finest step is "
                                    f"{MIN_TRACE_STEP_S * 1e3:g} ms (resample it)")
        if max(rates) > MAX_RATE_BPS:
            raise ScenarioError(f"trace {self.source}: rate {max(rates) / 1e6:g} Mbps exceeds "
                                f"{MAX_RATE_BPS / 1e6:,.0f} Mbps, the fastest link")
        period = _positive(self.period_s, "trace.period_s")
        if period <= times[-1]:
            raise ScenarioError(f"trace {self.source}: period_s {period} must exceed the last time {times[-1]}")
        if not any(r > 0 for r in rates):
            raise ScenarioError(f"trace {self.source}: every rate is 0")
        object.__setattr__(self, "times_s", times)
        object.__setattr__(self, "bps", rates)
        object.__setattr__(self, "period_s", period)

    @property
    def mean_bps(self) -> float:
        """Time-average rate over one period."""
        edges = (*self.times_s, self.period_s)
        return sum(r * (b - a) for r, a, b in zip(self.bps, edges, edges[1:])) / self.period_s

    def rate_at(self, t: float) -> float:
        """The rate at trace time ``t`` (wrapped into one period)."""
        t = t % self.period_s
        lo, hi = 0, len(self.times_s) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.times_s[mid] <= t:
                lo = mid
            else:
                hi = mid - 1
        return self.bps[lo]

    def finish_time(self, bits: float, start_s: float = 0.0) -> float:
        """Seconds after ``start_s`` until the integral of the rate reaches ``bits`` (the fluid bound)."""
        t, left = start_s % self.period_s, float(bits)
        elapsed = 0.0
        edges = (*self.times_s, self.period_s)
        while True:
            i = max(k for k in range(len(self.times_s)) if self.times_s[k] <= t)
            span = edges[i + 1] - t
            rate = self.bps[i]
            if rate * span >= left:
                return elapsed + left / rate
            left -= rate * span
            elapsed += span
            t = edges[i + 1] % self.period_s

    def to_dict(self) -> dict:
        return {"source": self.source, "period_s": self.period_s, "times_s": list(self.times_s),
                "bps": list(self.bps)}

    @property
    def digest(self) -> str:
        """12 hex digits of the sha256 of the points: what a written scenario records instead of them."""
        import hashlib
        import struct

        data = struct.pack(f"<{2 * len(self.times_s) + 1}d", self.period_s, *self.times_s, *self.bps)
        return hashlib.sha256(data).hexdigest()[:12]

    def summary_dict(self) -> dict:
        """The trace as ``scenario.json`` records it: source, period, point count, mean rate and digest."""
        return {"source": self.source, "period_s": self.period_s, "points": len(self.times_s),
                "mean_bps": self.mean_bps, "sha256": self.digest}

    @classmethod
    def from_dict(cls, d: Mapping, where: str = "trace") -> CapacityTrace:
        _keys(d, where, ("source", "period_s", "times_s", "bps"))
        return cls(tuple(d.get("times_s", ())), tuple(d.get("bps", ())), d.get("period_s"), d.get("source", ""))


@dataclass(frozen=True)
class Impairments:
    """What happens to one direction of an access link: a loss model and a capacity trace."""

    loss: Loss | None = None
    trace: CapacityTrace | None = None

    def __post_init__(self) -> None:
        if self.loss is not None and not isinstance(self.loss, (RandomLoss, GilbertElliott)):
            raise ScenarioError(f"invalid loss {self.loss!r}: expected RandomLoss or GilbertElliott")
        if self.trace is not None and not isinstance(self.trace, CapacityTrace):
            raise ScenarioError(f"invalid trace {self.trace!r}: expected a CapacityTrace")
        if isinstance(self.loss, RandomLoss) and self.loss.rate == 0:
            object.__setattr__(self, "loss", None)  # loss 0 is no loss: same simulation, same hash

    @property
    def is_none(self) -> bool:
        return self.loss is None and self.trace is None

    def to_dict(self) -> dict:
        return {"loss": None if self.loss is None else self.loss.to_dict(),
                "trace": None if self.trace is None else self.trace.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping, where: str = "impairments") -> Impairments:
        _keys(d, where, ("loss", "trace"))
        trace = d.get("trace")
        return cls(loss_from_dict(d.get("loss"), f"{where}.loss"),
                   None if trace is None else CapacityTrace.from_dict(trace, f"{where}.trace"))


#: No impairment: today's lossless, constant-rate direction.
NONE = Impairments()

QUEUE_UNITS = ("packets", "bytes", "ms")
DISCIPLINES = ("fq_codel", "droptail", "pfifo")
#: Linux's default txqueuelen, the pfifo queue disc's limit.
PFIFO_LIMIT_PACKETS = 1000


@dataclass(frozen=True)
class Queue:
    """The access link's buffer, on both devices of the link.

    ``limit`` in ``unit`` sizes each device's transmit queue (a DropTail FIFO): packets,
    bytes, or milliseconds of that device's nominal rate. ``discipline`` is the root
    queue disc above it: ``fq_codel`` (ns-3's and Linux's default, 5 ms target), ``pfifo``
    (PfifoFast, 1000 packets, Linux's txqueuelen) or ``droptail`` (no queue disc, only the
    device FIFO). ``bql`` adds byte queue limits (DynamicQueueLimits), which keep the device
    queue short so the queue disc manages the standing queue. ``Queue()`` is ns-3's default,
    i.e. what runs without a queue: 100 packets, fq_codel, no BQL.
    Large buffers are slow to simulate: ~1000 packets in flight cost 15-30x wall per packet.
    """

    limit: float = 100
    unit: str = "packets"
    discipline: str = "fq_codel"
    bql: bool = False

    def __post_init__(self) -> None:
        unit = _choice(self.unit, "queue.unit", QUEUE_UNITS)
        limit = _positive(self.limit, "queue.limit")
        if unit != "ms" and limit != int(limit):
            raise ScenarioError(f"invalid queue.limit {self.limit!r}: a number of {unit} must be whole")
        object.__setattr__(self, "limit", int(limit) if unit != "ms" else limit)
        _choice(self.discipline, "queue.discipline", DISCIPLINES)
        if not isinstance(self.bql, bool):
            raise ScenarioError(f"invalid queue.bql {self.bql!r}: expected true or false")
        if self.bql and self.discipline == "droptail":
            raise ScenarioError("invalid queue.bql true: byte queue limits need a queue discipline (fq_codel or pfifo)")

    def device_size(self, rate_bps: float) -> str:
        """ns-3's ``QueueSize`` string for a device sending at ``rate_bps``: ``"100p"`` or ``"12500B"``."""
        if self.unit == "packets":
            return f"{self.limit}p"
        if self.unit == "bytes":
            return f"{self.limit}B"
        return f"{max(1, math.ceil(rate_bps * self.limit / 1e3 / 8))}B"

    @property
    def is_default(self) -> bool:
        return self == Queue()

    def to_dict(self) -> dict:
        return {"limit": self.limit, "unit": self.unit, "discipline": self.discipline, "bql": self.bql}

    @classmethod
    def from_dict(cls, d: Mapping, where: str = "queue") -> Queue:
        _keys(d, where, ("limit", "unit", "discipline", "bql"))
        return cls(**d)


CROSS_KINDS = ("bulk", "onoff")


@dataclass(frozen=True)
class CrossTraffic:
    """Competing traffic on the client's access link, from ``start_s`` after the round starts.

    ``bulk``: one unlimited TCP flow (BulkSend) in ``direction``. ``onoff``: a UDP source sending
    at ``rate_bps`` during exponentially distributed ON periods (mean ``on_s``) separated by
    exponential OFF periods (mean ``off_s``), seeded per (round, client). It runs between the
    client and the server node, so with a shared server link it loads that link too. The
    simulation stops when the FL flows have finished; cross traffic never ends a round.
    """

    kind: str = "bulk"
    direction: str = "up"
    start_s: float = 0.0
    rate_bps: float | None = None
    on_s: float = 0.5
    off_s: float = 0.5

    def __post_init__(self) -> None:
        _choice(self.kind, "cross.kind", CROSS_KINDS)
        _choice(self.direction, "cross.direction", DIRECTIONS)
        object.__setattr__(self, "start_s", _non_negative(self.start_s, "cross.start_s"))
        if self.kind == "onoff":
            if self.rate_bps is None:
                raise ScenarioError("missing cross.rate_bps: an onoff source needs its sending rate")
            object.__setattr__(self, "rate_bps", _positive(self.rate_bps, "cross.rate_bps"))
            object.__setattr__(self, "on_s", _positive(self.on_s, "cross.on_s"))
            object.__setattr__(self, "off_s", _non_negative(self.off_s, "cross.off_s"))
        elif self.rate_bps is not None:
            raise ScenarioError("invalid cross.rate_bps: a bulk TCP flow takes what TCP gives it, not a rate")

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "direction": self.direction, "start_s": self.start_s}
        if self.kind == "onoff":
            d.update(rate_bps=self.rate_bps, on_s=self.on_s, off_s=self.off_s)
        return d

    @classmethod
    def from_dict(cls, d: Mapping, where: str = "cross") -> CrossTraffic:
        _keys(d, where, ("kind", "direction", "start_s", "rate_bps", "on_s", "off_s"))
        return cls(**d)


CONNECTION_MODELS = ("per_message", "persistent")


@dataclass(frozen=True)
class Connection:
    """How messages map onto TCP connections.

    ``per_message`` (today): every message opens a new connection (handshake included in
    its time). ``persistent``: one connection per client for the whole round's messages
    (download, then upload on the same socket), kept open while the client computes.
    Each round is its own simulation, so every connection enters a round with a fresh window,
    as Linux's ``tcp_slow_start_after_idle=1`` leaves it after a round of idle; within a round
    each socket sends once, so no idle restart could apply (docs/NETWORK.md, "Connections").
    ``tls``: TLS 1.3 adds one round trip before the first byte of every new connection.
    """

    model: str = "per_message"
    tls: bool = False

    def __post_init__(self) -> None:
        _choice(self.model, "connection.model", CONNECTION_MODELS)
        if not isinstance(self.tls, bool):
            raise ScenarioError(f"invalid connection.tls {self.tls!r}: expected true or false")

    @property
    def is_default(self) -> bool:
        return self == Connection()

    def to_dict(self) -> dict:
        return {"model": self.model, "tls": self.tls}

    @classmethod
    def from_dict(cls, d: Mapping, where: str = "connection") -> Connection:
        _keys(d, where, ("model", "tls"))
        return cls(**d)


def cross_tuple(value: Any) -> tuple[CrossTraffic, ...]:
    """``value`` (one CrossTraffic or a sequence of them) as a tuple; ``ScenarioError`` otherwise."""
    if isinstance(value, CrossTraffic):
        return (value,)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ScenarioError(f"invalid cross {value!r}: expected a list of CrossTraffic")
    items = tuple(value)
    for item in items:
        if not isinstance(item, CrossTraffic):
            raise ScenarioError(f"invalid cross {item!r}: expected CrossTraffic")
    return items


__all__ = [
    "CONNECTION_MODELS", "CROSS_KINDS", "DIRECTIONS", "DISCIPLINES", "NONE", "QUEUE_UNITS", "CapacityTrace",
    "Connection", "CrossTraffic", "GilbertElliott", "Impairments", "Loss", "Queue", "RandomLoss",
    "cross_tuple", "loss_from_dict", "probability",
]
