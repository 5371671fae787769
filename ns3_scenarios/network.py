"""Network scenarios: asymmetric access links, latency, TCP config, optional shared server link.

Everything is validated here, in Python, before ns-3 sees it: ns-3 aborts the whole
process on a malformed rate or delay (see docs/NETWORK.md). Rates are bits per second,
latency is the one-way propagation delay of each link in seconds (RTT >= 2 x latency).
"""
from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.links import MAX_RATE_BPS, NONE, Connection, CrossTraffic, Impairments, Queue, cross_tuple
from ns3_scenarios.tcp import TCP_CONFIGS
from ns3_scenarios.units import DURATION_UNITS, is_bare_number, quantity, unit_list

#: Accepted link rates: 10 kbit/s to 100 Gbit/s. Below 10 kbit/s one full-size segment takes
#: over a second to serialise, the initial window's queue outlasts TCP's retransmission
#: timers and ns-3's TCP gives up (a 28 kB flow at 1-2 kbit/s never completes); at
#: 10 kbit/s flows up to MAX_MESSAGE_BYTES complete with either TCP config, even at 10 s latency.
MIN_RATE_BPS = 1e4
#: Accepted one-way latency: 0 to 10 s.
MAX_LATENCY_S = 10.0
DEFAULT_LATENCY_S = 0.05
DEFAULT_TCP = "linux-cubic"  # tracks real Linux CUBIC best (docs/NETWORK.md, "Fidelity to real Linux TCP")



def check_rate(bps: float, what: str) -> float:
    """``bps`` as a float if it is a finite rate within bounds; ``ScenarioError`` naming ``what`` otherwise."""
    if isinstance(bps, bool) or not isinstance(bps, (int, float)):
        raise ScenarioError(f"invalid {what} {bps!r}: expected a number of bits per second")
    bps = float(bps)
    if not math.isfinite(bps) or bps <= 0:
        raise ScenarioError(f"invalid {what} {_mbps(bps)} Mbps: must be a finite rate > 0")
    if not MIN_RATE_BPS <= bps <= MAX_RATE_BPS:
        raise ScenarioError(
            f"invalid {what} {_mbps(bps)} Mbps: must lie between {_mbps(MIN_RATE_BPS)} and {_mbps(MAX_RATE_BPS)} Mbps"
        )
    return bps


