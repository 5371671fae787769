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


def _cache_argument(decoder: torch.nn.Module) -> str:
    """The decoder's name for the key/value cache: ``cache`` (transformers >= 5.2x) or ``past_key_values``.

    Passing (or reading) the old name on a newer transformers works but warns on every call.
    """
    import inspect

    params = inspect.signature(decoder.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _choice_logprobs(decoder, head, tokenizer, context: str, choices: list[str]) -> list[float]:
    """Sum of log-probabilities of each choice given the shared context.

    The context runs once and its key/value cache is shared by all choices, and the
    output head runs only at the scored positions (a 49k-token vocabulary made projecting
    every position the dominant cost).
    """
    ctx = torch.tensor([tokenizer(context, add_special_tokens=False)["input_ids"]])
    conts = [tokenizer(c, add_special_tokens=False)["input_ids"] or [tokenizer.eos_token_id] for c in choices]
    width = max(map(len, conts))
    ids = torch.full((len(conts), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(conts), ctx.shape[1] + width), dtype=torch.long)
    mask[:, : ctx.shape[1]] = 1
    for row, c in enumerate(conts):
        ids[row, : len(c)] = torch.tensor(c)
        mask[row, ctx.shape[1] : ctx.shape[1] + len(c)] = 1
    cache_arg = _cache_argument(decoder)
    with torch.no_grad():
        first = decoder(input_ids=ctx, use_cache=True)
        cache = getattr(first, cache_arg)
        cache.batch_repeat_interleave(len(conts))
        hidden = decoder(input_ids=ids, attention_mask=mask, **{cache_arg: cache}).last_hidden_state
        last_ctx = first.last_hidden_state[0, -1:].expand(len(conts), -1)
        scores = []
        for row, c in enumerate(conts):
            states = torch.cat([last_ctx[row : row + 1], hidden[row, : len(c) - 1]])
            logp = torch.log_softmax(head(states).float(), dim=-1)
            scores.append(float(logp.gather(-1, ids[row, : len(c), None]).sum()))
    return scores


def mc_accuracy(model: torch.nn.Module, tokenizer, questions: list[MCQuestion]) -> float:
    """Share of questions whose gold choice has the highest log-likelihood (lm-eval ``acc``)."""
    if not questions:
        return float("nan")
    model.eval()
    core = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder, head = core.get_decoder(), core.get_output_embeddings()
    correct = 0
    for q in questions:
        scores = _choice_logprobs(decoder, head, tokenizer, mc_prompt(q), [" " + c for c in q.choices])
        correct += int(max(range(len(scores)), key=scores.__getitem__) == q.answer_index)
    return correct / len(questions)
