"""DPO's settings (``--dpo-beta``), apart from the objective so the CLI reads them without torch."""
from __future__ import annotations

from dataclasses import dataclass

from fl_core.run.settings import setting

DEFAULT_BETA = 0.1  # Rafailov et al. (2023); TRL's and OpenFedLLM's default


@dataclass
class DPOConfig:
    """DPO's settings (``--dpo-beta``)."""

    beta: float = setting(DEFAULT_BETA, "DPO: strength of the KL anchor to the frozen base model.",
                          min=0, min_open=True)
