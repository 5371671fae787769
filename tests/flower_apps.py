"""Small Flower apps for tests/test_flower.py (a module of their own: Ray's workers import it by name).

The numpy model is two float32 arrays, ``a`` (100x8, the "frozen LoRA A": clients return it
unchanged unless the train config says ``change-a``) and ``b`` (8x50). Client ``p`` sleeps
``SLEEP_S * (p + 1)`` per train call, so its measured compute has a known floor.
"""
from __future__ import annotations

import time

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import ServerApp
from flwr.serverapp.strategy import FedAvg

from integrations.flower import netbench_mod, record

SLEEP_S = 0.02
SHAPES = {"a": (100, 8), "b": (8, 50)}


def initial_arrays() -> ArrayRecord:
    """The global model before round 1."""
    return ArrayRecord({"a": Array(np.zeros(SHAPES["a"], np.float32)), "b": Array(np.ones(SHAPES["b"], np.float32))})


def _partition(context) -> int:
    return int(context.node_config.get("partition-id", 0))  # absent: see drop_partition_id


def _train(msg, context):
    partition = _partition(context)
    arrays = msg.content["arrays"].to_numpy_ndarrays()
    time.sleep(SLEEP_S * (partition + 1))
    a = arrays[0] + 1.0 if msg.content["config"].get("change-a", 0) else arrays[0]
    reply = RecordDict({"arrays": ArrayRecord({"a": Array(a), "b": Array(arrays[1] + 0.1 * (partition + 1))}),
                        "metrics": MetricRecord({"num-examples": 10 + partition, "train_loss": 1.0 / (partition + 1)})})
    return Message(reply, reply_to=msg)


def _evaluate(msg, context):
    partition = _partition(context)
    return Message(RecordDict({"metrics": MetricRecord({"num-examples": 5, "eval_loss": 0.5 + partition})}),
                   reply_to=msg)


def client_app(mods: list) -> ClientApp:
    """The numpy ClientApp (train + evaluate) with ``mods``."""
    app = ClientApp(mods=mods)
    app.train()(_train)
    app.evaluate()(_evaluate)
    return app


def drop_partition_id(msg, context, call_next):
    """A mod standing for a SuperNode started without ``--node-config``: the inner mods see no partition-id."""
    del context.node_config["partition-id"]
    return call_next(msg, context)


def rebuild_reply(msg, context, call_next):
    """An outer mod that rebuilds replies from their arrays and metrics only (dropping the in-band record)."""
    reply = call_next(msg, context)
    kept = {k: v for k, v in reply.content.items() if k in ("arrays", "metrics")}
    return Message(RecordDict(kept), reply_to=msg)


RECORDED = client_app([netbench_mod])
WITHOUT_MOD = client_app([])
NO_PARTITION_ID = client_app([drop_partition_id, netbench_mod])
RECORD_DROPPED = client_app([rebuild_reply, netbench_mod])


def server_app(recorder, clients: int, rounds: int = 2, change_a: bool = False, evaluate_only: bool = False):
    """FedAvg over every client each round (train, then evaluate), recorded by ``recorder``."""
    app = ServerApp()

    @app.main()
    @record(recorder)
    def main(grid, context):
        if evaluate_only:
            FedAvg(fraction_train=0.0, min_train_nodes=0, min_available_nodes=clients,
                   min_evaluate_nodes=clients).start(grid=grid, initial_arrays=initial_arrays(), num_rounds=1)
            return
        FedAvg(fraction_train=1.0, fraction_evaluate=1.0, min_train_nodes=clients, min_evaluate_nodes=clients,
               min_available_nodes=clients).start(
            grid=grid, initial_arrays=initial_arrays(), num_rounds=rounds,
            train_config=ConfigRecord({"change-a": int(change_a)}))

    return app
