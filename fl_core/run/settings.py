"""Declaring a configuration field once: default, help text, command-line flag and range.

Every typed config (``RunConfig``, ``EcoLoRAConfig`` and each component's own) declares
its fields with :func:`setting`; ``netbench train`` generates its options from this
metadata (``harness.commands.train``), so a default or a help text is written in one place.
Plain data only: ``fl_core`` does not depend on click.
"""
from __future__ import annotations

import dataclasses
from typing import Any


def setting(default: Any = dataclasses.MISSING, help: str = "", *, flag: str | None = None,
            factory: Any = dataclasses.MISSING, cli: bool = True, **bounds: Any) -> Any:
    """A dataclass field with CLI metadata.

    ``flag``: the option's name when it is not ``--<field-name>`` (``"--segments"``, or a
    boolean pair ``"--blobs/--no-blobs"``). ``bounds``: ``min``, ``max``, ``min_open``,
    ``max_open`` (numeric ranges), ``choices`` (a tuple, or the name of a registry:
    ``"methods"``, ``"objectives"``, ``"partitions"``, ``"schedules"``), ``kind``
    (``"csv"`` for comma-separated tuples, ``"ints"`` for comma-separated integers,
    ``"links"`` for per-client networks). ``cli=False`` keeps a field off the command line.
    """
    meta = {"help": help, "flag": flag, "cli": cli, **bounds}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def cli_fields(config_type: type) -> list[dataclasses.Field]:
    """The fields of a config dataclass that appear on the command line."""
    return [f for f in dataclasses.fields(config_type) if f.metadata.get("cli", False)]


def flag_of(f: dataclasses.Field, prefix: str = "") -> str:
    """The option name of a field: its declared flag, or ``--<prefix><field-name>`` with dashes."""
    return f.metadata.get("flag") or "--" + prefix + f.name.replace("_", "-")
