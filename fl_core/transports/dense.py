"""Whole adapters both ways, fp16 values: the transport of every method without EcoLoRA."""
from __future__ import annotations

import torch

from fl_core.rundir.client_state import ClientState
from fl_core.codec.wire import SERVER, Encoded, Header, decode_message, encode_message
from fl_core.codec.payload import SparseVector
from fl_core.transports.messages import SentUpload, Upload


class DenseTransport:
    """The method's download and upload vectors, framed as ``dense-fp16`` messages."""

    uploads_are_updates = False  # uploads carry whole adapters

    def __init__(self, method) -> None:
        self.method = method

    def begin_round(self, round_idx: int) -> None:
        """Nothing to prepare for dense messages."""

    def download(self, round_idx: int, client: int) -> Encoded:
        """Server side: the method's download vector for ``client``, framed."""
        layout = self.method.download_layout(client)
        vector = self.method.download_vector(client)
        header = Header(self.method.label, round_idx, SERVER, client, "dense-fp16", layout.fingerprint, 0, layout.numel)
        return encode_message(header, SparseVector.full(vector))

    def receive_download(self, data: bytes, round_idx: int, client: int, state: ClientState) -> None:
        """Client side: decode and hand the adapter to the method."""
        layout = self.method.download_layout(client)
        _, payload = decode_message(data, layout.fingerprint, layout.numel)
        self.method.client_start(client, payload.to_dense(), state, round_idx)

    def upload(self, round_idx: int, position: int, client: int, state: ClientState) -> SentUpload:
        """Client side: the method's upload vector, framed."""
        layout = self.method.upload_layout(client)
        header = Header(self.method.label, round_idx, client, SERVER, "dense-fp16", layout.fingerprint, 0, layout.numel)
        return SentUpload(encode_message(header, SparseVector.full(self.method.upload_vector(client))))

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
