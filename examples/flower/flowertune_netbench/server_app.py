"""The ServerApp: FedAvg over the LoRA adapter (sample-weighted, every client each round), recorded.

As in FlowerTune's templates, clients do not evaluate during training (``fraction_evaluate=0``).
"""
from __future__ import annotations

from flwr.app import ArrayRecord
from flwr.serverapp import ServerApp
from flwr.serverapp.strategy import FedAvg

from examples.flower.flowertune_netbench import task
from integrations.flower import FlowerRecorder, record


def initial_adapter(settings: task.Settings) -> ArrayRecord:
    """The seeded initial adapter (the model is loaded for it and freed)."""
    model, _ = task.lora_model(settings)
    state = task.adapter_state(model)
    del model
    return ArrayRecord(state)


def make_server_app(settings: task.Settings, recorder: FlowerRecorder) -> ServerApp:
    """The ServerApp for ``settings`` whose traffic ``recorder`` records."""
    app = ServerApp()

    @app.main()
    @record(recorder)
    def main(grid, context):
        strategy = FedAvg(fraction_train=1.0, fraction_evaluate=0.0, min_train_nodes=settings.clients,
                          min_available_nodes=settings.clients)
        strategy.start(grid=grid, initial_arrays=initial_adapter(settings), num_rounds=settings.rounds)

    return app
