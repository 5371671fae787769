"""Evaluation of the global adapter: held-out loss and multiple-choice accuracy by log-likelihood."""
from __future__ import annotations

import torch

from fl_core.data.records import MCQuestion


def heldout_loss(model: torch.nn.Module, objective, items: list, batch_size: int = 8) -> float:
    """Mean of per-batch objective losses over held-out items (prepared by ``objective.prepare``)."""
    model.eval()
    losses = []
    with torch.no_grad():
        for i in range(0, len(items), batch_size):
            losses.append(float(objective.loss(model, items[i : i + batch_size])))
    return sum(losses) / max(1, len(losses))


def mc_prompt(q: MCQuestion) -> str:
    """The zero-shot context used for ARC-style scoring."""
    return f"Question: {q.question}\nAnswer:"


def _continuation_logprobs(model, tokenizer, pairs: list[tuple[str, str]], batch_size: int) -> list[float]:
    """Sum of log-probabilities of each continuation given its context."""
    scores: list[float] = []
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        seqs, spans = [], []
        for ctx, cont in chunk:
            c_ids = tokenizer(ctx, add_special_tokens=False)["input_ids"]
            t_ids = tokenizer(cont, add_special_tokens=False)["input_ids"] or [tokenizer.eos_token_id]
            seqs.append(c_ids + t_ids)
            spans.append((len(c_ids), len(c_ids) + len(t_ids)))
        width = max(map(len, seqs))
        ids = torch.full((len(seqs), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, s in enumerate(seqs):
            ids[row, : len(s)] = torch.tensor(s)
            mask[row, : len(s)] = 1
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
        for row, (a, b) in enumerate(spans):
            targets = ids[row, a:b]
            scores.append(float(logp[row, a - 1 : b - 1].gather(-1, targets[:, None]).sum()))
    return scores


def mc_accuracy(model: torch.nn.Module, tokenizer, questions: list[MCQuestion], batch_size: int = 16) -> float:
    """Share of questions whose gold choice has the highest log-likelihood (lm-eval ``acc``)."""
    if not questions:
        return float("nan")
    model.eval()
    pairs = [(mc_prompt(q), " " + c) for q in questions for c in q.choices]
    scores = _continuation_logprobs(model, tokenizer, pairs, batch_size)
    correct, k = 0, 0
    for q in questions:
        chunk = scores[k : k + len(q.choices)]
        correct += int(max(range(len(chunk)), key=chunk.__getitem__) == q.answer_index)
        k += len(q.choices)
    return correct / len(questions)
