"""DPO's settings (``--dpo-beta``), apart from the objective so the CLI reads them without torch."""
from __future__ import annotations

import math
from dataclasses import dataclass

from fl_core.errors import ConfigError
from fl_core.settings import setting

DEFAULT_BETA = 0.1  # Rafailov et al. (2023); TRL's and OpenFedLLM's default


@dataclass
class DPOConfig:
    """DPO's settings (``--dpo-beta``)."""

    beta: float = setting(DEFAULT_BETA, "DPO: strength of the KL anchor to the frozen base model.",
                          min=0, min_open=True)

    def validate(self) -> None:
        if not (math.isfinite(self.beta) and self.beta > 0):
            raise ConfigError(f"DPO beta={self.beta} must be > 0")
