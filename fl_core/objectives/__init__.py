"""Local training objectives: SFT (instruction tuning) and DPO (value alignment), by name."""
from __future__ import annotations

from fl_core.errors import ConfigError

OBJECTIVES = ("sft",)


def get_objective(name: str, tokenizer, cfg):
    """The objective ``name`` bound to a tokenizer and the run's settings."""
    if name == "sft":
        from fl_core.objectives.sft import SFTObjective

        return SFTObjective(tokenizer, cfg.max_len)
    raise ConfigError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
