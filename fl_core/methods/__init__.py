"""Method registry: ``--method`` names to strategy classes.

Adding a method is one module (a subclass of :class:`~fl_core.methods.base.SingleAdapterMethod`
or :class:`~fl_core.methods.hetero.MultiRankMethod` with its capability attributes) plus
one line in :data:`METHODS`; ``fl_core.run.capabilities.check`` and the CLI read the rest
from the class.
"""
from __future__ import annotations

from fl_core.errors import ConfigError
from fl_core.methods.base import Method
from fl_core.methods.celora import CELoRA
from fl_core.methods.fedit import FedIT
from fl_core.methods.ffa_lora import FFALoRA
from fl_core.methods.flora import FLoRA
from fl_core.methods.hlora import HLoRA

METHODS: dict[str, type[Method]] = {m.name: m for m in (FedIT, FFALoRA, FLoRA, HLoRA, CELoRA)}


def get_method(name: str) -> type[Method]:
    """The strategy class for ``name``; ``ConfigError`` lists the valid names otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; choose one of {', '.join(sorted(METHODS))}") from None
