"""Local training objectives: SFT (instruction tuning) and DPO (value alignment), by name."""
from __future__ import annotations

from fl_core.errors import ConfigError

OBJECTIVES = ("sft", "dpo")


def get_objective(name: str, tokenizer, cfg):
    """The objective ``name`` bound to a tokenizer and the run's settings."""
    if name == "sft":
        from fl_core.objectives.sft import SFTObjective

        return SFTObjective(tokenizer, cfg.max_len)
    if name == "dpo":
        from fl_core.objectives.dpo import DEFAULT_BETA, DPOObjective

        return DPOObjective(tokenizer, cfg.max_len, beta=float(cfg.extra.get("dpo_beta", DEFAULT_BETA)))
    raise ConfigError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
