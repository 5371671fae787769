"""Round schedules by name: ``sync`` (the paper's rounds), ``fedbuff`` (asynchronous, buffered),
``deadline`` (over-selection, dropouts, a deadline).

Adding a schedule is one module with a :class:`~fl_core.schedules.base.Schedule` subclass
plus one line in :data:`SCHEDULES`.
"""
from __future__ import annotations

from fl_core.errors import ConfigError
from fl_core.schedules.base import Schedule
from fl_core.schedules.deadline import DeadlineSchedule
from fl_core.schedules.fedbuff import FedBuffSchedule
from fl_core.schedules.sync import SyncSchedule

SCHEDULES: dict[str, type[Schedule]] = {s.name: s for s in (SyncSchedule, FedBuffSchedule, DeadlineSchedule)}


def get_schedule(name: str) -> type[Schedule]:
    """The schedule class registered as ``name``."""
    try:
        return SCHEDULES[name]
    except KeyError:
        raise ConfigError(f"unknown schedule (participation) {name!r}; choose one of {', '.join(SCHEDULES)}") from None
