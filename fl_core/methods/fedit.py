"""FedIT (Zhang et al., 2024): LoRA A and B trained locally and FedAvg-aggregated."""
from fl_core.methods.base import Method


class FedIT(Method):
    """FedAvg over both LoRA factors; the base ``Method`` behaviour, named."""

    name = "fedit"
