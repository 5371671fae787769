"""``netbench train``: one federated fine-tuning run written to a run directory.

The options are generated from the configs' field metadata (:mod:`harness.commands.train_options`).
Everything that needs no model is checked before torch, transformers and peft are imported
(~15 s): the options, their combinations (:func:`fl_core.run.capabilities.check`), ``--out``, and
where ``--model`` comes from (an offline hub id). Only then does training import them.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from harness.commands.train_options import SAFE_ON_RESUME, GeneratedCommand, build_options

__all__ = ["train"]


def build_config(opts: dict):
    """A checked ``RunConfig`` from the command's options."""
    from fl_core.run.capabilities import check, check_given
    from fl_core.run.config import SCHEDULE_OF_PARTICIPATION, EcoLoRAConfig, RunConfig
    from fl_core.errors import ConfigError, DataError

    base, _, suffix = opts["method"].partition("+")
    eco = None
    if opts["ecolora"] or suffix:
        eco = EcoLoRAConfig(**{k[9:]: v for k, v in opts.items() if k.startswith("ecolora__")})
    participation = opts["participation"]
    if opts["schedule"] is not None:
        wanted = {v: k for k, v in SCHEDULE_OF_PARTICIPATION.items()}.get(opts["schedule"], opts["schedule"])
        if participation not in ("uniform", wanted):
            raise ConfigError(f"--schedule {opts['schedule']} contradicts --participation {participation}")
        participation = wanted
    settings: dict[str, dict] = {}
    for key, value in opts.items():
        if "__" in key and not key.startswith("ecolora__") and value is not None:
            component, name = key.split("__", 1)
            settings.setdefault(component, {})[name] = value
    if opts["scenario"] is not None:
        participation = _scenario_round_policy(opts, participation, settings)
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    values = {k: v for k, v in opts.items() if k in fields and v is not None}
    values.update(method=base, participation=participation, ecolora=eco, scenario=opts["scenario"],
                  links=tuple(n.name for n in opts["links"] or ()))
    cfg = RunConfig(**values, settings=settings)
    chosen = {cfg.method, cfg.objective, cfg.schedule}
    for component in settings:
        if component not in chosen:
            flags = ", ".join(sorted(settings[component]))
            raise ConfigError(f"{component} settings ({flags}) apply only when {component} is the method, "
                              "objective or schedule of the run")
    if opts["dataset"] != "embedded" and not Path(opts["dataset"]).exists():
        raise DataError(f"dataset file {opts['dataset']!r} does not exist")
    check(cfg, arrivals=None)
    check_given(cfg, {key for key in opts if _given(key)})
    return cfg


def _scenario_round_policy(opts: dict, participation: str, settings: dict) -> str:
    """A scenario's round policy (schedule, deadline, over-selection, availability) where the command line
    says nothing else; returns the participation."""
    from fl_core.run.config import SCHEDULE_OF_PARTICIPATION
    from harness.scenario import load_scenario

    scenario = load_scenario(opts["scenario"])
    outside = sorted(c for c in scenario.client_links.overrides if c >= opts["n_clients"])
    if outside:
        from fl_core.errors import ConfigError

        raise ConfigError(f"--scenario {opts['scenario']}: overrides for client(s) {', '.join(map(str, outside[:5]))} "
                          f"lie outside the federation (--clients {opts['n_clients']}: ids 0-{opts['n_clients'] - 1})")
    if opts["schedule"] is None and participation == "uniform" and scenario.schedule != "sync":
        participation = {v: k for k, v in SCHEDULE_OF_PARTICIPATION.items()}.get(scenario.schedule, scenario.schedule)
    if participation == "deadline":
        mine = settings.setdefault("deadline", {})
        for name in ("deadline_s", "over_selection", "availability"):
            if name not in mine and getattr(scenario, name) is not None:
                mine[name] = getattr(scenario, name)
    return participation


def _given(name: str) -> bool:
    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE


def check_resume_options(opts: dict):
    """The saved run's config; refuses options given with ``--resume`` that differ from it, naming them.

    Options in :data:`SAFE_ON_RESUME` may change; an option given with the saved value is accepted.
    """
    from fl_core.errors import ConfigError
    from fl_core.run.loop import saved_config

    _, saved = saved_config(opts["resume_dir"])
    current = {"method": saved.method_label, "ecolora": saved.ecolora is not None, "schedule": saved.schedule,
               "links": saved.links, "out": opts["resume_dir"], **{k: v for k, v in vars(saved).items()
                                                                     if k not in ("method", "ecolora", "links")}}
    for key in opts:
        if key.startswith("ecolora__"):
            current[key] = getattr(saved.ecolora, key[9:]) if saved.ecolora else None
        elif "__" in key:
            component, name = key.split("__", 1)
            current[key] = saved.settings.get(component, {}).get(name)
    ctx = click.get_current_context(silent=True)
    flags = {p.name: p.opts[0] for p in ctx.command.params} if ctx is not None else {}
    conflicts = []
    for key, value in opts.items():
        if key in SAFE_ON_RESUME or not _given(key):
            continue
        if key == "links":
            value = tuple(n.name for n in value or ())
        elif key == "out":
            value = Path(value)
        saved_value = current.get(key)
        if isinstance(saved_value, list):
            saved_value = tuple(saved_value)
        if key == "out" and value.resolve() == Path(saved_value).resolve():
            continue
        if value != saved_value:
            flag = flags.get(key, "--" + key.split("__")[-1].replace("_", "-"))
            conflicts.append(f"{flag} {value} (saved: {saved_value})")
    if conflicts:
        raise ConfigError(f"--resume continues the saved run; these options differ from it: {'; '.join(conflicts)}. "
                          f"Only {', '.join('--' + o.replace('_', '-') for o in SAFE_ON_RESUME[:-1])} may change on resume")
    return saved


