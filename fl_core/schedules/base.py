"""What every round schedule shares: its capability attributes and the arrival-time interfaces.

A schedule is a class with ``name``, ``label`` (for messages), ``needs_arrivals`` (it
takes transfer times from the network), ``resumable``, ``reads`` (``RunConfig`` fields only it
reads), ``config_type`` (its typed
settings or None) and ``run(ctx, arrivals) -> Path``, where ``ctx`` is a
:class:`fl_core.run.context.RunContext`.

Arrival times come from the harness (``fl_core`` knows nothing of ns-3): FedBuff asks
one dispatched client at a time (:class:`ArrivalModel`), the deadline schedule a whole round
(:class:`RoundArrivals`; ``harness.arrivals`` implements both).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol


class ArrivalModel(Protocol):
    """When one dispatched client's messages arrive, on its own link."""

    def dispatch_times(self, dispatch: int, transfer: "Transfer"):
        """The timing of dispatch number ``dispatch`` (``download_done_s``, ``upload_start_s``,
        ``upload_done_s``, seconds from the dispatch): download, the client's compute time (as the
        network's compute model scales ``transfer.compute_s``), upload."""


@dataclass(frozen=True)
class Transfer:
    """One invited client's round as the network sees it (field names as ``ns3_scenarios.transfers.ClientTransfer``)."""

    client: int
    downlink_bytes: int
    compute_s: float
    uplink_bytes: int


class RoundArrivals(Protocol):
    """When each client of a round finishes its download and its upload (seconds from round start)."""

    def round_times(self, round_idx: int, transfers: list[Transfer]) -> list:
        """One timing per transfer with ``client``, ``download_done_s``, ``upload_start_s``, ``upload_done_s``."""


class Schedule:
    """Base of the round schedules (capability attributes and their defaults)."""

    name: ClassVar[str]
    label: ClassVar[str]
    needs_arrivals: ClassVar[bool] = False
    resumable: ClassVar[bool] = True
    config_type: ClassVar[type | None] = None
    reads: ClassVar[tuple[str, ...]] = ()  # RunConfig fields only this schedule reads (refused for others)

    def run(self, ctx, arrivals=None) -> Path:
        raise NotImplementedError
