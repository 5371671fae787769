"""The ClientApp: receive the global adapter, train it locally on the client's shard, send it back.

The model, the federation and the tokenised shard are loaded once per process in the app's
lifespan, outside the recorder's mod, so the measured compute is what a round costs
(loading the adapter, local steps, extracting and serialising the adapter).
"""
from __future__ import annotations

from flwr.app import ArrayRecord, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from examples.flower.flowertune_netbench import task
from fl_core.objectives.sft import SFTObjective
from integrations.flower import netbench_mod

_LOADED: dict = {}  # per process: settings -> (model, objective, federation, prepared shards)


def _resources(settings: task.Settings):
    if settings not in _LOADED:
        model, tokenizer = task.lora_model(settings)
        _LOADED[settings] = (model, SFTObjective(tokenizer, settings.max_len), task.federation(settings), {})
    return _LOADED[settings]


def make_client_app(settings: task.Settings) -> ClientApp:
    """The ClientApp for ``settings``, with the recorder's mod."""
    app = ClientApp(mods=[netbench_mod])

    @app.lifespan()
    def lifespan(context):
        _resources(settings)
        yield

    @app.train()
    def train(msg, context):
        model, objective, fed, shards = _resources(settings)
        client = int(context.node_config["partition-id"])
        if client not in shards:
            shards[client] = objective.prepare(fed.clients[client])
        round_idx = int(msg.content["config"]["server-round"]) - 1
        task.load_adapter(model, msg.content["arrays"].to_torch_state_dict())
        loss = task.train(model, objective, shards[client], settings, round_idx, client)
        metrics = MetricRecord({"train_loss": loss, "num-examples": fed.weight(client)})
        return Message(RecordDict({"arrays": ArrayRecord(task.adapter_state(model)), "metrics": metrics}),
                       reply_to=msg)

    return app
