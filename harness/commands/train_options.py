"""The options of ``netbench train``, generated from the configs' field metadata without importing torch.

Every option comes from a field declared with :func:`fl_core.run.settings.setting`: ``RunConfig``,
``EcoLoRAConfig`` and the typed config of every registered component with settings
(``--celora-tau``, ``--dpo-beta``, ``--deadline`` ...), found through the registries' cards
(:mod:`fl_core.cards`), which name a component's class without importing it. So
``netbench train --help`` and every refusal of a bad option cost no torch, transformers or
peft import; the option list is built on first use, so ``netbench --help`` builds none.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from harness.params import links_option

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
