"""Federated DPO: the loss on hand-made pairs, the frozen reference, and tiny runs through the CLI."""
from __future__ import annotations

import json
import math

import pytest
import torch
from click.testing import CliRunner

from fl_core.data.records import Example, PreferencePair
from fl_core.objectives.dpo import DPOObjective, dpo_loss, pair_logps, sequence_logps, tokenize_pair
from fl_core.objectives.sft import IGNORE, SFTObjective

torch.set_num_threads(1)

LOG2 = math.log(2)
PAIR = PreferencePair("What colour is a clear daytime sky?", "It is blue.", "It is green.", "hand")
LONG = PreferencePair("x" * 500 + " Which?", "Yes.", "Certainly not, no.", "hand")


@pytest.fixture
def tiny():
    """A fresh FedIT peft model on the tiny random Llama (LoRA B = 0: policy == base)."""
    from fl_core.run.config import RunConfig
    from fl_core.methods import get_method
    from fl_core.model.base import load_base_model

    cfg = RunConfig(model="tiny-llama", rank=4, lora_alpha=8)
    base = load_base_model(cfg.model, cfg.seed)
    return get_method("fedit")(cfg, base), DPOObjective(base.tokenizer, max_len=64, beta=0.1)


def _sft_steps(method, tokenizer, example: Example, steps: int = 15, lr: float = 1e-2) -> None:
    """Raise the likelihood of one response by plain SFT on the adapter."""
    sft = SFTObjective(tokenizer, 64)
    items = sft.prepare([example])
    opt = torch.optim.AdamW(method.trainable(), lr=lr)
    method.model.train()
    for _ in range(steps):
        sft.loss(method.model, items).backward()
        opt.step()
        opt.zero_grad()
    method.model.eval()


def _margin(objective, model, item) -> float:
    with torch.no_grad():
        c, r = sequence_logps(model, [item.chosen, item.rejected], objective.pad_id).tolist()
    return (c - item.ref_chosen) - (r - item.ref_rejected)


def test_dpo_loss_formula():
    zero = torch.zeros(1)
    assert float(dpo_loss(zero, zero, zero, zero, beta=0.1)) == pytest.approx(LOG2, abs=1e-7)
    # identical log-ratio shifts on both responses leave the loss at log 2
    assert float(dpo_loss(zero - 3, zero - 5, zero - 1, zero - 3, beta=0.1)) == pytest.approx(LOG2, abs=1e-6)
    pc, pr, rc, rr = (torch.tensor([v], requires_grad=True) for v in (-2.0, -9.0, -4.0, -6.0))
    loss = dpo_loss(pc, pr, rc, rr, beta=0.5)  # margin = (-2+4) - (-9+6) = 5
    assert float(loss.detach()) == pytest.approx(-math.log(1 / (1 + math.exp(-2.5))), rel=1e-6)
    assert float(loss.detach()) < LOG2
    loss.sum().backward()
    assert float(pc.grad) < 0 < float(pr.grad)  # descent raises log pi(chosen), lowers log pi(rejected)


def test_pair_shares_one_prompt_and_masks_it(tiny):
    method, objective = tiny
    item = tokenize_pair(PAIR, objective.tokenizer, 64)
    for seq in (item.chosen, item.rejected):
        assert seq.input_ids[-1] == objective.tokenizer.eos_token_id
        n_prompt = seq.labels.count(IGNORE)
        assert seq.labels[:n_prompt] == [IGNORE] * n_prompt and IGNORE not in seq.labels[n_prompt:]
    n = item.chosen.labels.count(IGNORE)
    assert n == item.rejected.labels.count(IGNORE) and item.chosen.input_ids[:n] == item.rejected.input_ids[:n]
    # a long prompt loses its start, identically for both responses, and the responses survive
    item = tokenize_pair(LONG, objective.tokenizer, 48)
    assert len(item.chosen.input_ids) <= 48 and len(item.rejected.input_ids) <= 48
    n = item.rejected.labels.count(IGNORE)
    assert item.chosen.input_ids[:n] == item.rejected.input_ids[:n]
    assert objective.tokenizer.decode(item.rejected.input_ids[n:-1]) == "Certainly not, no."


