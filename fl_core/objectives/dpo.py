"""Direct preference optimisation (Rafailov et al., 2023): the VA task of the paper (Section 4.2, Table 2).

Each client minimises, over its (prompt x, chosen y_w, rejected y_l) pairs,

    L = -log sigma(beta * [(log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x))])

where pi is the LoRA-adapted model and pi_ref the frozen base (the peft model with its
adapters disabled), as in federated DPO with OpenFedLLM (Ye et al., 2024). A sequence's
log-probability is the sum over its response tokens (and the closing eos), given the prompt.

The base never changes, so a pair's reference log-probabilities are computed once, on the
pair's first use, and cached on the prepared item. Reference and evaluation log-probabilities
are computed one pair at a time (its prompt once, both responses on the prompt's key/value
cache), so they do not depend on which other pairs share a batch: at the base model the
implicit reward margin is exactly 0. Training steps put a whole batch (chosen and rejected
rows) through one forward pass. The output head runs only at scored (response) positions.
"""
from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from fl_core.data.records import PreferencePair
from fl_core.data.template import format_preference
from fl_core.run.device import to_device
from fl_core.errors import ConfigError, ModelError
from fl_core.evaluation.metrics import continuation_logprobs, scored_logprobs
from fl_core.model.base import adapters_disabled
from fl_core.objectives.dpo_config import DEFAULT_BETA, DPOConfig
from fl_core.objectives.local import local_train
from fl_core.objectives.sft import IGNORE, TokenizedExample, collate, tokenize_responses
from fl_core.run.settings import check_limits


@dataclass
class PreferenceItem:
    """One tokenised pair: the same prompt tokens followed by the chosen or the rejected response.

    ``ref_chosen``/``ref_rejected`` are the frozen base's sequence log-probabilities,
    filled on first use.
    """

    chosen: TokenizedExample
    rejected: TokenizedExample
    ref_chosen: float | None = None
    ref_rejected: float | None = None
    evaluated: tuple[bytes, float, float] | None = None  # (adapter digest, log pi(y_w|x), log pi(y_l|x))


def tokenize_pair(pair: PreferencePair, tokenizer, max_len: int) -> PreferenceItem:
    """Tokenise prompt+chosen and prompt+rejected with the loss mask on the responses (+eos).

    Both sequences share one prompt: a long prompt loses its start (as in SFT) so that the
    longer response keeps at least ``max_len // 2`` tokens, and each sequence is then cut
    at ``max_len``.
    """
    prompt, chosen, rejected = format_preference(pair)
    return PreferenceItem(*tokenize_responses(prompt, [chosen, rejected], tokenizer, max_len))


def _core(model: torch.nn.Module) -> torch.nn.Module:
    """The causal LM under a peft wrapper (its LoRA layers follow the wrapper's adapter switch)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def sequence_logps(model: torch.nn.Module, rows: list[TokenizedExample], pad_id: int) -> torch.Tensor:
    """Sum of log pi(token) over each row's labelled (response) tokens; shape ``[len(rows)]``."""
    batch = to_device(collate(rows, pad_id), model)
    core = _core(model)
    hidden = core.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    labels = batch["labels"][:, 1:]
    scored = labels != IGNORE
    token_logps = scored_logprobs(core, hidden[:, :-1][scored], labels[scored])
    return torch.zeros(len(rows), dtype=token_logps.dtype, device=token_logps.device).index_add(0, scored.nonzero()[:, 0], token_logps)


