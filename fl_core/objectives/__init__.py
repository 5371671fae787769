"""Local training objectives by name: SFT (instruction tuning) and DPO (value alignment).

Adding an objective is one module with a class carrying ``name`` and the verbs
``from_config``, ``prepare``, ``loss``, ``train``, ``extra_metrics`` — plus its card in
:data:`OBJECTIVES` (:class:`fl_core.cards.Card`: where the class lives and its typed
settings, readable without importing torch).
"""
from __future__ import annotations

from fl_core.cards import Card
from fl_core.errors import ConfigError
from fl_core.objectives.dpo_config import DPOConfig

OBJECTIVES: dict[str, Card] = {c.name: c for c in (
    Card("sft", "fl_core.objectives.sft:SFTObjective"),
    Card("dpo", "fl_core.objectives.dpo:DPOObjective", config_type=DPOConfig),
)}


def objective_card(name: str) -> Card:
    """The card of the objective registered as ``name``."""
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise ConfigError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}") from None


def get_objective_class(name: str) -> type:
    """The objective class registered as ``name`` (imports its module: torch)."""
    return objective_card(name).load()


def get_objective(name: str, tokenizer, cfg):
    """The objective ``name`` bound to a tokenizer and the run's settings."""
    return get_objective_class(name).from_config(tokenizer, cfg)
