"""EcoLoRA (Section 3): a transport that composes with FedIT, FFA-LoRA and FLoRA.

Per round t, with each stage switchable for the ablation of Table 3:

* download — the server keeps a broadcast adapter G~ that trails its true global P:
  G~^t = G~^{t-1} + SC_k(P^t - G~^{t-1}) (Eq. 4–6 on the server; the residual is P - G~
  itself). A participant receives the sparse difference between G~^t and the copy it got
  at its last participation, Golomb coded (3.5); the server mirrors every client's copy,
  so both sides hold bit-identical vectors.
* client start — Eq. 3: P^_i = (1 - e^{-beta (t - tau)}) G~^t + e^{-beta (t - tau)} P_i^tau.
* upload — the client at position i uploads segment (i + t) mod N_s (3.3) of its round
  update Delta_i = P_i - P^_i, top-k sparsified with error feedback (Eq. 5–6) with
  separate k for A and B (Eq. 4), Golomb-coded positions and fp16 values.
* aggregate — the server adds each decoded segment update to its global and averages per
  segment (Eq. 2); segments nobody uploaded keep their value.

What is sparsified is the *update* of the round, not the adapter itself: the LoRA factors
are dense (A starts random), so zeroing small parameters would destroy the adapter, and
error feedback (Eq. 6) is only mass-conserving for increments. The residual covers the
entries of the uploaded segment; the rest of a client's progress stays in its local
adapter and returns through Eq. 3.
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from fl_core.adapter import Layout
from fl_core.client_state import ClientState, ClientStore
from fl_core.codec.payload import SparseVector
from fl_core.codec.segments import segment_bounds, segment_of
from fl_core.codec.sparsify import adaptive_k, sparsify_with_residual
from fl_core.codec.wire import SERVER, Encoded, Header, decode_message, encode_message, encode_smallest
from fl_core.config import EcoLoRAConfig
from fl_core.methods.base import Method, Upload
from fl_core.transport import SentUpload, dense_payload

LOCAL, RESIDUAL, KNOWN = "local", "residual", "known_global"


class EcoLoRATransport:
    """EcoLoRA's messages for a method whose global adapter has one shared layout."""

    uploads_are_updates = True  # receive_upload adds the client's update to the server's global

    def __init__(self, method: Method, cfg: EcoLoRAConfig, state_dir: Path, completed_round: int = -1) -> None:
        self.method = method
        self.cfg = cfg
        self.layout = method.layout
        self._geometries: dict[bytes, tuple[list, dict]] = {}
        self.bounds, self.kind_masks = self._geometry(self.layout)
        self.broadcast = method.global_vector.clone()  # G~
        self.server_view = ClientStore(Path(state_dir) / "server_view", completed_round)
        self.loss0: float | None = None
        self.loss_prev: float | None = None
        self.k_down = (1.0, 1.0)
        self.sparse_codec = cfg.sparse_codec

    # -- sparsity schedule (Eq. 4) --------------------------------------------------------
    def k_for_round(self) -> tuple[float, float]:
        """(k_A, k_B) for this round: adaptive (Eq. 4), fixed, or 1.0 when sparsification is off."""
        c = self.cfg
        if not c.sparsify:
            return 1.0, 1.0
        if c.fixed_k is not None:
            return c.fixed_k, c.fixed_k
        return (adaptive_k(c.k_max, c.k_min_a, c.gamma_a, self.loss0, self.loss_prev),
                adaptive_k(c.k_max, c.k_min_b, c.gamma_b, self.loss0, self.loss_prev))

    def _geometry(self, layout: Layout) -> tuple[list, dict]:
        """Segment bounds and A/B masks of a layout: the shared one, or a client's own (FLoRA's ranks)."""
        if layout.fingerprint not in self._geometries:
            masks = layout.kind_mask
            self._geometries[layout.fingerprint] = (
                segment_bounds(layout.numel, self.cfg.n_segments if self.cfg.round_robin else 1),
                {k: masks[k] for k in "AB" if k in masks})
        return self._geometries[layout.fingerprint]

    def _groups(self, start: int, end: int, k: tuple[float, float], kind_masks: dict | None = None) -> list:
        masks = self.kind_masks if kind_masks is None else kind_masks
        return [(masks[kind][start:end].nonzero().squeeze(1), kk) for kind, kk in zip("AB", k) if kind in masks]

    def _sparsify(self, update: torch.Tensor, residual: torch.Tensor, start: int, end: int, k: tuple[float, float],
                  kind_masks: dict | None = None):
        """Top-k with error feedback on ``update[start:end]`` (Eq. 5–6)."""
        return sparsify_with_residual(update[start:end], residual[start:end], self._groups(start, end, k, kind_masks))

    # -- server: download -----------------------------------------------------------------
    def begin_round(self, round_idx: int) -> None:
        """Move the broadcast adapter towards the global one: G~ += SC_k(P - G~)."""
        self.server_view.begin_round(round_idx)
        self.k_down = self.k_for_round() if self.cfg.sparsify_download else (1.0, 1.0)
        gap = self.method.global_vector - self.broadcast
        if self.k_down == (1.0, 1.0):
            self.broadcast = self.method.global_vector.clone()
            return
        result = sparsify_with_residual(gap, torch.zeros_like(gap), self._groups(0, gap.numel(), self.k_down))
        self.broadcast = self.broadcast + result.sent

    def _known(self, store: ClientStore, client: int) -> torch.Tensor:
        state = store.load(client)
        return state.tensors.get(KNOWN, self.method.initial_vector)

    def download(self, round_idx: int, client: int) -> Encoded:
        """Server side: the sparse difference between G~^t and the client's last copy."""
        known = self._known(self.server_view, client)
        diff = (self.broadcast - known).numpy()
        idx = np.flatnonzero(diff).astype(np.int64)
        payload = SparseVector(idx, diff[idx].astype(np.float16), diff.size)
        header = Header(self.method.label, round_idx, SERVER, client, self.sparse_codec, self.layout.fingerprint,
                        0, diff.size, -1, *self.k_down)
        encoded = encode_smallest(header, payload)
        self.server_view.stage(client, ClientState(round_idx, {KNOWN: known + payload.to_dense()}))
        return encoded

    # -- client ---------------------------------------------------------------------------
    def receive_download(self, data: bytes, round_idx: int, client: int, state: ClientState) -> None:
        """Client side: rebuild G~^t from its last copy, then mix with its stale adapter (Eq. 3)."""
        _, payload = decode_message(data, self.layout.fingerprint, self.layout.numel)
        known = state.tensors.get(KNOWN, self.method.initial_vector) + payload.to_dense()
        state.tensors[KNOWN] = known
        start = known
        if LOCAL in state.tensors and state.last_round >= 0:
            decay = math.exp(-self.cfg.beta * (round_idx - state.last_round))
            start = (1 - decay) * known + decay * state.tensors[LOCAL]  # Eq. 3
        state.tensors["start"] = start
        self.method.client_start(client, start, state, round_idx)

    def upload(self, round_idx: int, position: int, client: int, state: ClientState) -> SentUpload:
        """Client side: sparse segment of this round's update, with residual memory."""
        layout = self.method.upload_layout(client)
        bounds, kind_masks = self._geometry(layout)
        after = self.method.upload_vector(client)
        update = after - state.tensors.pop("start")
        segment = segment_of(position, round_idx, len(bounds))
        start, end = bounds[segment]
        residual = state.tensors.get(RESIDUAL, torch.zeros_like(update))
        k = self.k_for_round()
        header = Header(self.method.label, round_idx, client, SERVER, self.sparse_codec, layout.fingerprint,
                        start, end - start, segment if self.cfg.round_robin else -1, *k)
        if k == (1.0, 1.0):
            encoded = encode_message(replace(header, codec="dense-fp16"),
                                     dense_payload(update[start:end] + residual[start:end]))
            residual[start:end] = 0
        else:
            result = self._sparsify(update, residual, start, end, k, kind_masks)
            payload = SparseVector(np.asarray(result.indices, dtype=np.int64),
                                   np.asarray(result.values, dtype=np.float16), end - start)
            if self.cfg.dense_fallback:  # the whole segment dense when that is smaller (k near 1)
                combined = update[start:end] + residual[start:end]
                encoded = encode_smallest(header, payload, combined)
            else:
                encoded = encode_message(header, payload)
            if encoded.account.fallback:  # everything sent; only the fp16 rounding stays behind
                residual[start:end] = combined - combined.half().float()
            else:
                residual[start:end] = result.residual
        state.tensors[RESIDUAL] = residual
        state.tensors[LOCAL] = after
        state.last_round = round_idx
        return SentUpload(encoded, segment if self.cfg.round_robin else -1, *k)

    # -- server: aggregate ----------------------------------------------------------------
    def receive_upload(self, data: bytes, client: int, weight: float) -> Upload:
        """Server side: the client's segment update added to the global, covering that segment."""
        layout = self.method.upload_layout(client)
        header, payload = decode_message(data, layout.fingerprint, layout.numel)
        start, end = header.offset, header.offset + header.length
        vector = self.method.server_reference(client).clone()
        vector[start:end] += payload.to_dense()
        covered = torch.zeros(layout.numel, dtype=torch.bool)
        covered[start:end] = True
        return Upload(client, vector, weight, covered)

    def commit(self) -> None:
        """Commit the server's mirror of the clients' copies once the round is recorded."""
        self.server_view.commit()

    def end_round(self, round_idx: int, train_loss: float) -> None:
        """Record the global training loss that drives Eq. 4 next round."""
        if self.loss0 is None:
            self.loss0 = train_loss
        self.loss_prev = train_loss

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Server-side state to checkpoint."""
        out = {"broadcast": self.broadcast}
        if self.loss0 is not None:
            out["losses"] = torch.tensor([self.loss0, self.loss_prev], dtype=torch.float64)
        return out

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict`."""
        self.broadcast = state["broadcast"]
        if "losses" in state:
            self.loss0, self.loss_prev = (float(x) for x in state["losses"])
