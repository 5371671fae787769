"""FFA-LoRA (Sun et al., 2024): A frozen at its shared seeded initialisation, only B trained and exchanged."""
from fl_core.methods.base import SingleAdapterMethod


class FFALoRA(SingleAdapterMethod):
    """Only B travels; A is identical on every client because its initialisation is seeded."""

    name = "ffa-lora"
    exchanged_kinds = "B"
    trained_kinds = "B"
