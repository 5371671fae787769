"""One check of a whole configuration, before anything heavy (a model load) starts.

Every component declares what it supports as class attributes — methods: ``objectives``,
``schedules``, ``composes_with_ecolora``, ``ecolora_download``, ``config_type``;
objectives and schedules: ``config_type``; schedules: ``needs_arrivals``. :func:`check`
resolves the registries and refuses every invalid combination with one line. The
library (``fl_core.loop.train``/``resume``) and the CLI both call it.
"""
from __future__ import annotations

from fl_core.config import RunConfig
from fl_core.data.partition import get_partitioner
from fl_core.errors import ConfigError
from fl_core.evaluate import BENCHMARKS
from fl_core.methods import METHODS, get_method
from fl_core.objectives import OBJECTIVES, get_objective_class
from fl_core.schedules import SCHEDULES, get_schedule
from fl_core.transports.downloads import DOWNLOAD_POLICIES


def components(cfg: RunConfig) -> dict[str, type]:
    """The registered classes a config names: ``{"method": ..., "objective": ..., "schedule": ...}``."""
    return {"method": get_method(cfg.method), "objective": get_objective_class(cfg.objective),
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
    unknown = sorted(set(cfg.evals or ()) - set(BENCHMARKS))
    if unknown:
        raise ConfigError(f"unknown evaluation(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    if cfg.model.startswith("shape:"):
        from fl_core.shapes import get_shape

        get_shape(cfg.model)
        if cfg.evals:
            raise ConfigError(f"--evals {','.join(cfg.evals)}: {cfg.model} has random weights, on which accuracy "
                              "benchmarks score chance; a shape run reports the held-out eval loss only (drop --evals)")
    if (reason := method.unsupported(cfg)) is not None:
        raise ConfigError(reason)
    if cfg.ecolora is not None:
        if method.ecolora_download not in DOWNLOAD_POLICIES:
            raise ConfigError(f"method {cfg.method!r} names an unknown EcoLoRA download policy "
                              f"{method.ecolora_download!r}")
    known = configurable()
    for name in cfg.settings:
        if name not in known:
            raise ConfigError(f"settings for unknown component {name!r}; components with settings: "
                              f"{', '.join(sorted(known))}")
    for cls in found.values():
        if cls.config_type is not None:
            cfg.settings_of(cls.name, cls.config_type)
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
