"""What one synchronous round asks of the network, and what the simulation reports back.

Plain data (no ns-3), so the parent process can build and check a round before any
simulation starts.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.network import Network

#: Most clients one simulated round accepts (one server port per client).
MAX_CLIENTS = 10_000
#: Largest message one flow accepts: 1 GiB (a rank-16 LoRA of a 7B model is ~40 MB in fp16).
#: ns-3 simulates every packet: about 10 MB of flow per wall second on one core with the
#: linux config (MSS 1448), 3x slower with ns3-default (MSS 536), so a 1 GiB flow costs
#: one to five minutes; 10^12 bytes would run for days and 10^15 overflows ns-3.
MAX_MESSAGE_BYTES = 2**30


@dataclass(frozen=True)
class ClientTransfer:
    """One participant's round: bytes down, compute seconds, bytes up, optionally its own link."""

    client: int
    downlink_bytes: int
    compute_s: float
    uplink_bytes: int
    network: Network | None = None


@dataclass(frozen=True)
class ClientTiming:
    """When one participant's download ended, its upload began and ended (simulated seconds from round start)."""

    client: int
    download_done_s: float
    upload_start_s: float
    upload_done_s: float

    @property
    def download_s(self) -> float:
        return self.download_done_s

    @property
    def compute_s(self) -> float:
        return self.upload_start_s - self.download_done_s

    @property
    def upload_s(self) -> float:
        return self.upload_done_s - self.upload_start_s


def link_of(network: Network, transfer: ClientTransfer) -> Network:
    """The network ``transfer`` runs on: its own override, else the scenario's."""
    return transfer.network or network


def _check_bytes(value: object, what: str, client: object) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ScenarioError(f"client {client}: invalid {what} {value!r}: expected an integer >= 0")
    check_message_bytes(int(value), f"client {client}: {what}")


def check_message_bytes(nbytes: int, what: str) -> None:
    """Refuse a message larger than :data:`MAX_MESSAGE_BYTES` before ns-3 spends hours on it."""
    if nbytes > MAX_MESSAGE_BYTES:
        raise ScenarioError(
            f"{what} {nbytes} exceeds the {MAX_MESSAGE_BYTES} bytes (1 GiB) one simulated flow accepts; "
            f"ns-3 would need about {nbytes / 10e6 / 3600:.3g} h of wall time for it"
        )


def check_round(network: Network, transfers: Sequence[ClientTransfer]) -> None:
    """Refuse a round ns-3 could not run sensibly; every message names the client and the value."""
    if not isinstance(network, Network):
        raise ScenarioError(f"invalid network {network!r}: expected a Network")
    if not transfers:
        raise ScenarioError("a round needs at least one client transfer")
    if len(transfers) > MAX_CLIENTS:
        raise ScenarioError(f"a round has {len(transfers)} clients; at most {MAX_CLIENTS} are supported")
    seen: set[int] = set()
    for t in transfers:
        if not isinstance(t, ClientTransfer):
            raise ScenarioError(f"invalid transfer {t!r}: expected a ClientTransfer")
        if isinstance(t.client, bool) or not isinstance(t.client, numbers.Integral) or t.client < 0:
            raise ScenarioError(f"invalid client id {t.client!r}: expected an integer >= 0")
        if t.client in seen:
            raise ScenarioError(f"client {t.client} appears twice in one round")
        seen.add(t.client)
        _check_bytes(t.downlink_bytes, "downlink_bytes", t.client)
        _check_bytes(t.uplink_bytes, "uplink_bytes", t.client)
        compute = t.compute_s
        if isinstance(compute, bool) or not isinstance(compute, numbers.Real) or not (0 <= compute < math.inf):
            raise ScenarioError(f"client {t.client}: invalid compute_s {compute!r}: expected a finite number >= 0")
        if t.network is not None:
            if not isinstance(t.network, Network):
                raise ScenarioError(f"client {t.client}: invalid network {t.network!r}: expected a Network")
            if t.network.tcp != network.tcp:
                raise ScenarioError(
                    f"client {t.client}: TCP config {t.network.tcp!r} differs from the scenario's {network.tcp!r}; "
                    "ns-3 applies one TCP config per simulation"
                )


def in_client_order(simulate: Callable[[list[ClientTransfer]], list[ClientTiming]],
                    transfers: Sequence[ClientTransfer]) -> list[ClientTiming]:
    """``simulate`` the round with its transfers sorted by client id; the timings come back in ``transfers``' order.

    An engine gives nodes, ports, addresses, RNG streams and the order of simultaneous events
    by position in the list it simulates; sorting first makes its result independent of the
    order the caller listed the transfers in (the deadline schedule lists them in invitation
    order, replay by client).
    """
    order = sorted(range(len(transfers)), key=lambda i: int(transfers[i].client))
    timings = simulate([transfers[i] for i in order])
    out: list[ClientTiming] = [None] * len(transfers)  # type: ignore[list-item]
    for position, i in enumerate(order):
        out[i] = timings[position]
    return out
