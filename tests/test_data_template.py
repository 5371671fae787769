"""Record invariants and the Alpaca prompt template."""

from __future__ import annotations

import dataclasses

import pytest

from fl_core.data.records import Example, MCQuestion, PreferencePair
from fl_core.data.template import format_full, format_preference, format_prompt
from fl_core.errors import DataError


def test_records_are_frozen() -> None:
    example = Example("i", "c", "r", "k")
    with pytest.raises(dataclasses.FrozenInstanceError):
        example.response = "other"  # type: ignore[misc]


def test_mc_question_refuses_an_answer_outside_the_choices() -> None:
    assert MCQuestion("q", ("a", "b"), 1, "s").answer_index == 1
    with pytest.raises(DataError, match="answer_index 2 outside the 2 choices"):
        MCQuestion("q", ("a", "b"), 2, "s")


def test_prompt_with_input_has_the_three_sections_in_order() -> None:
    prompt = format_prompt(Example("Translate to English.", "Bonjour", "Hello", "t"))
    positions = [prompt.index(h) for h in ("### Instruction:\n", "### Input:\nBonjour", "### Response:\n")]
    assert positions == sorted(positions)
    assert prompt.endswith("### Response:\n")
    assert "Translate to English." in prompt


def test_prompt_without_input_omits_the_input_section() -> None:
    prompt = format_prompt(Example("Name a colour.", "  ", "Blue", "open_qa"))
    assert "### Input:" not in prompt
    assert prompt.endswith("### Instruction:\nName a colour.\n\n### Response:\n")


def test_format_full_splits_prompt_and_response() -> None:
    example = Example("Add 2 and 3.", "", "5", "math")
    prompt, response = format_full(example)
    assert prompt == format_prompt(example)
    assert response == "5"


def test_format_preference_uses_the_same_template() -> None:
    prompt, chosen, rejected = format_preference(PreferencePair("Is water wet?", "Yes", "No", "c"))
    assert prompt == format_prompt(Example("Is water wet?", "", "", "c"))
    assert (chosen, rejected) == ("Yes", "No")
