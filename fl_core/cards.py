"""What a registered component supports, readable without importing its implementation.

A method or objective is implemented in a module that imports torch and peft (~15 s);
``netbench train --help`` and every refusal that needs no model must not pay that. So
each registry entry is a *card*: the component's name, where its class lives
(``"module:Class"``, imported on first :meth:`Card.load`), its typed settings (a light
config dataclass) and, for methods, the capability attributes
:func:`fl_core.run.capabilities.check` reads. The card is the one place these are declared:
:class:`fl_core.methods.base.Method` copies a method's card onto its class, so the
implementation reads ``self.config_type`` or ``self.composes_with_ecolora`` as before.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, fields

#: the evaluations ``--evals`` may name (``fl_core.evaluation.metrics.BENCHMARKS`` implements each)
BENCHMARK_NAMES = ("arc", "qa", "arc-template", "mmlu")


@dataclass(frozen=True)
class Card:
    """A registry entry: name, implementation (a class or ``"module:Class"``) and typed settings."""

    name: str
    impl: str | type
    config_type: type | None = None

    def load(self) -> type:
        """The implementing class (imports its module on first use)."""
        if isinstance(self.impl, type):
            return self.impl
        module, _, attr = self.impl.partition(":")
        return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class MethodCard(Card):
    """A method's card: what it supports, checked before any model load.

    ``objectives``/``schedules``: what it trains with and runs under (``schedules=None``: every
    registered schedule); ``composes_with_ecolora``/``ecolora_download``: whether EcoLoRA wraps
    it and with which download policy; ``why_not``: why the schedules it lacks do not fit it;
    ``remote_clients``: whether its clients can train in remote workers (Ray), and if not why;
    ``reads``: ``RunConfig`` fields that only this method (and others naming them) reads, so
    giving them for another method is refused (:func:`fl_core.run.capabilities.check_given`).
    """

    objectives: tuple[str, ...] = ("sft",)
    schedules: tuple[str, ...] | None = ("sync", "deadline")
    composes_with_ecolora: bool = False
    ecolora_download: str = "broadcast"
    why_not: str = ""
    remote_clients: bool = True
    remote_clients_reason: str = ""
    reads: tuple[str, ...] = ()

    def unsupported(self, cfg) -> str | None:
        """Why this method cannot run ``cfg`` (objective, schedule, EcoLoRA), or None."""
        if cfg.objective not in self.objectives:
            return f"method {self.name!r} does not support objective {cfg.objective!r}"
        if self.schedules is not None and cfg.schedule not in self.schedules:
            from fl_core.schedules import get_schedule

            label = get_schedule(cfg.schedule).label
            return f"{self.name} does not run under {label}" + (f": {self.why_not}" if self.why_not else "")
        if cfg.ecolora is not None and not self.composes_with_ecolora:
            return f"method {self.name!r} does not compose with EcoLoRA"
        return None

    def apply(self, cls: type) -> None:
        """Copy this card's declarations onto the implementing class (its class attributes)."""
        for f in fields(self):
            if f.name not in ("name", "impl"):
                setattr(cls, f.name, getattr(self, f.name))
