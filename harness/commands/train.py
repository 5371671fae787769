"""``netbench train``: one federated fine-tuning run written to a run directory.

The options are generated from the configs' field metadata (:func:`fl_core.run.settings.setting`):
``RunConfig``, ``EcoLoRAConfig`` and the typed config of every registered component with
settings (``--celora-tau``, ``--dpo-beta``, ``--deadline`` ...). Defaults and help texts are
written once, beside the field. The option list is built on first use, so ``netbench --help``
does not import the registries (torch, peft).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from harness.params import links_option

__all__ = ["train"]

#: options a resumed run may change (they do not change what the run computes)
SAFE_ON_RESUME = ("threads", "executor", "ray_address", "workers", "progress", "resume_dir")


class RegistryChoice(click.Choice):
    """A choice over a registry's names, resolved when first needed; refusals name the registry."""

    def __init__(self, what: str, names) -> None:
        self.what, self._names = what, names
        super().__init__([])

    @property
    def choices(self):  # noqa: D102
        return list(self._names())

    @choices.setter
    def choices(self, value) -> None:
        pass

    def get_metavar(self, param, *args, **kwargs) -> str:  # noqa: D102
        return "[" + "|".join(self.choices) + "]"

    def convert(self, value, param, ctx):  # noqa: D102
        names = self.choices
        if value in names:
            return value
        if self.what == "method" and "+" in value:
            base, _, suffix = value.partition("+")
            if suffix != "ecolora":
                self.fail(f"unknown method suffix {suffix!r} in {value!r}; only '+ecolora' composes", param, ctx)
            if base in names:
                self.fail(f"method {base!r} does not compose with EcoLoRA", param, ctx)
        self.fail(f"unknown {self.what} {value!r}; choose one of {', '.join(names)}", param, ctx)


def _method_labels() -> list[str]:
    from fl_core.methods import METHODS

    return [n for n in METHODS] + [f"{n}+ecolora" for n, m in METHODS.items() if m.composes_with_ecolora]


def _registry(name: str):
    def names() -> list[str]:
        if name == "objectives":
            from fl_core.objectives import OBJECTIVES as registry
        elif name == "partitions":
            from fl_core.data.partition import PARTITIONERS as registry
        else:
            from fl_core.schedules import SCHEDULES as registry
        return list(registry)

    return names


