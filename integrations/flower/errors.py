"""The recorder's refusals: one line naming what is wrong with the app or its configuration."""
from fl_core.errors import NetbenchError


class FlowerRecordError(NetbenchError):
    """A Flower app whose traffic cannot be recorded as a run directory (say why and what to change)."""
