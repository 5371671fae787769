"""Transports turn a method's vectors into real messages and back.

``DenseTransport`` sends whole adapters as fp16 (the baselines). The EcoLoRA transport
(``fl_core.methods.ecolora``) shares its interface. Every upload the server aggregates
and every download a client starts from went through ``encode_message``/``decode_message``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from fl_core.client_state import ClientState
from fl_core.codec.payload import SparseVector
from fl_core.codec.wire import SERVER, Encoded, Header, decode_message, encode_message
from fl_core.methods.base import Method, Upload


@dataclass
class SentUpload:
    """A client's upload message plus what the round table records about it."""

    encoded: Encoded
    segment: int = -1
    k_a: float = 1.0
    k_b: float = 1.0


def dense_payload(vector: torch.Tensor) -> SparseVector:
    """A dense vector as a payload covering every element."""
    import numpy as np

    v = vector.detach().float().numpy().astype(np.float16)
    return SparseVector(np.arange(v.size, dtype=np.int64), v, v.size)


class DenseTransport:
    """Whole adapters both ways, fp16 values (FedIT, FFA-LoRA, FLoRA, ... without EcoLoRA)."""

    uploads_are_updates = False  # uploads carry whole adapters

    def __init__(self, method: Method) -> None:
        self.method = method

    def begin_round(self, round_idx: int) -> None:
        """Nothing to prepare for dense messages."""

    def download(self, round_idx: int, client: int) -> Encoded:
        """Server side: the method's download vector for ``client``, framed."""
        layout = self.method.download_layout(client)
        vector = self.method.download_vector(client)
        header = Header(self.method.label, round_idx, SERVER, client, "dense-fp16", layout.fingerprint, 0, layout.numel)
        return encode_message(header, dense_payload(vector))

    def receive_download(self, data: bytes, round_idx: int, client: int, state: ClientState) -> None:
        """Client side: decode and hand the adapter to the method."""
        layout = self.method.download_layout(client)
        _, payload = decode_message(data, layout.fingerprint, layout.numel)
        self.method.client_start(client, payload.to_dense(), state, round_idx)

    def upload(self, round_idx: int, position: int, client: int, state: ClientState) -> SentUpload:
        """Client side: the method's upload vector, framed."""
        layout = self.method.upload_layout(client)
        header = Header(self.method.label, round_idx, client, SERVER, "dense-fp16", layout.fingerprint, 0, layout.numel)
        return SentUpload(encode_message(header, dense_payload(self.method.upload_vector(client))))

    def receive_upload(self, data: bytes, client: int, weight: float) -> Upload:
        """Server side: decode an upload into what the method aggregates."""
        layout = self.method.upload_layout(client)
        _, payload = decode_message(data, layout.fingerprint, layout.numel)
        return Upload(client, payload.to_dense(), weight)

    def commit(self) -> None:
        """Nothing staged by dense messages."""

    def end_round(self, round_idx: int, train_loss: float) -> None:
        """Nothing to track for dense messages."""

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Server-side transport state to checkpoint (none)."""
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore checkpointed transport state (none)."""