@pytest.mark.parametrize("pair, max_len", [(PAIR, 64), (LONG, 48)])
def test_sequence_logps_sum_response_tokens_only(tiny, pair, max_len):
    method, objective = tiny
    _sft_steps(method, objective.tokenizer, Example(PAIR.prompt, "", PAIR.chosen, "hand"), steps=2)  # LoRA != 0
    item = tokenize_pair(pair, objective.tokenizer, max_len)
    other = tokenize_pair(PreferencePair("Hi?", "Hello there, friend.", "Go.", "hand"), objective.tokenizer, max_len)
    with torch.no_grad():
        batched = sequence_logps(method.model, [item.chosen, item.rejected, other.chosen], objective.pad_id)
    cached = pair_logps(method.model, item, objective.pad_id)  # shared-prompt KV cache path
    for row, seq in enumerate((item.chosen, item.rejected)):
        ids = torch.tensor([seq.input_ids])
        with torch.no_grad():  # the full model's logits at every position, unpadded
            logp = torch.log_softmax(method.model(input_ids=ids).logits[0, :-1].float(), dim=-1)
        manual = sum(float(logp[t - 1, ids[0, t]]) for t, lab in enumerate(seq.labels) if lab != IGNORE)
        assert float(batched[row]) == pytest.approx(manual, abs=1e-4)
        assert cached[row] == pytest.approx(manual, abs=1e-4)


def test_loss_is_log2_when_policy_is_the_reference(tiny):
    method, objective = tiny
    items = objective.prepare([PAIR])
    loss = float(objective.loss(method.model, items).detach())
    assert loss == pytest.approx(LOG2, abs=1e-6)
    metrics = objective.extra_metrics(method.model, items)
    assert metrics["reward_margin"] == 0.0 and metrics["pref_accuracy"] == 0.5


@pytest.mark.parametrize("raise_response, below", [("chosen", True), ("rejected", False)])
def test_loss_falls_below_log2_iff_policy_raises_the_chosen_response(tiny, raise_response, below):
    method, objective = tiny
    items = objective.prepare([PAIR])
    objective.ensure_reference(method.model, items)
    _sft_steps(method, objective.tokenizer, Example(PAIR.prompt, "", getattr(PAIR, raise_response), "hand"))
    loss = float(objective.loss(method.model, items).detach())
    margin = _margin(objective, method.model, items[0])
    metrics = objective.extra_metrics(method.model, items)
    if below:
        assert margin > 0 and loss < LOG2 and metrics["pref_accuracy"] == 1.0
    else:
        assert margin < 0 and loss > LOG2 and metrics["pref_accuracy"] == 0.0
    assert metrics["reward_margin"] == pytest.approx(objective.beta * margin, rel=1e-4)


def test_gradient_step_pushes_the_margin_up(tiny):
    method, objective = tiny
    items = objective.prepare([PAIR])
    objective.ensure_reference(method.model, items)
    # start away from the base, and with the policy preferring the rejected response
    _sft_steps(method, objective.tokenizer, Example(PAIR.prompt, "", PAIR.rejected, "hand"), steps=5)
    before, loss_before = _margin(objective, method.model, items[0]), float(objective.loss(method.model, items).detach())
    opt = torch.optim.SGD(method.trainable(), lr=0.05)
    objective.loss(method.model, items).backward()
    opt.step()
    after, loss_after = _margin(objective, method.model, items[0]), float(objective.loss(method.model, items).detach())
    assert after > before and loss_after < loss_before


def test_reference_is_the_frozen_base_computed_once(tiny):
    method, objective = tiny
    items = objective.prepare([PAIR])
    objective.ensure_reference(method.model, items)
    ref = (items[0].ref_chosen, items[0].ref_rejected)
    _sft_steps(method, objective.tokenizer, Example(PAIR.prompt, "", PAIR.chosen, "hand"), steps=3)
    objective.loss(method.model, items)  # cached: not recomputed with the trained adapter
    assert (items[0].ref_chosen, items[0].ref_rejected) == ref
    fresh = objective.prepare([PAIR])
    objective.ensure_reference(method.model, fresh)  # adapters disabled -> the same base numbers
    assert (fresh[0].ref_chosen, fresh[0].ref_rejected) == pytest.approx(ref, abs=1e-5)
    assert objective.extra_metrics(method.model, items)["policy_pref_accuracy"] == 1.0


