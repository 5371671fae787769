"""Local training objectives by name: SFT (instruction tuning) and DPO (value alignment).

Adding an objective is one module with a class carrying ``name``, ``config_type`` (its
typed settings or None) and the verbs ``from_config``, ``prepare``,
``loss``, ``train``, ``extra_metrics`` — plus one line in :data:`OBJECTIVES`.
"""
from __future__ import annotations

from fl_core.errors import ConfigError
from fl_core.objectives.dpo import DPOObjective
from fl_core.objectives.sft import SFTObjective

OBJECTIVES: dict[str, type] = {o.name: o for o in (SFTObjective, DPOObjective)}


def get_objective_class(name: str) -> type:
    """The objective class registered as ``name``."""
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise ConfigError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}") from None


def get_objective(name: str, tokenizer, cfg):
    """The objective ``name`` bound to a tokenizer and the run's settings."""
    return get_objective_class(name).from_config(tokenizer, cfg)
