"""Supervised instruction tuning: next-token loss on the response tokens only."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from fl_core.data.records import Example
from fl_core.data.template import format_full
from fl_core.run.device import to_device
from fl_core.objectives.local import local_train

IGNORE = -100


@dataclass
class TokenizedExample:
    """Token ids of prompt+response(+eos) and labels masked to the response."""

    input_ids: list[int]
    labels: list[int]


def tokenize_responses(prompt: str, responses: list[str], tokenizer, max_len: int) -> list[TokenizedExample]:
    """Prompt + each response (+eos), at most ``max_len`` tokens each, the loss on the response.

    The responses share the prompt's tokens: a long prompt loses its start so that the
    longest response keeps at least ``max_len // 2`` tokens; each sequence is then cut at
    ``max_len``.
    """
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    r_ids = [tokenizer(r, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for r in responses]
    room = max_len - min(max(map(len, r_ids)), max_len // 2)
    p_ids = p_ids[-room:] if room > 0 else []
    return [TokenizedExample((p_ids + r)[:max_len], ([IGNORE] * len(p_ids) + r)[:max_len]) for r in r_ids]


def tokenize(example: Example, tokenizer, max_len: int) -> TokenizedExample:
    """Tokenise one example into at most ``max_len`` tokens with the loss on the response."""
    prompt, response = format_full(example)
    return tokenize_responses(prompt, [response], tokenizer, max_len)[0]


def collate(items: list[TokenizedExample], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch; padding is masked in attention and labels."""
    width = max(len(i.input_ids) for i in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, item in enumerate(items):
        n = len(item.input_ids)
        ids[row, :n] = torch.tensor(item.input_ids)
        labels[row, :n] = torch.tensor(item.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


class SFTObjective:
    """Causal-LM loss on responses (the QA task of the paper)."""

    name = "sft"

    def __init__(self, tokenizer, max_len: int) -> None:
        self.tokenizer = tokenizer
        self.max_len = max_len

    @classmethod
    def from_config(cls, tokenizer, cfg) -> "SFTObjective":
        return cls(tokenizer, cfg.max_len)

    def prepare(self, examples: list[Example]) -> list[TokenizedExample]:
        """Tokenise a client's data once."""
        return [tokenize(e, self.tokenizer, self.max_len) for e in examples]

    def loss(self, model: torch.nn.Module, items: list[TokenizedExample]) -> torch.Tensor:
        """Mean token loss over the responses of one batch."""
        batch = collate(items, self.tokenizer.pad_token_id)
        return model(**to_device(batch, model)).loss

    def train(self, method, items: list[TokenizedExample], steps: int, batch_size: int, lr: float, rng) -> float:
        """Local SFT steps on one client's data."""
        return local_train(method, self.loss, items, steps, batch_size, lr, rng)

    def extra_metrics(self, model: torch.nn.Module, items: list[TokenizedExample]) -> dict[str, float]:
        """SFT reports ARC through the trainer; nothing extra here."""
        return {}
