"""The ClientApp side of the recorder: a Flower mod that times the client's work and reports it in-band.

``netbench_mod`` wraps every function of a ClientApp (train, evaluate, query). It reads the
client id from the node's ``partition-id``, times ``call_next`` (the app's own work: decode,
local training, encode; not the measurement itself) and adds one ``ConfigRecord`` named
:data:`RECORD` to the reply. The server-side :class:`~integrations.flower.grid.RecordingGrid`
takes it out again before the strategy sees the reply, so FedAvg and any other strategy
aggregate exactly what they would without the recorder.

A node without ``partition-id`` (a SuperNode started without ``--node-config``) cannot be
attributed to a client: the mod says so in the record and the server refuses the run in one line.
"""
from __future__ import annotations

import time

#: Name of the in-band record a reply carries from the mod to the RecordingGrid.
RECORD = "netbench"
#: The node-config key that names the client (Flower's simulation and FlowerTune set it).
CLIENT_KEY = "partition-id"


def netbench_mod(msg, context, call_next):
    """Flower client mod: run the app, then add ``{"compute_s", "partition_id"}`` as ConfigRecord ``netbench``."""
    from flwr.app import ConfigRecord

    start = time.perf_counter()
    reply = call_next(msg, context)
    compute_s = time.perf_counter() - start
    if reply.has_error():
        return reply
    partition = context.node_config.get(CLIENT_KEY)
    if partition is None:
        keys = ", ".join(sorted(context.node_config)) or "none"
        record = {"error": f"node {context.node_id} has no {CLIENT_KEY!r} in its node config (keys: {keys}); "
                           f"start each SuperNode with --node-config 'partition-id=N'"}
    else:
        record = {"compute_s": float(compute_s), "partition_id": int(partition)}
    reply.content[RECORD] = ConfigRecord(record)
    return reply
