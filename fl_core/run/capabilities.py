"""One check of a whole configuration, before anything heavy (a model load, torch) starts.

Every component declares what it supports — methods and objectives on their cards
(:mod:`fl_core.cards`: ``objectives``, ``schedules``, ``composes_with_ecolora``,
``ecolora_download``, ``config_type``), schedules as class attributes (``needs_arrivals``,
``config_type``). :func:`check` resolves the registries and refuses every invalid
combination with one line, without importing torch. The library
(``fl_core.run.loop.train``/``resume``) and the CLI both call it.
"""
from __future__ import annotations

from collections.abc import Collection

from fl_core.cards import BENCHMARK_NAMES
from fl_core.run.config import RunConfig
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


def check(cfg: RunConfig, arrivals=None, executor=None) -> dict[str, type]:
    """Validate ``cfg`` and every combination it names; returns the resolved components.

    ``arrivals``: what the caller will hand a schedule that takes transfer times from the
    network; None means the schedule must find them in the config (``links`` or ``scenario``).
    ``executor``: the one that will train the clients (None: the local one).
    """
    cfg.validate()
    found = components(cfg)
    method, objective, schedule = found["method"], found["objective"], found["schedule"]
    get_partitioner(cfg.partition)
    unknown = sorted(set(cfg.evals or ()) - set(BENCHMARK_NAMES))
    if unknown:
        raise ConfigError(f"unknown evaluation(s) {unknown}; choose from {', '.join(BENCHMARK_NAMES)}")
    if cfg.model.startswith("shape:"):
        from fl_core.model.shapes import get_shape

        get_shape(cfg.model)
        if cfg.evals:
            raise ConfigError(f"--evals {','.join(cfg.evals)}: {cfg.model} has random weights, on which accuracy "
                              "benchmarks score chance; a shape run reports the held-out eval loss only (drop --evals)")
    if (reason := method.unsupported(cfg)) is not None:
        raise ConfigError(reason)
    if getattr(executor, "remote", False) and not method.remote_clients:
        raise ConfigError(f"method {cfg.method!r} cannot train its clients under --executor {executor.name}: "
                          f"{method.remote_clients_reason}")
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
    check_client_ids(cfg)
    return found


# -- options given but read by no component of the run (issue 24.E) --------------------------------

def check_given(cfg: RunConfig, given: Collection[str]) -> None:
    """Refuse options the user gave (``given``: ``RunConfig`` field names, ``ecolora__<field>`` for EcoLoRA's)
    that no component of ``cfg`` reads, with one line naming the option and what it needs.

    Who reads what: ``reads`` on the method cards and schedule classes; EcoLoRA's options need
    EcoLoRA. Call it where "given" is known (the CLI); defaults are never refused.
    """
    from fl_core.run.settings import cli_fields, flag_of
    from fl_core.transports.ecolora_config import EcoLoRAConfig

    flags = {f.name: flag_of(f) for f in cli_fields(RunConfig)}
    flags.update({f"ecolora__{f.name}": flag_of(f) for f in cli_fields(EcoLoRAConfig)})
    if cfg.ecolora is None:
        eco = [flags[k] for k in given if k.startswith("ecolora__") and k in flags]
        if eco:
            raise ConfigError(f"{', '.join(sorted(eco))} only apply with EcoLoRA: use --method "
                              f"{cfg.method}+ecolora (or --ecolora), or drop them")
    chosen = {cfg.method, cfg.schedule}
    readers: dict[str, list[str]] = {}
    for name, component in [*METHODS.items(), *SCHEDULES.items()]:
        for field_name in getattr(component, "reads", ()):
            readers.setdefault(field_name, []).append(name)
    for field_name in sorted(set(given) & set(readers)):
        if not chosen & set(readers[field_name]):
            raise ConfigError(f"{flags.get(field_name, field_name)} only applies to {', '.join(readers[field_name])}; "
                              f"this run is {cfg.method} under {get_schedule(cfg.schedule).label}: drop it")


def check_client_ids(cfg: RunConfig) -> None:
    """Availability rows for clients outside the federation (ids 0 .. K-1) would be ignored: refuse them."""
    if cfg.schedule != "deadline":
        return
    from fl_core.schedules.deadline import DeadlineConfig, read_availability_trace

    trace = cfg.settings_of("deadline", DeadlineConfig).availability_trace
    outside = sorted(c for c in (read_availability_trace(trace) if trace else {}) if c >= cfg.n_clients)
    if outside:
        raise ConfigError(f"--availability-trace {trace}: client(s) {', '.join(map(str, outside[:5]))} lie outside "
                          f"the federation (--clients {cfg.n_clients}: ids 0-{cfg.n_clients - 1})")