def pair_logps(model: torch.nn.Module, item: "PreferenceItem", pad_id: int) -> tuple[float, float]:
    """(log pi(y_w|x), log pi(y_l|x)) without gradients: the shared prompt runs once and its
    key/value cache serves both responses."""
    n = item.chosen.labels.count(IGNORE)
    if n == 0:
        out = sequence_logps(model, [item.chosen, item.rejected], pad_id)
        return float(out[0]), float(out[1])
    chosen, rejected = continuation_logprobs(_core(model), item.chosen.input_ids[:n],
                                             [item.chosen.input_ids[n:], item.rejected.input_ids[n:]], pad_id)
    return chosen, rejected


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-pair DPO loss ``-log sigma(beta * margin)`` (Rafailov et al., 2023, Eq. 7)."""
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return -F.logsigmoid(beta * margin)


def adapter_digest(model: torch.nn.Module) -> bytes:
    """A digest of the LoRA weights now in ``model``: evaluation log-probs are reused only under it."""
    h = hashlib.blake2b(digest_size=16)
    for name, p in model.named_parameters():
        if "lora_" in name:
            h.update(name.encode())
            h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.digest()


@contextlib.contextmanager
def _reference(model: torch.nn.Module):
    """The frozen base: the peft model with its adapters disabled, without gradients."""
    if not hasattr(model, "disable_adapter"):
        raise ModelError("DPO needs a peft model: its reference is the base with the adapters disabled")
    with torch.no_grad(), adapters_disabled(model):
        yield


class DPOObjective:
    """DPO on preference pairs, the frozen base model as reference."""

    name = "dpo"

    def __init__(self, tokenizer, max_len: int, beta: float = DEFAULT_BETA) -> None:
        check_limits(DPOConfig(beta), prefix="dpo_")
        self.tokenizer = tokenizer
        self.max_len = max_len
        self.beta = beta

    @classmethod
    def from_config(cls, tokenizer, cfg) -> "DPOObjective":
        """The objective with the run's ``max_len`` and DPO settings."""
        return cls(tokenizer, cfg.max_len, beta=cfg.settings_of(cls.name, DPOConfig).beta)

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id

    def prepare(self, pairs: list[PreferencePair]) -> list[PreferenceItem]:
        """Tokenise a client's pairs once (reference log-probs follow on first use)."""
        return [tokenize_pair(p, self.tokenizer, self.max_len) for p in pairs]

    # -- log-probabilities ---------------------------------------------------------------
    def _pair_logps(self, model: torch.nn.Module, item: PreferenceItem) -> tuple[float, float]:
        """(log pi(y_w|x), log pi(y_l|x)) of one pair, computed in forward passes of its own."""
        return pair_logps(model, item, self.pad_id)

    def evaluated_logps(self, model: torch.nn.Module, items: list[PreferenceItem]) -> torch.Tensor:
        """Policy log-probs ``[len(items), 2]`` without gradients, one pair per forward pass.

        Memoised on each item under a digest of the adapter weights, so the held-out loss and
        :meth:`extra_metrics` of one evaluation share a single pass over the pairs.
        """
        digest = adapter_digest(model)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                for item in items:
                    if item.evaluated is None or item.evaluated[0] != digest:
                        item.evaluated = (digest, *self._pair_logps(model, item))
        finally:
            model.train(was_training)
        return torch.tensor([i.evaluated[1:] for i in items], dtype=torch.float64)

    def ensure_reference(self, model: torch.nn.Module, items: list[PreferenceItem]) -> None:
        """Fill the base model's log-probs of every item that lacks them (adapters disabled)."""
        missing = [i for i in items if i.ref_chosen is None]
        if not missing:
            return
        was_training = model.training
        model.eval()
        try:
            with _reference(model):
                for item in missing:
                    item.ref_chosen, item.ref_rejected = self._pair_logps(model, item)
        finally:
            model.train(was_training)

    # -- the objective ---------------------------------------------------------------------
    def loss(self, model: torch.nn.Module, items: list[PreferenceItem]) -> torch.Tensor:
        """Mean DPO loss of one batch.

        With gradients (training) the chosen and rejected sequences of the batch go through one
        forward pass; without (evaluation) the memoised per-pair log-probs are used.
        """
        self.ensure_reference(model, items)
        if torch.is_grad_enabled():
            logps = sequence_logps(model, [i.chosen for i in items] + [i.rejected for i in items], self.pad_id)
            chosen, rejected = logps[: len(items)], logps[len(items):]
        else:
            chosen, rejected = self.evaluated_logps(model, items).to(torch.float32).unbind(dim=1)
        ref_c = torch.tensor([i.ref_chosen for i in items], dtype=chosen.dtype, device=chosen.device)
        ref_r = torch.tensor([i.ref_rejected for i in items], dtype=chosen.dtype, device=chosen.device)
        return dpo_loss(chosen, rejected, ref_c, ref_r, self.beta).mean()

    def train(self, method, items: list[PreferenceItem], steps: int, batch_size: int, lr: float, rng) -> float:
        """Local DPO steps on one client's pairs."""
        return local_train(method, self.loss, items, steps, batch_size, lr, rng)

    def extra_metrics(self, model: torch.nn.Module, items: list[PreferenceItem]) -> dict[str, float]:
        """Preference metrics of the current adapter on held-out pairs.

        - ``pref_accuracy``: share of pairs whose implicit reward margin
          ``beta*[(log pi - log pi_ref)(y_w) - (log pi - log pi_ref)(y_l)]`` is positive, a tie
          counting one half (so the base model, where every margin is 0, scores 0.5);
        - ``reward_margin``: mean implicit reward margin; ``reward_chosen`` / ``reward_rejected``:
          mean ``beta*(log pi - log pi_ref)`` of each response;
        - ``policy_pref_accuracy``: share of pairs where the model itself gives the chosen
          response the higher log-likelihood (ties one half) -- comparable with the base model.
        """
        if not items:
            return {}
        self.ensure_reference(model, items)
        logps = self.evaluated_logps(model, items).numpy()
        ref = np.array([(i.ref_chosen, i.ref_rejected) for i in items])
        reward = self.beta * (logps - ref)
        margin = reward[:, 0] - reward[:, 1]
        policy_gap = logps[:, 0] - logps[:, 1]

        def win_rate(x: np.ndarray) -> float:
            return float(np.mean((x > 0) + 0.5 * (x == 0)))

        return {
            "pref_accuracy": win_rate(margin),
            "reward_margin": float(margin.mean()),
            "reward_chosen": float(reward[:, 0].mean()),
            "reward_rejected": float(reward[:, 1].mean()),
            "policy_pref_accuracy": win_rate(policy_gap),
        }
