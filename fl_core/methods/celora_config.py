"""CE-LoRA's settings (``--celora-tau``, ``--celora-mix``), apart from the method so the CLI reads them without torch."""
from __future__ import annotations

from dataclasses import dataclass

from fl_core.run.settings import setting


@dataclass
class CELoRAConfig:
    """Personalised-aggregation hyperparameters."""

    tau: float = setting(0.2, "CE-LoRA: softmax temperature over client similarities (large = FedAvg).",
                         min=0, min_open=True)
    mix: float = setting(0.5, "CE-LoRA: weight of parameter-space similarity (1 - mix for data space).",
                         min=0, max=1)