def _ints(ctx, param, value: str | None) -> tuple[int, ...] | None:
    if not value:
        return None
    try:
        return tuple(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers") from None


def _csv(ctx, param, value: str | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(v for v in value.split(",") if v)


def _count_or_all(ctx, param, value: str | None) -> int | None:
    return None if value in (None, "all") else click.IntRange(1)(value, param, ctx)


def _type(f: dataclasses.Field):
    """The click type of a config field from its metadata and annotation."""
    meta, kind = f.metadata, str(f.type)
    choices = meta.get("choices")
    if choices == "methods":
        return RegistryChoice("method", _method_labels)
    if isinstance(choices, str):
        return RegistryChoice(choices[:-1], _registry(choices))
    if choices:
        return click.Choice(list(choices))
    number = float if kind.startswith("float") else int if kind.startswith("int") else None
    if number is not None and ("min" in meta or "max" in meta):
        rng = click.FloatRange if number is float else click.IntRange
        return rng(meta.get("min"), meta.get("max"), min_open=meta.get("min_open", False),
                   max_open=meta.get("max_open", False))
    return number or str


def field_option(f: dataclasses.Field, dest: str, *, prefix: str = "", component: bool = False):
    """A click option for one config field; component options default to None (= the component's default)."""
    meta = f.metadata
    flag = meta.get("flag") or "--" + prefix + f.name.replace("_", "-")
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    help_text = meta["help"]
    kind = meta.get("kind")
    if component:
        shown = "" if default is None else f" [default: {default}]"
        help_text, default = help_text + shown, None
    if "/" in flag:
        return click.Option([flag, dest], default=default, help=help_text, show_default=not component)
    if default is False and str(f.type).startswith("bool"):
        return click.Option([flag, dest], is_flag=True, default=False, help=help_text)
    kw = dict(help=help_text, default=default, show_default=not component and default not in (None, ()))
    if kind == "links":
        kw.update(callback=links_option, default=None, show_default=False)
    elif kind == "ints":
        kw.update(callback=_ints, default=None, show_default=False,
                  help=help_text + f" [default: {','.join(map(str, default))}]")
    elif kind == "csv":
        kw.update(callback=_csv, default=None if default is None else ",".join(default))
    elif kind == "count-or-all":
        kw.update(callback=_count_or_all, default=str(default))
    else:
        kw["type"] = _type(f)
    return click.Option([flag, dest], **kw)


def _component_fields() -> list[tuple[str, dataclasses.Field]]:
    from fl_core.run.capabilities import configurable
    from fl_core.run.settings import cli_fields

    return [(name, f) for name, config_type in configurable().items() for f in cli_fields(config_type)]


def _dest(component: str, f: dataclasses.Field) -> str:
    return f"{component}__{f.name}"


def build_options() -> list[click.Option]:
    """Every option of ``train``, generated from the config fields' metadata."""
    from fl_core.run.config import EcoLoRAConfig, RunConfig
    from fl_core.run.settings import cli_fields

    opts = [field_option(f, f.name) for f in cli_fields(RunConfig)]
    opts.insert(1, click.Option(["--ecolora/--no-ecolora"], default=False,
                                help="Wrap the method in EcoLoRA (same as '+ecolora')."))
    opts.append(click.Option(["--schedule"], type=RegistryChoice("schedule", _registry("schedules")), default=None,
                             help="Round schedule: sync (= --participation uniform), fedbuff or deadline."))
    opts += [field_option(f, f"ecolora__{f.name}") for f in cli_fields(EcoLoRAConfig)]
    for component, f in _component_fields():
        prefix = "" if f.metadata.get("flag") else component + "-"
        opts.append(field_option(f, _dest(component, f), prefix=prefix, component=True))
    opts += [
        click.Option(["--scenario"], default=None,
                     help="Scenario file or built-in name: per-client links for FedBuff/deadline arrival times."),
        click.Option(["--out"], type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Run directory (default runs/<method>)."),
        click.Option(["--resume", "resume_dir"], type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Continue an interrupted run directory from its last completed round; only "
                          f"{', '.join('--' + o.replace('_', '-') for o in SAFE_ON_RESUME[:-1])} may differ from the saved run."),
        click.Option(["--executor"], type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="Who trains the clients of a round: one after another here (local), or Ray actors in "
                          "parallel, each holding one copy of the base model (ray; same bytes as local)."),
        click.Option(["--ray-address"], default=None,
                     help="Ray: the cluster to join (auto, host:port or ray://host:port); default a local instance "
                          "over this machine's CPUs."),
        click.Option(["--workers"], type=click.IntRange(1), default=None,
                     help="Ray: actors (one per GPU with --device cuda, else one per --threads CPUs); default as "
                          "many as Ray's resources allow, at most --participants."),
        click.Option(["--progress/--no-progress"], default=True, help="Show a progress bar of the rounds."),
    ]
    return opts


class GeneratedCommand(click.Command):
    """A command whose options are built on first access (``netbench --help`` stays fast)."""

    def __init__(self, *args, builder, **kwargs) -> None:
        self._builder, self._params = builder, None
        super().__init__(*args, **kwargs)

    @property
    def params(self):  # noqa: D102
        if self._params is None:
            self._params = self._builder()
        return self._params

    @params.setter
    def params(self, value) -> None:
        if value:
            self._params = value


def build_config(opts: dict):
    """A checked ``RunConfig`` from the command's options."""
    from fl_core.run.capabilities import check
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
    return cfg


def _scenario_round_policy(opts: dict, participation: str, settings: dict) -> str:
    """A scenario's round policy (schedule, deadline, over-selection, availability) where the command line
    says nothing else; returns the participation."""
    from fl_core.run.config import SCHEDULE_OF_PARTICIPATION
    from harness.scenario import load_scenario

    scenario = load_scenario(opts["scenario"])
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


def train_main(**opts) -> None:
    """Train one federated LoRA run and write its run directory (bytes of every message)."""
    from fl_core.run import loop
    from harness.cli import on_interrupt

    executor = make_executor(opts)
    if opts["resume_dir"] is not None:
        cfg = check_resume_options(opts)
        on_interrupt(lambda: resume_hint(opts["resume_dir"]))
        out = loop.resume(opts["resume_dir"], progress=opts["progress"],
                          arrivals=arrivals_for(cfg, opts["resume_dir"]), threads=opts["threads"], executor=executor)
    else:
        cfg = build_config(opts)
        out = opts["out"] or Path("runs") / cfg.method_label
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
        return "no round was recorded; start the run again"
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
