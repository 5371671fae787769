"""Record any Flower (flwr 1.42) app as a netbench run directory, to replay its traffic through ns-3.

Three lines in an app (docs/FLOWER.md)::

    client_app = ClientApp(mods=[netbench_mod])            # times each client, reports in-band
    recorder = FlowerRecorder("runs/my-app", app_name="my-app")
    @server_app.main()
    @record(recorder)                                       # the strategy gets a RecordingGrid
    def main(grid, context): ...

then ``simulate(server_app, client_app, recorder, num_supernodes=4)`` runs it offline.
Needs the ``flower`` extra (``pip install 'fedlora-netbench[flower]'``).
"""
import os

# Flower reads this once, when it is first imported: off before any flwr import this package makes
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")

from integrations.flower.errors import FlowerRecordError  # noqa: E402
from integrations.flower.grid import RecordingGrid, record  # noqa: E402
from integrations.flower.mod import RECORD, netbench_mod  # noqa: E402
from integrations.flower.recorder import FlowerRecorder  # noqa: E402
from integrations.flower.simulate import simulate  # noqa: E402

__all__ = ["RECORD", "FlowerRecordError", "FlowerRecorder", "RecordingGrid", "netbench_mod", "record", "simulate"]
