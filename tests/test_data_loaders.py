"""Loaders of the paper's dataset formats, on small files written by the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fl_core.data.loaders import (
    load_alpaca,
    load_dolly,
    load_instruction_data,
    load_preference_jsonl,
    load_ultrafeedback,
)
from fl_core.data.records import Example, PreferencePair
from fl_core.errors import DataError

DOLLY = [
    {"instruction": "Name a colour.", "context": "", "response": "Blue.", "category": "open_qa"},
    {
        "instruction": "Summarise.",
        "context": "A long text.",
        "response": "Short.",
        "category": "summarization",
    },
]
ALPACA = [
    {"instruction": "Add 2 and 3.", "input": "", "output": "5"},
    {"instruction": "Translate.", "input": "Bonjour", "output": "Hello"},
]


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def completion(text: str, overall: float | None = None, fine: float | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"response": text}
    if overall is not None:
        c["overall_score"] = overall
    if fine is not None:
        c["fine-grained_score"] = fine
    return c


def test_dolly_reads_every_field_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "dolly.jsonl"
    path.write_text(json.dumps(DOLLY[0]) + "\n\n" + json.dumps(DOLLY[1]) + "\n", encoding="utf-8")
    assert load_dolly(path) == [Example(**DOLLY[0]), Example(**DOLLY[1])]


def test_alpaca_json_list_and_jsonl_agree(tmp_path: Path) -> None:
    listed = tmp_path / "alpaca.json"
    listed.write_text(json.dumps(ALPACA, indent=2), encoding="utf-8")
    lines = write_jsonl(tmp_path / "alpaca.jsonl", ALPACA)
    expected = [Example("Add 2 and 3.", "", "5", ""), Example("Translate.", "Bonjour", "Hello", "")]
    assert load_alpaca(listed) == expected
    assert load_alpaca(lines) == expected


def test_alpaca_input_may_be_absent(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Hi.", "output": "Hello."}])
    assert load_alpaca(path) == [Example("Hi.", "", "Hello.", "")]


def test_instruction_data_detects_the_format(tmp_path: Path) -> None:
    assert load_instruction_data(write_jsonl(tmp_path / "d.jsonl", DOLLY))[1].category == "summarization"
    assert load_instruction_data(write_jsonl(tmp_path / "a.jsonl", ALPACA))[1].context == "Bonjour"


def test_instruction_data_refuses_preference_and_unknown_fields(tmp_path: Path) -> None:
    pref = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "q", "chosen": "a", "rejected": "b"}])
    with pytest.raises(DataError, match="preference data"):
        load_instruction_data(pref)
    odd = write_jsonl(tmp_path / "o.jsonl", [{"question": "q", "answer": "a"}])
    with pytest.raises(DataError, match=r"o\.jsonl line 1: unrecognised fields"):
        load_instruction_data(odd)


@pytest.mark.parametrize("loader", [load_dolly, load_alpaca, load_preference_jsonl])
def test_missing_file_is_refused(tmp_path: Path, loader: Any) -> None:
    with pytest.raises(DataError, match="no such data file"):
        loader(tmp_path / "absent.jsonl")


@pytest.mark.parametrize("content", ["", "\n\n", "[]"])
def test_empty_dataset_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match="empty dataset"):
        load_instruction_data(path)


def test_invalid_json_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(DOLLY[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl line 2: invalid JSON"):
        load_dolly(path)


def test_invalid_json_list_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[\n  {"instruction": "x", "output": "y"},\n  {oops}\n]', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.json line 3: invalid JSON"):
        load_alpaca(path)


def test_missing_field_names_file_line_and_field(tmp_path: Path) -> None:
    broken = {k: v for k, v in DOLLY[1].items() if k != "response"}
    path = write_jsonl(tmp_path / "dolly.jsonl", [DOLLY[0], broken])
    with pytest.raises(DataError, match=r"dolly\.jsonl line 2: missing field 'response'"):
        load_dolly(path)


def test_missing_field_in_json_list_names_the_record(tmp_path: Path) -> None:
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps([ALPACA[0], {"instruction": "x"}]), encoding="utf-8")
    with pytest.raises(DataError, match=r"alpaca\.json record 2: missing field 'output'"):
        load_alpaca(path)


def test_non_string_field_and_non_object_record_are_refused(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{**DOLLY[0], "response": 3}])
    with pytest.raises(DataError, match="field 'response' must be a string, got int"):
        load_dolly(path)
    path = write_jsonl(tmp_path / "l.jsonl", [DOLLY[0], ["not", "an", "object"]])
    with pytest.raises(DataError, match=r"line 2: expected a JSON object, got list"):
        load_dolly(path)


def test_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"instruction": "caf\xe9"}\n')
    with pytest.raises(DataError, match="not UTF-8"):
        load_dolly(path)


def raw_ultrafeedback(n: int) -> list[dict[str, Any]]:
    return [
        {
            "source": "evol_instruct",
            "instruction": f"question {i}",
            "completions": [completion(f"r{i}-{s}", overall=float(s)) for s in (3, 9, 5, 1)],
        }
        for i in range(n)
    ]


def test_ultrafeedback_chooses_the_best_and_a_worse_one(tmp_path: Path) -> None:
    pairs = load_ultrafeedback(write_jsonl(tmp_path / "uf.jsonl", raw_ultrafeedback(30)), seed=0)
    assert len(pairs) == 30
    for i, pair in enumerate(pairs):
        assert pair.prompt == f"question {i}" and pair.category == "evol_instruct"
        assert pair.chosen == f"r{i}-9"
        assert pair.rejected in {f"r{i}-3", f"r{i}-5", f"r{i}-1"}


def test_ultrafeedback_rejection_is_seeded(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "uf.jsonl", raw_ultrafeedback(30))
    assert load_ultrafeedback(path, seed=1) == load_ultrafeedback(path, seed=1)
    assert load_ultrafeedback(path, seed=1) != load_ultrafeedback(path, seed=2)


def test_ultrafeedback_prefers_fine_grained_scores_and_accepts_prompt(tmp_path: Path) -> None:
    row = {
        "prompt": "q",
        "completions": [completion("a", overall=10, fine=2.0), completion("b", overall=1, fine=4.5)],
    }
    [pair] = load_ultrafeedback(write_jsonl(tmp_path / "uf.jsonl", [row]), seed=0)
    assert (pair.prompt, pair.chosen, pair.rejected, pair.category) == ("q", "b", "a", "")


def test_ultrafeedback_drops_ties_and_refuses_all_ties(tmp_path: Path) -> None:
    tie = {"instruction": "t", "completions": [completion("x", overall=5), completion("y", overall=5)]}
    rows = [tie, *raw_ultrafeedback(1)]
    pairs = load_ultrafeedback(write_jsonl(tmp_path / "a.jsonl", rows), 0)
    assert [p.prompt for p in pairs] == ["question 0"]
    with pytest.raises(DataError, match="every record's completions tie"):
        load_ultrafeedback(write_jsonl(tmp_path / "b.jsonl", [tie]), 0)


def test_ultrafeedback_names_unscored_completion(tmp_path: Path) -> None:
    row = {"instruction": "q", "completions": [completion("a", overall=3), {"response": "b"}]}
    with pytest.raises(DataError, match=r"line 1: completions\[1\] has no numeric"):
        load_ultrafeedback(write_jsonl(tmp_path / "uf.jsonl", [row]), 0)
    with pytest.raises(DataError, match="missing field 'instruction'"):
        load_ultrafeedback(write_jsonl(tmp_path / "np.jsonl", [{"completions": []}]), 0)


def test_binarized_message_lists_and_strings(tmp_path: Path) -> None:
    rows = [
        {
            "prompt": "What is 2+2?",
            "chosen": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}],
            "rejected": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "5"}],
        },
        {
            "chosen": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
            "rejected": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Go away."}],
        },
        {"prompt": "p", "chosen": "good", "rejected": "bad", "category": "c"},
    ]
    expected = [
        PreferencePair("What is 2+2?", "4", "5", ""),
        PreferencePair("Hi", "Hello!", "Go away.", ""),
        PreferencePair("p", "good", "bad", "c"),
    ]
    path = write_jsonl(tmp_path / "bin.jsonl", rows)
    assert load_preference_jsonl(path) == expected
    assert load_ultrafeedback(path, seed=0) == expected


def test_binarized_missing_field_and_bad_messages(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "p", "chosen": "a"}])
    with pytest.raises(DataError, match=r"p\.jsonl line 1: missing field 'rejected'"):
        load_preference_jsonl(path)
    no_answer = {"prompt": "p", "chosen": [{"role": "user", "content": "p"}], "rejected": "b"}
    path = write_jsonl(tmp_path / "m.jsonl", [no_answer])
    with pytest.raises(DataError, match="'chosen' has no assistant message"):
        load_preference_jsonl(path)
