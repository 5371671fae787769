"""EcoLoRA (Section 3) as a transport: an upload compressor plus a download policy, composed.

Per round t, with each stage switchable for the ablation of Table 3:

* download — the method's policy (:mod:`fl_core.transports.downloads`): the trailing shared
  broadcast adapter with Eq. 3 on the client (FedIT, FFA-LoRA), or FLoRA's exact stack;
* upload — the client at position i uploads segment (i + t) mod N_s (3.3) of its round
  update Delta_i = P_i - P^_i, top-k sparsified with error feedback (Eq. 5–6) with
  separate k for A and B (Eq. 4), Golomb-coded positions and fp16 values
  (:class:`fl_core.transports.compressor.UploadCompressor`);
* aggregate — the server adds each decoded segment update to the method's
  ``server_reference`` and averages per segment (Eq. 2); segments nobody uploaded keep
  their value.

What is sparsified is the *update* of the round, not the adapter itself: the LoRA factors
are dense (A starts random), so zeroing small parameters would destroy the adapter, and
error feedback (Eq. 6) is only mass-conserving for increments. The residual covers the
entries of the uploaded segment; the rest of a client's progress stays in its local
adapter and returns through Eq. 3. Under FLoRA (:class:`ExactStack`) the residual and the
Eq. 3 mix are dropped: the local adapter is re-initialised every round, so an unsent
entry of an earlier adapter means nothing to the next one.
"""
from __future__ import annotations

from pathlib import Path

import torch

from fl_core.rundir.client_state import ClientState
from fl_core.codec.wire import Encoded
from fl_core.transports.compressor import KSchedule, UploadCompressor
from fl_core.transports.downloads import DOWNLOAD_POLICIES, LOCAL, RESIDUAL, START
from fl_core.transports.ecolora_config import EcoLoRAConfig
from fl_core.transports.messages import SentUpload, Upload


class EcoLoRATransport:
    """EcoLoRA's messages for a method: its download policy and the shared upload compressor."""

    uploads_are_updates = True  # receive_upload adds the client's update to the server's reference

    def __init__(self, method, cfg: EcoLoRAConfig, state_dir: Path, completed_round: int = -1) -> None:
        self.method = method
        self.cfg = cfg
        self.schedule = KSchedule(cfg)
        self.compressor = UploadCompressor(cfg, self.schedule)
        policy = DOWNLOAD_POLICIES[method.ecolora_download]
        self.downloads = policy(method, cfg, self.schedule, self.compressor.sparse_codec, state_dir, completed_round)

    # -- server: download -------------------------------------------------------------------
    def begin_round(self, round_idx: int) -> None:
        self.downloads.begin_round(round_idx)

    def download(self, round_idx: int, client: int) -> Encoded:
        return self.downloads.download(round_idx, client)

    # -- client -------------------------------------------------------------------------------
    def receive_download(self, data: bytes, round_idx: int, client: int, state: ClientState) -> None:
        self.downloads.receive_download(data, round_idx, client, state)

    def upload(self, round_idx: int, position: int, client: int, state: ClientState) -> SentUpload:
        """Client side: sparse segment of this round's update, with residual memory."""
        after = self.method.upload_vector(client)
        update = after - state.tensors.pop(START)
        residual = state.tensors.get(RESIDUAL, torch.zeros_like(update))
        sent, residual = self.compressor.compress(self.method.label, round_idx, position, client,
                                                  self.method.upload_layout(client), update, residual)
        if self.downloads.keeps_local_progress:
            state.tensors[RESIDUAL] = residual
            state.tensors[LOCAL] = after
        else:
            state.tensors.pop(RESIDUAL, None)
            state.tensors.pop(LOCAL, None)
        state.last_round = round_idx
        return sent

    # -- server: aggregate ----------------------------------------------------------------------
    def receive_upload(self, data: bytes, client: int, weight: float) -> Upload:
        """Server side: the client's segment update added to the method's reference, covering that segment."""
        return self.compressor.decompress(data, self.method.upload_layout(client),
                                          self.method.server_reference(client), client, weight)

    def commit(self) -> None:
        self.downloads.commit()

    def end_round(self, round_idx: int, train_loss: float) -> None:
        self.schedule.observe(train_loss)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Server-side state to checkpoint."""
        return {**self.downloads.state_dict(), **self.schedule.state_dict()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.downloads.load_state_dict(state)
        self.schedule.load_state_dict(state)
