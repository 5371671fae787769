"""Direct preference optimisation (Rafailov et al., 2023): the VA task of the paper (Section 4.2, Table 2).

Each client minimises, over its (prompt x, chosen y_w, rejected y_l) pairs,

    L = -log sigma(beta * [(log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x))])

where pi is the LoRA-adapted model and pi_ref the frozen base (the peft model with its
adapters disabled), as in federated DPO with OpenFedLLM (Ye et al., 2024). A sequence's
log-probability is the sum over its response tokens (and the closing eos), given the prompt.

The base never changes, so a pair's reference log-probabilities are computed once, on the
pair's first use, and cached on the prepared item. Reference and evaluation log-probabilities
are computed one pair per forward pass (its two sequences alone), so they do not depend on
which other pairs share a batch: at the base model the implicit reward margin is exactly 0.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from fl_core.data.records import PreferencePair
from fl_core.data.template import format_preference
from fl_core.errors import ModelError
from fl_core.objectives.local import local_train
from fl_core.objectives.sft import IGNORE, TokenizedExample, collate

DEFAULT_BETA = 0.1  # Rafailov et al. (2023); TRL's and OpenFedLLM's default


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


def tokenize_pair(pair: PreferencePair, tokenizer, max_len: int) -> PreferenceItem:
    """Tokenise prompt+chosen and prompt+rejected with the loss mask on the responses (+eos).

    Both sequences share one prompt: a long prompt loses its start (as in SFT) so that the
    longer response keeps at least ``max_len // 2`` tokens, and each sequence is then cut
    at ``max_len``.
    """
    prompt, chosen, rejected = format_preference(pair)
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    eos = [tokenizer.eos_token_id]
    c_ids = tokenizer(chosen, add_special_tokens=False)["input_ids"] + eos
    r_ids = tokenizer(rejected, add_special_tokens=False)["input_ids"] + eos
    room = max_len - min(max(len(c_ids), len(r_ids)), max_len // 2)
    p_ids = p_ids[-room:] if room > 0 else []

    def one(response: list[int]) -> TokenizedExample:
        ids = (p_ids + response)[:max_len]
        labels = ([IGNORE] * len(p_ids) + response)[:max_len]
        return TokenizedExample(ids, labels)

    return PreferenceItem(one(c_ids), one(r_ids))


def sequence_logps(model: torch.nn.Module, rows: list[TokenizedExample], pad_id: int) -> torch.Tensor:
    """Sum of log pi(token) over each row's labelled (response) tokens; shape ``[len(rows)]``."""
    batch = collate(rows, pad_id)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE
    token_logps = -F.cross_entropy(
        logits[:, :-1].float().transpose(1, 2), labels.clamp_min(0), reduction="none"
    )
    return (token_logps * mask).sum(dim=-1)


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> torch.Tensor:
    """Per-pair DPO loss ``-log sigma(beta * margin)`` (Rafailov et al., 2023, Eq. 7)."""
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return -F.logsigmoid(beta * margin)


@contextlib.contextmanager
def _reference(model: torch.nn.Module):
    """The frozen base: the peft model with its adapters disabled, without gradients."""
    if not hasattr(model, "disable_adapter"):
        raise ModelError("DPO needs a peft model: its reference is the base with the adapters disabled")
    with torch.no_grad(), model.disable_adapter():
        yield


class DPOObjective:
    """DPO on preference pairs, the frozen base model as reference."""

    name = "dpo"

    def __init__(self, tokenizer, max_len: int, beta: float = DEFAULT_BETA) -> None:
        if not (math.isfinite(beta) and beta > 0):
            from fl_core.errors import ConfigError

            raise ConfigError(f"DPO beta={beta} must be > 0")
        self.tokenizer = tokenizer
        self.max_len = max_len
        self.beta = beta

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id

    def prepare(self, pairs: list[PreferencePair]) -> list[PreferenceItem]:
        """Tokenise a client's pairs once (reference log-probs follow on first use)."""
        return [tokenize_pair(p, self.tokenizer, self.max_len) for p in pairs]

    # -- log-probabilities ---------------------------------------------------------------
    def _pair_logps(self, model: torch.nn.Module, item: PreferenceItem) -> tuple[float, float]:
        """(log pi(y_w|x), log pi(y_l|x)) of one pair, computed in a forward pass of its own."""
        out = sequence_logps(model, [item.chosen, item.rejected], self.pad_id)
        return float(out[0]), float(out[1])

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
        """Mean DPO loss of one batch (chosen and rejected sequences in one forward pass)."""
        self.ensure_reference(model, items)
        logps = sequence_logps(model, [i.chosen for i in items] + [i.rejected for i in items], self.pad_id)
        n = len(items)
        ref_c = torch.tensor([i.ref_chosen for i in items], dtype=logps.dtype)
        ref_r = torch.tensor([i.ref_rejected for i in items], dtype=logps.dtype)
        return dpo_loss(logps[:n], logps[n:], ref_c, ref_r, self.beta).mean()

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
        model.eval()
        with torch.no_grad():
            logps = np.array([self._pair_logps(model, i) for i in items])
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