def arrivals_for(cfg, out: Path):
    """Arrival times from the network for schedules that need them (None otherwise): the scenario's
    engine, or isolated flows over ``--links``; seeded by the run's name, as replay seeds them."""
    from fl_core.run.capabilities import components

    if not components(cfg)["schedule"].needs_arrivals:
        return None
    from harness.arrivals import NetworkArrivals, ScenarioArrivals

    if cfg.scenario is not None:
        from harness.scenario import load_scenario

        return ScenarioArrivals(load_scenario(cfg.scenario), run=Path(out).name)
    arrivals = NetworkArrivals(cfg)
    arrivals.run = Path(out).name
    return arrivals


def make_executor(opts: dict):
    """The executor of ``--executor`` (Ray's absence is reported here, before any work)."""
    from fl_core.errors import ConfigError

    if opts["executor"] == "local":
        if opts["workers"] is not None or opts["ray_address"] is not None:
            raise ConfigError("--workers and --ray-address apply only with --executor ray")
        return None
    from fl_core.executors import import_ray

    import_ray()
    from fl_core.executors.ray_actors import RayExecutor

    return RayExecutor(workers=opts["workers"], address=opts["ray_address"])


def check_before_training(cfg, out: Path) -> None:
    """The refusals that need no model, before the heavy imports: ``out`` must be free (nobody holds its lock),
    writable and hold no run (the lock's folder is removed again if it was created for this check: a refused
    run leaves nothing); a hub id must be reachable or cached (``shape:`` models are built here, never fetched)."""
    from fl_core.errors import RunDirError
    from fl_core.rundir.lock import folder_lock
    from fl_core.model.base import DEFAULT_MODEL, TINY_MODEL, resolve_model_source

    with folder_lock(out, "train"):
        if (Path(out) / "run.json").exists():
            raise RunDirError(f"{out} already holds a run; use --resume to continue it or choose another --out")
    if cfg.model not in (DEFAULT_MODEL, TINY_MODEL) and not cfg.model.startswith("shape:"):  # shapes are built, not fetched
        resolve_model_source(cfg.model)


def train_main(**opts) -> None:
    """Train one federated LoRA run and write its run directory (bytes of every message)."""
    from harness.cli import on_interrupt

    if opts["resume_dir"] is not None:
        cfg = check_resume_options(opts)
        executor = make_executor(opts)
        from fl_core.run import loop

        on_interrupt(lambda: resume_hint(opts["resume_dir"]))
        out = loop.resume(opts["resume_dir"], progress=opts["progress"],
                          arrivals=arrivals_for(cfg, opts["resume_dir"]), threads=opts["threads"], executor=executor)
    else:
        cfg = build_config(opts)
        out = opts["out"] or Path("runs") / cfg.method_label
        check_before_training(cfg, out)
        executor = make_executor(opts)
        from fl_core.run import loop

        on_interrupt(lambda: resume_hint(out))
        out = loop.train(cfg, out, progress=opts["progress"], arrivals=arrivals_for(cfg, out), executor=executor)
    click.echo(summary_line(out))


train = GeneratedCommand("train", callback=train_main, builder=build_options,
                         help="Train one federated LoRA run and write its run directory (bytes of every message).",
                         short_help="Train one federated LoRA run and write its run directory.")


def resume_hint(out: Path) -> str:
    """After Ctrl-C: how to continue the run in ``out`` (if it recorded a round), else that nothing was kept."""
    import json

    try:
        meta = json.loads((Path(out) / "run.json").read_text())
    except (OSError, ValueError):
        from harness.cli import continue_command

        return f"no round was recorded and nothing was kept; start again with: {continue_command()}"
    if meta.get("config", {}).get("participation") == "fedbuff":
        return "FedBuff runs cannot be resumed; start the run again into another --out"
    return f"continue with: netbench train --resume {out}"


def summary_line(out: Path) -> str:
    """One line: bytes and final metrics of a finished run, next to the base model's."""
    from fl_core.rundir.reader import read_run

    run = read_run(out)
    up, down = int(run.rounds["uplink_bytes"].sum()), int(run.rounds["downlink_bytes"].sum())
    parts = [f"{out}: {run.method}", f"upload {up / 1e6:.2f} MB", f"total {(up + down) / 1e6:.2f} MB"]
    ev = run.evals
    if not ev.empty:
        base, final = ev.iloc[0], ev.iloc[-1]
        parts.append(f"eval loss {base['eval_loss']:.3f} -> {final['eval_loss']:.3f}")
        if "pref_accuracy" in ev:
            parts.append(f"preference accuracy {base['pref_accuracy']:.3f} -> {final['pref_accuracy']:.3f} "
                         f"(policy {base['policy_pref_accuracy']:.3f} -> {final['policy_pref_accuracy']:.3f})")
        if "arc" in ev and final.get("arc") == final.get("arc"):
            parts.append(f"ARC {base['arc']:.3f} -> {final['arc']:.3f} (easy {final['arc_easy']:.3f}, "
                         f"challenge {final['arc_challenge']:.3f})")
    return "; ".join(parts)
