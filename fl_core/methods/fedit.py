"""FedIT (Zhang et al., 2024): LoRA A and B trained locally and FedAvg-aggregated."""
from fl_core.methods.base import SingleAdapterMethod


class FedIT(SingleAdapterMethod):
    """FedAvg over both LoRA factors: the single-adapter family's verbs, named."""

    name = "fedit"
