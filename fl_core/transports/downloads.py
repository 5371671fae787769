"""EcoLoRA's download policies: what the server sends a participant, and how the client starts from it.

* :class:`SharedBroadcast` — one broadcast adapter G~ for everyone, trailing the global P:
  G~^t = G~^{t-1} + SC_k(P^t - G~^{t-1}) (Eq. 4–6 on the server). A participant receives the
  sparse difference between G~^t and the copy it got at its last participation, Golomb
  coded (3.5); the server mirrors every client's copy, so both sides hold bit-identical
  vectors. The client mixes it with its stale adapter (Eq. 3). Clients keep their
  residual and last adapter between participations (``keeps_local_progress``).
* :class:`ExactStack` — FLoRA's stack, exact: its offset from the seeded initial stack, sent
  dense by default (``stack_download="dense"``: the size of FLoRA's own stack, the download
  Table 1 implies, docs/METHODS.md) or sparse-coded when smaller (``"offset"``). Nothing to
  trail, no per-client copies; the client's local adapter is re-initialised every round, so
  it keeps no residual.

A policy is chosen by the method's ``ecolora_download`` attribute (``DOWNLOAD_POLICIES``).
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from fl_core.rundir.client_state import ClientState, ClientStore
from fl_core.codec.payload import SparseVector
from fl_core.codec.sparsify import sparsify_with_residual
from fl_core.codec.wire import SERVER, Encoded, Header, decode_message, encode_message, encode_smallest
from fl_core.transports.compressor import KSchedule, Segmenter, groups
from fl_core.transports.ecolora_config import EcoLoRAConfig

LOCAL, RESIDUAL, KNOWN, START = "local", "residual", "known_global", "start"


class SharedBroadcast:
    """The trailing broadcast adapter G~, per-client mirrors, and Eq. 3 on the client."""

    keeps_local_progress = True

    def __init__(self, method, cfg: EcoLoRAConfig, schedule: KSchedule, sparse_codec: str, state_dir: Path,
                 completed_round: int = -1) -> None:
        self.method, self.cfg, self.schedule, self.sparse_codec = method, cfg, schedule, sparse_codec
        self.layout = method.layout
        self.segmenter = Segmenter(cfg.n_segments if cfg.round_robin else 1)
        self.broadcast = method.global_vector.clone()  # G~
        self.server_view = ClientStore(Path(state_dir) / "server_view", completed_round)
        self.k_down = (1.0, 1.0)

    def begin_round(self, round_idx: int) -> None:
        """Move the broadcast adapter towards the global one: G~ += SC_k(P - G~)."""
        self.server_view.begin_round(round_idx)
        self.k_down = self.schedule.k() if self.cfg.sparsify_download else (1.0, 1.0)
        gap = self.method.global_vector - self.broadcast
        if self.k_down == (1.0, 1.0):
            self.broadcast = self.method.global_vector.clone()
            return
        _, kind_masks = self.segmenter.geometry(self.layout)
        result = sparsify_with_residual(gap, torch.zeros_like(gap), groups(kind_masks, 0, gap.numel(), self.k_down))
        self.broadcast = self.broadcast + result.sent

    def download(self, round_idx: int, client: int) -> Encoded:
        """Server side: the sparse difference between G~^t and the client's last copy."""
        known = self.server_view.load(client).tensors.get(KNOWN, self.method.initial_vector)
        diff = (self.broadcast - known).numpy()
        idx = np.flatnonzero(diff).astype(np.int64)
        payload = SparseVector(idx, diff[idx].astype(np.float16), diff.size)
        header = Header(self.method.label, round_idx, SERVER, client, self.sparse_codec, self.layout.fingerprint,
                        0, diff.size, -1, *self.k_down)
        encoded = encode_smallest(header, payload)
        self.server_view.stage(client, ClientState(round_idx, {KNOWN: known + payload.to_dense()}))
        return encoded

    def receive_download(self, data: bytes, round_idx: int, client: int, state: ClientState) -> None:
        """Client side: rebuild G~^t from its last copy, then mix with its stale adapter (Eq. 3)."""
        _, payload = decode_message(data, self.layout.fingerprint, self.layout.numel)
        known = state.tensors.get(KNOWN, self.method.initial_vector) + payload.to_dense()
        state.tensors[KNOWN] = known
        start = known
        if LOCAL in state.tensors and state.last_round >= 0:
            decay = math.exp(-self.cfg.beta * (round_idx - state.last_round))
            start = (1 - decay) * known + decay * state.tensors[LOCAL]  # Eq. 3
        state.tensors[START] = start
        self.method.client_start(client, start, state, round_idx)

    def commit(self) -> None:
        """Commit the server's mirror of the clients' copies once the round is recorded."""
        self.server_view.commit()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"broadcast": self.broadcast}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.broadcast = state["broadcast"]


class ExactStack:
    """FLoRA's stack as an exact offset from its seeded initialisation; fresh local adapters every round."""

    keeps_local_progress = False

    def __init__(self, method, cfg: EcoLoRAConfig, schedule: KSchedule, sparse_codec: str, state_dir: Path,
                 completed_round: int = -1) -> None:
        self.method, self.cfg, self.sparse_codec = method, cfg, sparse_codec
        method.stack_from_init = True

    def begin_round(self, round_idx: int) -> None:
        """Nothing to trail: the download is the last round's stack."""

    def download(self, round_idx: int, client: int) -> Encoded:
        """Server side: the stack's offset from its seeded initialisation, dense (the paper's size) or
        sparse-coded when smaller (``stack_download="offset"``)."""
        layout = self.method.download_layout(client)
        vector = self.method.download_vector(client)
        header = Header(self.method.label, round_idx, SERVER, client, self.sparse_codec, layout.fingerprint,
                        0, layout.numel)
        if self.cfg.stack_download == "offset" and self.cfg.sparsify_download:
            return encode_smallest(header, SparseVector.from_dense(vector))
        return encode_message(replace(header, codec="dense-fp16"), SparseVector.full(vector))

    def receive_download(self, data: bytes, round_idx: int, client: int, state: ClientState) -> None:
        """Client side: merge the stack and start from the fresh adapter (no Eq. 3 mix, no residual)."""
        layout = self.method.download_layout(client)
        _, payload = decode_message(data, layout.fingerprint, layout.numel)
        self.method.client_start(client, payload.to_dense(), state, round_idx)
        state.tensors.pop(RESIDUAL, None)
        state.tensors[START] = self.method.upload_vector(client)

    def commit(self) -> None:
        """No server-side mirror of client copies."""

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Nothing to restore."""


DOWNLOAD_POLICIES = {"broadcast": SharedBroadcast, "stack": ExactStack}
