"""The ServerApp side of the recorder: a Grid that measures every message and reply it carries.

:class:`RecordingGrid` wraps the Grid a ServerApp's ``main`` receives and delegates everything
to it; ``send_and_receive`` (what Flower's strategies call) also measures each instruction
before it leaves and each reply when it arrives, takes the mod's in-band record out of the
reply (so the strategy sees the reply it would see without the recorder) and hands one row
per client to the :class:`~integrations.flower.recorder.FlowerRecorder`.

An upload is also measured without the objects of the instruction it answers
(``objects_held``): what the SuperLink would not ask for while it still holds them, e.g. an
array the client left unchanged, such as a frozen LoRA A.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable

from integrations.flower.errors import FlowerRecordError
from integrations.flower.mod import RECORD
from integrations.flower.recorder import FlowerRecorder
from integrations.flower.sizes import message_sizes

_KINDS = ("train", "evaluate")


def _server_round(message, fallback: int) -> int:
    """FedAvg's ``config['server-round']`` (1-based) as a 0-based round, else ``fallback``."""
    config = message.content.get("config") if message.has_content() else None
    value = config.get("server-round") if config is not None else None
    return int(value) - 1 if isinstance(value, int) else fallback


def _metric(reply, *names: str):
    from flwr.app import MetricRecord

    for record in reply.content.values():
        if isinstance(record, MetricRecord):
            for name in names:
                if name in record:
                    return record[name]
    return None


def _proto_bytes(message) -> bytes:
    from flwr.common.serde import message_to_proto

    return message_to_proto(message).SerializeToString()


class RecordingGrid:
    """A Flower ``Grid`` that records train and evaluate traffic into a :class:`FlowerRecorder`.

    It is a proxy, not a subclass: every attribute but ``send_and_receive`` is the wrapped grid's.
    """

    def __init__(self, grid, recorder: FlowerRecorder) -> None:
        self._grid = grid
        self._recorder = recorder
        self._calls = {kind: 0 for kind in _KINDS}

    def __getattr__(self, name: str):
        return getattr(self._grid, name)

    def send_and_receive(self, messages: Iterable, *, timeout: float | None = None) -> Iterable:
        """The wrapped grid's ``send_and_receive``, with every train and evaluate exchange recorded."""
        messages = list(messages)
        kinds = {m.metadata.message_type.split(".")[0] for m in messages}
        kind = next(iter(kinds)) if len(kinds) == 1 else None
        if kind not in _KINDS:
            return self._grid.send_and_receive(messages, timeout=timeout)
        measured = [(m, message_sizes(m), _proto_bytes(m) if self._recorder.keep_blobs else None) for m in messages]
        replies = list(self._grid.send_and_receive(messages, timeout=timeout))
        # a reply names the instruction it answers by the id the grid gave it when pushing
        sent = {entry[0].metadata.message_id: entry for entry in measured}
        round_idx = _server_round(messages[0], self._calls[kind]) if messages else self._calls[kind]
        self._calls[kind] += 1
        for reply in replies:
            if reply.has_error():
                self._recorder.failed(kind, reply.metadata.src_node_id, reply.error.reason)
        exchanges = [self._exchange(kind, reply, sent) for reply in replies if not reply.has_error()]
        if kind == "train":
            self._recorder.add_train(round_idx, exchanges)
        else:
            self._recorder.add_evaluate(round_idx, exchanges)
        return replies

    def _exchange(self, kind: str, reply, sent: dict) -> dict:
        node = reply.metadata.src_node_id
        if RECORD not in reply.content:
            raise FlowerRecordError(
                f"the {kind} reply of node {node} carries no {RECORD!r} record: add the recorder's mod to the "
                f"ClientApp (ClientApp(mods=[netbench_mod])), and keep it in replies a strategy or mod rebuilds")
        record = reply.content.pop(RECORD)
        if "error" in record:
            raise FlowerRecordError(str(record["error"]))
        _, down, down_blob = sent[reply.metadata.reply_to_message_id]
        up = message_sizes(reply, held=down.object_ids)
        ex = {"client": int(record["partition_id"]), "compute_s": float(record["compute_s"]), "down": down, "up": up,
              "samples": _metric(reply, "num-examples"),
              **({"train_loss": _metric(reply, "train_loss", "loss")} if kind == "train"
                 else {"eval_loss": _metric(reply, "eval_loss", "evaluate_loss", "loss")})}
        if down_blob is not None:
            ex.update(down_blob=down_blob, up_blob=_proto_bytes(reply))
        return ex


def record(recorder: FlowerRecorder):
    """Decorator for a ServerApp's ``main(grid, context)``: it gets a :class:`RecordingGrid`, and the
    run directory is finished when ``main`` returns or fails (``recorder.error`` holds the failure)."""
    def wrap(main):
        @functools.wraps(main)
        def recorded_main(grid, context):
            try:
                main(RecordingGrid(grid, recorder), context)
            except BaseException as exc:
                recorder.close(exc)
                raise
            recorder.close()
            if recorder.error is not None:
                raise recorder.error

        return recorded_main

    return wrap
