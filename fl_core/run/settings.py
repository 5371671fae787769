"""Declaring a configuration field once: default, help text, command-line flag and range.

Every typed config (``RunConfig``, ``EcoLoRAConfig`` and each component's own) declares
its fields with :func:`setting`; ``netbench train`` generates its options from this
metadata (``harness.commands.train``), so a default or a help text is written in one place.
Plain data only: ``fl_core`` does not depend on click. The declared limits are also the
library's checks (:func:`check_limits`), so the library refuses every value the CLI refuses.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

from fl_core.errors import ConfigError


def setting(default: Any = dataclasses.MISSING, help: str = "", *, flag: str | None = None,
            factory: Any = dataclasses.MISSING, cli: bool = True, **bounds: Any) -> Any:
    """A dataclass field with CLI metadata.

    ``flag``: the option's name when it is not ``--<field-name>`` (``"--segments"``, or a
    boolean pair ``"--blobs/--no-blobs"``). ``bounds``: ``min``, ``max``, ``min_open``,
    ``max_open`` (numeric ranges), ``choices`` (a tuple, or the name of a registry:
    ``"methods"``, ``"objectives"``, ``"partitions"``, ``"schedules"``; with ``registered=True``
    the tuple is what the CLI offers and the library also takes registered names), ``label``
    (the field's name in the library's refusals), ``kind``
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


def _limits(meta: dict, integer: bool) -> str:
    """The declared range as words: ``an integer >= 1``, ``a finite number in (0, 1]``."""
    low, high = meta.get("min"), meta.get("max")
    kind = "an integer" if integer else "a finite number"
    if low is not None and high is not None:
        return (f"{kind} in {'(' if meta.get('min_open') else '['}{low:g}, {high:g}"
                f"{')' if meta.get('max_open') else ']'}")
    if low is not None:
        return f"{kind} {'>' if meta.get('min_open') else '>='} {low:g}"
    return f"{kind} {'<' if meta.get('max_open') else '<='} {high:g}"


def check_value(f: dataclasses.Field, value: Any, name: str) -> None:
    """Refuse ``value`` for field ``f`` unless it keeps the field's declared ``min``/``max``/``choices``.

    ``None`` passes where the annotation allows it (``int | None``: an optional setting left
    unset). Numbers must be finite; a field annotated ``int`` takes integers only.
    """
    meta = f.metadata
    if value is None and "None" in str(f.type):
        return
    choices = meta.get("choices")
    if isinstance(choices, tuple) and not meta.get("registered"):
        if value not in choices:
            raise ConfigError(f"{name}={value!r} must be one of {', '.join(map(str, choices))}")
    if meta.get("min") is None and meta.get("max") is None:
        return
    integer = str(f.type).startswith("int")
    low, high = meta.get("min"), meta.get("max")
    number = (not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
              and (not integer or float(value).is_integer()))
    if (not number or (low is not None and (value <= low if meta.get("min_open") else value < low))
            or (high is not None and (value >= high if meta.get("max_open") else value > high))):
        raise ConfigError(f"{name}={value!r} must be {_limits(meta, integer)}")


def check_limits(config: Any, prefix: str = "") -> None:
    """Every field of the dataclass ``config`` within its declared limits (:func:`check_value`).

    A refusal names the field by its ``label``, else as ``prefix + name`` (``celora_tau``; a
    name that already starts with the prefix stays as it is: ``deadline_s``).
    """
    for f in dataclasses.fields(config):
        name = f.name if f.name.startswith(prefix) else prefix + f.name
        check_value(f, getattr(config, f.name), f.metadata.get("label") or name)