def test_evaluation_memo_follows_the_adapter(tiny):
    method, objective = tiny
    items = objective.prepare([PAIR, PreferencePair("Is ice cold?", "Yes.", "No.", "hand")])
    with torch.no_grad():
        assert float(objective.loss(method.model, items)) == pytest.approx(LOG2, abs=1e-7)
    _sft_steps(method, objective.tokenizer, Example(PAIR.prompt, "", PAIR.chosen, "hand"), steps=3)
    with torch.no_grad():
        evaluated = float(objective.loss(method.model, items))  # new adapter: recomputed, not reused
    batched = float(objective.loss(method.model, items).detach())
    assert evaluated != pytest.approx(LOG2, abs=1e-4)
    assert evaluated == pytest.approx(batched, abs=1e-5)


# -- tiny federated runs through the CLI ----------------------------------------------------------
_TOPICS = {
    "arithmetic": ("What is {a} plus {b}?", "{s}.", "{w}."),
    "colours": ("Which colour is item {a}?", "Item {a} is red.", "Item {a} is blue."),
    "animals": ("How many legs does animal {a} have?", "It has {b} legs.", "It has {a} wings."),
}


@pytest.fixture(scope="module")
def preference_file(tmp_path_factory):
    """Binarised UltraFeedback-format JSONL (prompt/chosen/rejected/source): 3 categories, 60 pairs."""
    path = tmp_path_factory.mktemp("pref") / "pairs.jsonl"
    lines = []
    for cat, (q, good, bad) in _TOPICS.items():
        for i in range(20):
            f = dict(a=i, b=i + 3, s=2 * i + 3, w=2 * i + 5)
            lines.append(json.dumps({"prompt": q.format(**f), "chosen": good.format(**f),
                                     "rejected": bad.format(**f), "source": cat}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _train(args: list[str]):
    from harness.cli import main

    result = CliRunner().invoke(main, ["train", "--no-progress", *args])
    assert result.exit_code == 0, result.output
    return result


def test_two_round_dpo_runs_write_preference_metrics(preference_file, tmp_path):
    from fl_core.rundir.reader import read_run

    common = ["--objective", "dpo", "--model", "tiny-llama", "--dataset", str(preference_file),
              "--clients", "6", "--participants", "3", "--rounds", "2", "--local-steps", "2",
              "--batch-size", "2", "--max-len", "48", "--rank", "4", "--lora-alpha", "8", "--lr", "1e-3",
              "--eval-examples", "8", "--eval-every", "1", "--arc-subset", "0", "--arc-final", "0"]
    runs = {}
    for method in ("fedit", "fedit+ecolora"):
        eco = ["--segments", "3"] if "ecolora" in method else []  # --segments without EcoLoRA is refused (issue 24 E)
        _train([*common, "--method", method, *eco, "--out", str(tmp_path / method)])
        runs[method] = read_run(tmp_path / method)
    for method, run in runs.items():
        assert run.meta["objective"] == "dpo" and run.meta["status"] == "complete"
        assert run.meta["data"]["heldout"] == 8
        assert set(run.meta["data"]["categories"]) == set(_TOPICS)
        ev = run.evals
        assert list(ev["round"]) == [-1, 0, 1]
        for col in ("eval_loss", "pref_accuracy", "reward_margin", "policy_pref_accuracy"):
            assert ev[col].notna().all(), (method, col)
        assert ev["eval_loss"].iloc[0] == pytest.approx(LOG2, abs=1e-5)  # base model: policy == reference
        assert ev["pref_accuracy"].iloc[0] == 0.5 and ev["reward_margin"].iloc[0] == 0.0
        assert ev["pref_accuracy"].between(0, 1).all()
        assert "arc" not in ev
        assert (run.rounds["train_loss"] > 0).all()
    eco, dense = runs["fedit+ecolora"].rounds, runs["fedit"].rounds
    assert eco["uplink_bytes"].sum() < 0.5 * dense["uplink_bytes"].sum()


def test_embedded_preference_pairs_feed_the_federation():
    from fl_core.run.config import RunConfig
    from fl_core.run.federation import build_federation, load_examples

    cfg = RunConfig(objective="dpo", per_category=10, n_clients=4, participants=2, eval_examples=8)
    pairs = load_examples(cfg)
    assert pairs and all(isinstance(p, PreferencePair) and p.chosen != p.rejected for p in pairs)
    fed = build_federation(cfg, pairs)
    assert len(fed.heldout) == 8
    assert sum(map(len, fed.clients)) + 8 == len(pairs)
    assert sum(sum(h.values()) for h in fed.histograms.values()) == len(pairs) - 8
