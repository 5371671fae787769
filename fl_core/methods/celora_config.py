"""CE-LoRA's settings (``--celora-tau``, ``--celora-mix``), apart from the method so the CLI reads them without torch."""
from __future__ import annotations

from dataclasses import dataclass

from fl_core.errors import ConfigError
from fl_core.settings import setting


@dataclass
class CELoRAConfig:
    """Personalised-aggregation hyperparameters."""

    tau: float = setting(0.2, "CE-LoRA: softmax temperature over client similarities (large = FedAvg).",
                         min=0, min_open=True)
    mix: float = setting(0.5, "CE-LoRA: weight of parameter-space similarity (1 - mix for data space).",
                         min=0, max=1)

    def validate(self) -> None:
        if not self.tau > 0:
            raise ConfigError(f"CE-LoRA temperature celora_tau={self.tau} must be > 0")
        if not 0 <= self.mix <= 1:
            raise ConfigError(f"CE-LoRA similarity mix celora_mix={self.mix} must lie in [0, 1]")
