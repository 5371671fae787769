"""EcoLoRA's upload compressor in GRACE's shape: k schedule -> segment -> top-k with residual -> codecs.

Each stage is a small object with one job, so a transport composes them and an ablation
switches one of them off:

* :class:`KSchedule` — Eq. 4: the (k_A, k_B) of a round from the global training loss
  (adaptive, fixed, or 1.0 when sparsification is off);
* :class:`Segmenter` — 3.3: which contiguous slice of a layout the client at a position
  uploads this round, and the A/B masks of that slice;
* :func:`compensate_and_compress` — Eq. 5–6: top-k of update + residual per factor kind,
  what was not sent becomes the new residual (GRACE's compensate → compress → update memory);
* the position and value codecs are the codec's (``sparse-golomb`` / ``sparse-raw`` for
  positions, fp16 values), named by :attr:`UploadCompressor.sparse_codec` and framed by
  :func:`fl_core.codec.wire.encode_message` (or ``encode_smallest``: the whole segment dense
  when that is smaller, ``dense_fallback``).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from fl_core.model.adapter import Layout
from fl_core.codec.payload import SparseVector
from fl_core.codec.segments import segment_bounds, segment_of
from fl_core.codec.sparsify import adaptive_k, sparsify_with_residual
from fl_core.codec.wire import SERVER, Header, decode_message, encode_message, encode_smallest
from fl_core.transports.ecolora_config import EcoLoRAConfig
from fl_core.transports.messages import SentUpload, Upload

KPair = tuple[float, float]


class KSchedule:
    """Eq. 4: (k_A, k_B) per round, driven by the global training loss of the rounds so far."""

    def __init__(self, cfg: EcoLoRAConfig) -> None:
        self.cfg = cfg
        self.loss0: float | None = None
        self.loss_prev: float | None = None

    def k(self) -> KPair:
        """(k_A, k_B) for this round: adaptive (Eq. 4), fixed, or 1.0 when sparsification is off."""
        c = self.cfg
        if not c.sparsify:
            return 1.0, 1.0
        if c.fixed_k is not None:
            return c.fixed_k, c.fixed_k
        return (adaptive_k(c.k_max, c.k_min_a, c.gamma_a, self.loss0, self.loss_prev),
                adaptive_k(c.k_max, c.k_min_b, c.gamma_b, self.loss0, self.loss_prev))

    def observe(self, train_loss: float) -> None:
        """Record the global training loss that drives Eq. 4 next round."""
        if self.loss0 is None:
            self.loss0 = train_loss
        self.loss_prev = train_loss

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {} if self.loss0 is None else {"losses": torch.tensor([self.loss0, self.loss_prev], dtype=torch.float64)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if "losses" in state:
            self.loss0, self.loss_prev = (float(x) for x in state["losses"])


class Segmenter:
    """3.3: segment bounds and A/B masks per layout (the shared one, or a client's own rank's)."""

    def __init__(self, n_segments: int) -> None:
        self.n_segments = n_segments
        self._geometries: dict[bytes, tuple[list, dict]] = {}

    def geometry(self, layout: Layout) -> tuple[list, dict]:
        """(segment bounds, {kind: mask}) of ``layout``, cached by fingerprint."""
        if layout.fingerprint not in self._geometries:
            masks = layout.kind_mask
            self._geometries[layout.fingerprint] = (segment_bounds(layout.numel, self.n_segments),
                                                    {k: masks[k] for k in "AB" if k in masks})
        return self._geometries[layout.fingerprint]


def groups(kind_masks: dict, start: int, end: int, k: KPair) -> list:
    """Top-k groups of ``[start, end)``: the A positions with k_A, the B positions with k_B."""
    return [(kind_masks[kind][start:end].nonzero().squeeze(1), kk) for kind, kk in zip("AB", k) if kind in kind_masks]


class UploadCompressor:
    """A client's round update -> one framed segment message, with residual memory (Eq. 4–6, 3.3, 3.5)."""

    def __init__(self, cfg: EcoLoRAConfig, schedule: KSchedule) -> None:
        self.cfg = cfg
        self.schedule = schedule
        self.segmenter = Segmenter(cfg.n_segments if cfg.round_robin else 1)
        self.sparse_codec = cfg.sparse_codec

    def compress(self, label: str, round_idx: int, position: int, client: int, layout: Layout,
                 update: torch.Tensor, residual: torch.Tensor) -> tuple[SentUpload, torch.Tensor]:
        """The message carrying this round's segment of ``update`` (+ residual); returns the new residual."""
        bounds, kind_masks = self.segmenter.geometry(layout)
        segment = segment_of(position, round_idx, len(bounds))
        start, end = bounds[segment]
        k = self.schedule.k()
        segment_id = segment if self.cfg.round_robin else -1
        header = Header(label, round_idx, client, SERVER, self.sparse_codec, layout.fingerprint,
                        start, end - start, segment_id, *k)
        if k == (1.0, 1.0):
            encoded = encode_message(replace(header, codec="dense-fp16"),
                                     SparseVector.full(update[start:end] + residual[start:end]))
            residual[start:end] = 0
        else:
            result = sparsify_with_residual(update[start:end], residual[start:end],
                                            groups(kind_masks, start, end, k))
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
        return SentUpload(encoded, segment_id, *k), residual

    @staticmethod
    def decompress(data: bytes, layout: Layout, reference: torch.Tensor, client: int, weight: float) -> Upload:
        """Server side: the decoded segment update added to ``reference``, covering that segment."""
        header, payload = decode_message(data, layout.fingerprint, layout.numel)
        start, end = header.offset, header.offset + header.length
        vector = reference.clone()
        vector[start:end] += payload.to_dense()
        covered = torch.zeros(layout.numel, dtype=torch.bool)
        covered[start:end] = True
        return Upload(client, vector, weight, covered)
