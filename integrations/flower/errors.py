"""The recorder's refusals: one line naming what is wrong with the app, its configuration or the install."""
from fl_core.errors import NetbenchError


class FlowerRecordError(NetbenchError):
    """A Flower app whose traffic cannot be recorded as a run directory (say why and what to change)."""


def require_flwr():
    """The ``flwr`` module, or one line naming the extra to install."""
    try:
        import flwr
    except ImportError:
        raise FlowerRecordError("the Flower recorder needs flwr 1.42: pip install 'fedlora-netbench[flower]'") from None
    return flwr
