"""Supervised instruction tuning: next-token loss on the response tokens only."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from fl_core.data.records import Example
from fl_core.data.template import format_full
from fl_core.objectives.local import local_train

IGNORE = -100


@dataclass
class TokenizedExample:
    """Token ids of prompt+response(+eos) and labels masked to the response."""

    input_ids: list[int]
    labels: list[int]


def tokenize(example: Example, tokenizer, max_len: int) -> TokenizedExample:
    """Tokenise one example into at most ``max_len`` tokens with the loss on the response."""
    prompt, response = format_full(example)
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    r_ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    room = max_len - min(len(r_ids), max_len // 2)
    p_ids = p_ids[-room:]  # a long prompt loses its start, so the response always has room
    ids = (p_ids + r_ids)[:max_len]
    labels = ([IGNORE] * len(p_ids) + r_ids)[:max_len]
    return TokenizedExample(ids, labels)


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

    def prepare(self, examples: list[Example]) -> list[TokenizedExample]:
        """Tokenise a client's data once."""
        return [tokenize(e, self.tokenizer, self.max_len) for e in examples]

    def loss(self, model: torch.nn.Module, items: list[TokenizedExample]) -> torch.Tensor:
        """Mean token loss over the responses of one batch."""
        batch = collate(items, self.tokenizer.pad_token_id)
        return model(**batch).loss

    def train(self, method, items: list[TokenizedExample], steps: int, batch_size: int, lr: float, rng) -> float:
        """Local SFT steps on one client's data."""
        return local_train(method, self.loss, items, steps, batch_size, lr, rng)

    def extra_metrics(self, model: torch.nn.Module, items: list[TokenizedExample]) -> dict[str, float]:
        """SFT reports ARC through the trainer; nothing extra here."""
        return {}