def check_latency(seconds: float) -> float:
    """``seconds`` as a float if it is a finite one-way latency in [0, 10 s]."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ScenarioError(f"invalid latency {seconds!r}: expected a number of seconds")
    seconds = float(seconds)
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_LATENCY_S:
        raise ScenarioError(f"invalid latency {seconds!r} s: must be >= 0 and <= {MAX_LATENCY_S:g} s")
    return seconds


def _mbps(bps: float) -> str:
    return f"{bps / 1e6:g}"


@dataclass(frozen=True)
class Network:
    """One client's access network: uplink and downlink rates, one-way latency, TCP config.

    ``server_link_bps`` puts every client behind one router whose link to the server has
    that rate (a shared bottleneck); ``None`` gives each client its own link to the server.
    The optional impairments (:mod:`ns3_scenarios.links`) default to none, which simulates
    exactly as a network without them: ``up``/``down`` per direction (loss, capacity trace),
    ``queue`` the access link's buffer, ``cross`` competing traffic, ``connection`` how
    messages map onto TCP connections.
    """

    up_bps: float
    down_bps: float
    latency_s: float = DEFAULT_LATENCY_S
    tcp: str = DEFAULT_TCP
    server_link_bps: float | None = None
    up: Impairments = NONE
    down: Impairments = NONE
    queue: Queue | None = None
    cross: tuple[CrossTraffic, ...] = ()
    connection: Connection = Connection()

    def __post_init__(self) -> None:
        object.__setattr__(self, "up_bps", check_rate(self.up_bps, "uplink rate"))
        object.__setattr__(self, "down_bps", check_rate(self.down_bps, "downlink rate"))
        object.__setattr__(self, "latency_s", check_latency(self.latency_s))
        if self.tcp not in TCP_CONFIGS:
            raise ScenarioError(f"unknown TCP config {self.tcp!r}: expected one of {', '.join(TCP_CONFIGS)}")
        if self.server_link_bps is not None:
            object.__setattr__(self, "server_link_bps", check_rate(self.server_link_bps, "server link rate"))
        for name in ("up", "down"):
            if not isinstance(getattr(self, name), Impairments):
                raise ScenarioError(f"invalid {name} {getattr(self, name)!r}: expected Impairments")
        if self.queue is not None and not isinstance(self.queue, Queue):
            raise ScenarioError(f"invalid queue {self.queue!r}: expected a Queue")
        if self.queue is not None and self.queue.is_default:
            object.__setattr__(self, "queue", None)  # ns-3's default buffer: the same as no setting
        object.__setattr__(self, "cross", cross_tuple(self.cross))
        if not isinstance(self.connection, Connection):
            raise ScenarioError(f"invalid connection {self.connection!r}: expected a Connection")

    @property
    def impaired(self) -> bool:
        """Whether anything beyond rates, latency, TCP and the server link is set."""
        return not (self.up.is_none and self.down.is_none and self.queue is None and not self.cross
                    and self.connection.is_default)

    @property
    def random(self) -> bool:
        """Whether a simulation of this network draws random numbers (loss, trace offsets, on/off sources)."""
        return any(d.loss is not None or d.trace is not None for d in (self.up, self.down)) or any(
            c.kind == "onoff" for c in self.cross)

    def to_dict(self) -> dict:
        """Every field, JSON-able (rates in bits per second, latency in seconds)."""
        return {
            "up_bps": self.up_bps, "down_bps": self.down_bps, "latency_s": self.latency_s, "tcp": self.tcp,
            "server_link_bps": self.server_link_bps, "up": self.up.to_dict(), "down": self.down.to_dict(),
            "queue": None if self.queue is None else self.queue.to_dict(),
            "cross": [c.to_dict() for c in self.cross], "connection": self.connection.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Network:
        """Inverse of :meth:`to_dict`."""
        queue = d.get("queue")
        return cls(
            d["up_bps"], d["down_bps"], d.get("latency_s", DEFAULT_LATENCY_S), d.get("tcp", DEFAULT_TCP),
            d.get("server_link_bps"), Impairments.from_dict(d.get("up") or {}, "up"),
            Impairments.from_dict(d.get("down") or {}, "down"), None if queue is None else Queue.from_dict(queue),
            tuple(CrossTraffic.from_dict(c) for c in d.get("cross", ())),
            Connection.from_dict(d.get("connection") or {}),
        )

    @property
    def name(self) -> str:
        """``UP/DOWN`` in Mbps, as the paper writes it: ``"1/5"``, ``"0.2/1"``."""
        return f"{_mbps(self.up_bps)}/{_mbps(self.down_bps)}"

    @property
    def label(self) -> str:
        """:attr:`name` plus whatever differs from the default setting (50 ms, the default TCP, no shared link)."""
        parts = [self.name]
        if self.latency_s != DEFAULT_LATENCY_S:
            parts.append(f"{self.latency_s * 1e3:g}ms")
        if self.tcp != DEFAULT_TCP:
            parts.append(self.tcp)
        if self.server_link_bps is not None:
            parts.append(f"server {_mbps(self.server_link_bps)}Mbps")
        parts.extend(_impairment_labels(self))
        return " ".join(parts)

    @property
    def up_mbps(self) -> float:
        return self.up_bps / 1e6

    @property
    def down_mbps(self) -> float:
        return self.down_bps / 1e6

    @property
    def latency_ms(self) -> float:
        return self.latency_s * 1e3

    def with_(self, **changes) -> Network:
        """A copy with ``changes`` applied (and validated again)."""
        return replace(self, **changes)


def _impairment_labels(net: Network) -> list[str]:
    """Short words for whatever impairment ``net`` carries, for :attr:`Network.label`."""
    parts = []
    for name in ("up", "down"):
        imp = getattr(net, name)
        if imp.loss is not None:
            kind = "loss" if imp.loss.to_dict()["kind"] == "random" else "ge"
            parts.append(f"{name}-{kind} {imp.loss.stationary_loss * 100:g}%")
        if imp.trace is not None:
            parts.append(f"{name}-trace {imp.trace.source or 'custom'}")
    if net.queue is not None:
        q = net.queue
        parts.append(f"queue {q.limit:g}{ {'packets': 'p', 'bytes': 'B', 'ms': 'ms'}[q.unit]} {q.discipline}"
                     + (" bql" if q.bql else ""))
    parts.extend(f"cross {c.kind}-{c.direction}" for c in net.cross)
    if not net.connection.is_default:
        c = net.connection
        parts.append(c.model + (" tls" if c.tls else ""))
    return parts


def _parse_mbps(part: str, what: str, text: str) -> float:
    """One rate of ``"UP/DOWN"`` in Mbps; the message names what is wrong with it."""
    if not is_bare_number(part):
        hint = "rates are plain numbers of Mbps, without units" if part.strip() else f"the {what} rate is empty"
        raise ScenarioError(f"invalid network {text!r}: {hint}")
    value = float(part)
    if math.isnan(value) or math.isinf(value):
        raise ScenarioError(f"invalid network {text!r}: the {what} rate {part.strip()!r} is not a finite number")
    if value <= 0:
        raise ScenarioError(f"invalid network {text!r}: the {what} rate must be > 0 Mbps")
    return value


def parse_network(text: str, latency_s: float = DEFAULT_LATENCY_S, tcp: str = DEFAULT_TCP) -> Network:
    """Parse ``"UP/DOWN"`` in Mbps (``"0.2/1"``, ``"1/5"``) into a :class:`Network`."""
    if not isinstance(text, str):
        raise ScenarioError(f"invalid network {text!r}: expected UP/DOWN in Mbps, e.g. 1/5")
    parts = text.split("/")
    if len(parts) != 2:
        hint = "expected UP/DOWN in Mbps, e.g. 1/5" if len(parts) == 1 else \
            f"expected exactly two rates UP/DOWN in Mbps, got {len(parts)} values"
        raise ScenarioError(f"invalid network {text!r}: {hint}")
    up, down = (_parse_mbps(part, what, text) for part, what in zip(parts, ("uplink", "downlink")))
    try:
        return Network(up * 1e6, down * 1e6, latency_s, tcp)
    except ScenarioError as exc:
        raise ScenarioError(f"invalid network {text!r}: {exc}") from None


def parse_latency(text: str) -> float:
    """Parse a one-way latency with its unit (``"50ms"``, ``"0.05s"``, ``"500us"``) into seconds.

    A bare number is refused: ns-3 itself reads ``"50"`` as 50 *seconds*, which is never meant.
    """
    if not isinstance(text, str):
        raise ScenarioError(f"invalid latency {text!r}: expected a number with a unit, e.g. 50ms or 0.05s")
    value = quantity(text, DURATION_UNITS)
    if value is None:
        if is_bare_number(text):
            raise ScenarioError(f"invalid latency {text!r}: give a unit ({unit_list(DURATION_UNITS)}), e.g. 50ms")
        raise ScenarioError(f"invalid latency {text!r}: expected a number with a unit, e.g. 50ms or 0.05s")
    if math.isnan(value):
        raise ScenarioError(f"invalid latency {text!r}: not a number")
    if value < 0:
        raise ScenarioError(f"invalid latency {text!r}: must be >= 0")
    if value > MAX_LATENCY_S:
        raise ScenarioError(f"invalid latency {text!r}: must be <= {MAX_LATENCY_S:g} s")
    return value


def parse_network_list(text: str, latency_s: float = DEFAULT_LATENCY_S, tcp: str = DEFAULT_TCP) -> list[Network]:
    """Parse a comma-separated list of networks (``"0.2/1,1/5"``); duplicates are refused."""
    if not isinstance(text, str) or not text.strip():
        raise ScenarioError(
            f"invalid network list {text!r}: expected UP/DOWN pairs separated by commas, e.g. 0.2/1,1/5"
        )
    networks = [parse_network(item, latency_s, tcp) for item in text.split(",")]
    names = [n.name for n in networks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ScenarioError(f"invalid network list {text!r}: {', '.join(duplicates)} given twice")
    return networks


#: The paper's four bandwidth scenarios (Section 4.3), each with 50 ms latency.
PRESETS: dict[str, Network] = {n.name: n for n in (parse_network(t) for t in ("0.2/1", "1/5", "2/10", "5/25"))}


def heterogeneous_links(
    n_clients: int, mix: Sequence[str | Network] | None = None, seed: int = 0
) -> list[Network]:
    """One network per client, drawn uniformly from ``mix`` (default: the presets) with ``seed``.

    The same ``(n_clients, mix, seed)`` always gives the same list.
    """
    if isinstance(n_clients, bool) or not isinstance(n_clients, int) or n_clients < 1:
        raise ScenarioError(f"invalid client count {n_clients!r}: expected an integer >= 1")
    if mix is None:
        mix = list(PRESETS.values())
    choices = [m if isinstance(m, Network) else parse_network(m) for m in mix]
    if not choices:
        raise ScenarioError("invalid network mix: it is empty")
    rng = random.Random(seed)
    return [rng.choice(choices) for _ in range(n_clients)]
