"""One check of a whole configuration, before anything heavy (a model load, torch) starts.

Every component declares what it supports — methods and objectives on their cards
(:mod:`fl_core.cards`: ``objectives``, ``schedules``, ``composes_with_ecolora``,
``ecolora_download``, ``config_type``), schedules as class attributes (``needs_arrivals``,
``config_type``). :func:`check` resolves the registries and refuses every invalid
combination with one line, without importing torch. The library
(``fl_core.loop.train``/``resume``) and the CLI both call it.
"""
from __future__ import annotations

from fl_core.cards import BENCHMARK_NAMES
from fl_core.config import RunConfig
from fl_core.data.partition import get_partitioner
from fl_core.errors import ConfigError
from fl_core.methods import METHODS, method_card
from fl_core.objectives import OBJECTIVES, objective_card
from fl_core.schedules import SCHEDULES, get_schedule


def components(cfg: RunConfig) -> dict[str, type]:
    """The registered components a config names: ``{"method": ..., "objective": ..., "schedule": ...}``
    (the method's and objective's cards, the schedule's class)."""
    return {"method": method_card(cfg.method), "objective": objective_card(cfg.objective),
            "schedule": get_schedule(cfg.schedule)}


def configurable() -> dict[str, type]:
    """Every registered component with typed settings: name -> its config type (for the CLI)."""
    found = {}
    for registry in (METHODS, OBJECTIVES, SCHEDULES):
        for name, cls in registry.items():
            if getattr(cls, "config_type", None) is not None:
                found[name] = cls.config_type
    return found


def check(cfg: RunConfig, arrivals=None) -> dict[str, type]:
    """Validate ``cfg`` and every combination it names; returns the resolved components.

    ``arrivals``: what the caller will hand a schedule that takes transfer times from the
    network; None means the schedule must find them in the config (``links`` or ``scenario``).
    """
    cfg.validate()
    found = components(cfg)
    method, objective, schedule = found["method"], found["objective"], found["schedule"]
    get_partitioner(cfg.partition)
    unknown = sorted(set(cfg.evals or ()) - set(BENCHMARK_NAMES))
    if unknown:
        raise ConfigError(f"unknown evaluation(s) {unknown}; choose from {', '.join(BENCHMARK_NAMES)}")
    if (reason := method.unsupported(cfg)) is not None:
        raise ConfigError(reason)
    known = configurable()
    for name in cfg.settings:
        if name not in known:
            raise ConfigError(f"settings for unknown component {name!r}; components with settings: "
                              f"{', '.join(sorted(known))}")
    for component in found.values():
        if component.config_type is not None:
            cfg.settings_of(component.name, component.config_type)
    if not schedule.needs_arrivals:
        unused = [name for name, value in (("--concurrency", cfg.concurrency), ("--links", cfg.links or None),
                                           ("--links-seed", cfg.links_seed)) if value is not None]
        if unused:
            raise ConfigError(f"{', '.join(unused)} only apply with --participation fedbuff (uniform participation "
                              "has no arrival order); drop them or use fedbuff")
    elif cfg.schedule != "fedbuff" and cfg.concurrency is not None:
        raise ConfigError(f"--concurrency only applies with --participation fedbuff, not under {schedule.label}")
    if cfg.schedule == "fedbuff":
        conc = cfg.concurrency or 2 * cfg.participants
        if not cfg.participants <= conc <= cfg.n_clients:
            raise ConfigError(f"FedBuff concurrency {conc} must lie in [buffer size {cfg.participants}, "
                              f"K={cfg.n_clients}]")
    if schedule.needs_arrivals and arrivals is None and not (cfg.links or cfg.scenario):
        raise ConfigError(f"{schedule.label[0].upper() + schedule.label[1:]} needs per-client links (--links) "
                          "to decide arrival order")
    return found
