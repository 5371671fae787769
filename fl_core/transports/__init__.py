"""Transports turn a method's vectors into real messages (and back).

* :mod:`.messages` — ``Upload``, ``SentUpload``: the leaf every method, transport and schedule
  shares (Eq. 2 averaging is :func:`fl_core.methods.aggregate.masked_weighted_average`);
* :mod:`.dense` — whole adapters both ways (every method without EcoLoRA);
* :mod:`.ecolora` — EcoLoRA: :mod:`.compressor` (k schedule → segment → top-k with residual →
  codecs) composed with a download policy from :mod:`.downloads` (shared broadcast, exact stack).

Every transport has the verbs ``begin_round``, ``download``, ``receive_download``, ``upload``,
``receive_upload``, ``end_round``, ``commit``, ``state_dict``, ``load_state_dict`` and the
attribute ``uploads_are_updates``.
"""
from __future__ import annotations

from pathlib import Path


def make_transport(method, ecolora, state_dir: Path, completed_round: int = -1):
    """Dense messages, or EcoLoRA's when ``ecolora`` (an ``EcoLoRAConfig``) is given."""
    if ecolora is None:
        from fl_core.transports.dense import DenseTransport

        return DenseTransport(method)
    from fl_core.transports.ecolora import EcoLoRATransport

    return EcoLoRATransport(method, ecolora, state_dir, completed_round)
