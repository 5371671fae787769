"""Loaders for the instruction and preference formats of the paper's datasets.

Dolly-15k, Alpaca(-GPT4) and UltraFeedback cannot be downloaded on the
project's machines, but a user who has them can point the CLI at the files:

- Dolly: JSONL, one ``{instruction, context, response, category}`` per line.
- Alpaca: a JSON list (or JSONL) of ``{instruction, input, output}``; ``input``
  may be absent (read as ""); ``category`` is "" unless the file has one, and
  the partitioner makes synthetic categories with K-means.
- UltraFeedback, raw: ``{instruction | prompt, completions: [{response,
  fine-grained_score | overall_score}, ...], source?}``. Binarised as in
  Zephyr (Tunstall et al., 2023) and the EcoLoRA paper: the best-scored
  completion is chosen, a seeded random one among those scored strictly lower
  is rejected; a record whose completions all tie gives no pair and is
  dropped. The mean fine-grained rating is preferred to ``overall_score``
  where both exist (Argilla found ``overall_score`` unreliable).
- Preference, binarised: ``{prompt, chosen, rejected}`` with strings or chat
  message lists (``[{role, content}, ...]``, the ultrafeedback_binarized form).

Every refusal is a ``DataError`` naming the file, the line (JSONL) or record
(JSON list) number, and the field.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fl_core.data.records import Example, PreferencePair
from fl_core.errors import DataError

PathLike = str | os.PathLike[str]
_SCORE_FIELDS = ("fine-grained_score", "overall_score")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Record:
    """One JSON object of a data file and where it was found, for error messages."""

    fields: dict[str, Any]
    where: str

    def fail(self, message: str) -> DataError:
        """A ``DataError`` located at this record."""
        return DataError(f"{self.where}: {message}")

    def text(self, field: str) -> str:
        """A required string field."""
        if field not in self.fields:
            raise self.fail(f"missing field {field!r}")
        return self._as_text(field)

    def optional_text(self, field: str, default: str = "") -> str:
        """A string field that may be absent (or null)."""
        if self.fields.get(field) is None:
            return default
        return self._as_text(field)

    def _as_text(self, field: str) -> str:
        value = self.fields[field]
        if not isinstance(value, str):
            raise self.fail(f"field {field!r} must be a string, got {type(value).__name__}")
        return value


def _read_text(path: PathLike) -> tuple[Path, str]:
    """The file's text, refusing a missing file, a folder or a non-UTF-8 file."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file}: no such data file")
    try:
        return file, file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _parse_json_list(file: Path, text: str) -> list[tuple[Any, str]]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{file} line {exc.lineno}: invalid JSON ({exc.msg})") from exc
    return [(item, f"{file} record {i}") for i, item in enumerate(items, start=1)]


def _whole_file_shape(text: str) -> str | None:
    """If ``text`` is one valid JSON document spanning lines (pretty-printed), its kind; else ``None``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return "object" if isinstance(value, dict) else type(value).__name__


def _parse_json_lines(file: Path, text: str) -> list[tuple[Any, str]]:
    parsed = []
    # JSONL separates records by "\n" only: U+2028 and friends are valid inside JSON strings
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            parsed.append((json.loads(line), f"{file} line {lineno}"))
        except json.JSONDecodeError as exc:
            shape = None if parsed else _whole_file_shape(text)
            if shape is not None:
                raise DataError(
                    f"{file}: one pretty-printed JSON {shape} spanning several lines; expected JSON Lines "
                    "(one record object per line) or a JSON array of record objects"
                ) from exc
            raise DataError(f"{file} line {lineno}: invalid JSON ({exc.msg})") from exc
    return parsed


def _read_records(path: PathLike) -> list[_Record]:
    """The JSON objects of a JSON-list or JSONL file (told apart by a leading ``[``)."""
    file, text = _read_text(path)
    parse = _parse_json_list if text.lstrip().startswith("[") else _parse_json_lines
    records = []
    for item, where in parse(file, text):
        if not isinstance(item, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(item).__name__}")
        records.append(_Record(item, where))
    if not records:
        raise DataError(f"{file}: empty dataset (no records)")
    return records


def _dolly_example(record: _Record) -> Example:
    return Example(
        instruction=record.text("instruction"),
        context=record.text("context"),
        response=record.text("response"),
        category=record.text("category"),
    )


def _alpaca_example(record: _Record) -> Example:
    return Example(
        instruction=record.text("instruction"),
        context=record.optional_text("input"),
        response=record.text("output"),
        category=record.optional_text("category"),
    )


def load_dolly(path: PathLike) -> list[Example]:
    """Dolly-15k JSONL: ``instruction, context, response, category`` on every line."""
    return [_dolly_example(r) for r in _read_records(path)]


def load_alpaca(path: PathLike) -> list[Example]:
    """Alpaca / Alpaca-GPT4 JSON list or JSONL: ``instruction, input, output``."""
    return [_alpaca_example(r) for r in _read_records(path)]


# Detection order matters: a Dolly record also has ``instruction``.
_INSTRUCTION_FORMATS: dict[str, tuple[frozenset[str], Callable[[_Record], Example]]] = {
    "dolly": (frozenset({"instruction", "context", "response"}), _dolly_example),
    "alpaca": (frozenset({"instruction", "output"}), _alpaca_example),
}
_PREFERENCE_FIELDS = ("completions", "chosen", "rejected")


def _detect_format(record: _Record) -> str:
    """``"dolly"``, ``"alpaca"`` or ``"preference"`` from a record's field names."""
    names = set(record.fields)
    for name, (required, _) in _INSTRUCTION_FORMATS.items():
        if required <= names:
            return name
    if names & set(_PREFERENCE_FIELDS):
        return "preference"
    known = "; ".join(f"{n}: {', '.join(sorted(r))}" for n, (r, _) in _INSTRUCTION_FORMATS.items())
    raise record.fail(f"unrecognised fields {sorted(names)}; expected {known}")


def load_instruction_data(path: PathLike) -> list[Example]:
    """Dolly or Alpaca data, the format told by the first record's fields."""
    records = _read_records(path)
    name = _detect_format(records[0])
    if name == "preference":
        raise records[0].fail("this is preference data; load it with load_ultrafeedback")
    convert = _INSTRUCTION_FORMATS[name][1]
    return [convert(r) for r in records]


def _message_content(record: _Record, field: str, role: str) -> str:
    """The content of the last ``role`` message of a chat list, or the field if it is a string."""
    if field not in record.fields:
        raise record.fail(f"missing field {field!r}")
    value = record.fields[field]
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise record.fail(f"field {field!r} must be a string or a list of messages")
    contents = [
        m.get("content") for m in value if isinstance(m, dict) and m.get("role") == role
    ]
    if not contents or not isinstance(contents[-1], str):
        raise record.fail(f"field {field!r} has no {role} message with a string 'content'")
    return contents[-1]


def _binarized_pair(record: _Record) -> PreferencePair:
    prompt = (
        record.text("prompt")
        if "prompt" in record.fields
        else _message_content(record, "chosen", "user")
    )
    return PreferencePair(
        prompt=prompt,
        chosen=_message_content(record, "chosen", "assistant"),
        rejected=_message_content(record, "rejected", "assistant"),
        category=record.optional_text("category") or record.optional_text("source"),
    )


def load_preference_jsonl(path: PathLike) -> list[PreferencePair]:
    """Binarised preference data: ``prompt, chosen, rejected`` (strings or message lists)."""
    return [_binarized_pair(r) for r in _read_records(path)]


def _score(record: _Record, completion: Any, number: int) -> float:
    """A completion's score: the mean fine-grained rating, else the overall score."""
    if not isinstance(completion, dict):
        raise record.fail(f"completions[{number}] must be a JSON object")
    for field in _SCORE_FIELDS:
        value = completion.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    raise record.fail(f"completions[{number}] has no numeric {' or '.join(_SCORE_FIELDS)}")


def _completion_text(record: _Record, completion: dict[str, Any], number: int) -> str:
    response = completion.get("response")
    if not isinstance(response, str):
        raise record.fail(f"completions[{number}] is missing the string field 'response'")
    return response


def _scored_pair(record: _Record, rng: np.random.Generator) -> PreferencePair | None:
    """Best completion vs. a random strictly worse one; ``None`` if all completions tie."""
    prompt_field = "prompt" if "prompt" in record.fields else "instruction"
    prompt = record.text(prompt_field)
    completions = record.fields["completions"]
    if not isinstance(completions, list) or not completions:
        raise record.fail("field 'completions' must be a non-empty list")
    scores = np.array([_score(record, c, i) for i, c in enumerate(completions)])
    best = int(np.argmax(scores))
    worse = np.flatnonzero(scores < scores[best])
    if worse.size == 0:
        return None
    rejected = int(rng.choice(worse))
    return PreferencePair(
        prompt=prompt,
        chosen=_completion_text(record, completions[best], best),
        rejected=_completion_text(record, completions[rejected], rejected),
        category=record.optional_text("source"),
    )


def load_ultrafeedback(path: PathLike, seed: int) -> list[PreferencePair]:
    """UltraFeedback, raw (scored ``completions``) or binarised (``chosen``/``rejected``).

    ``seed`` drives the choice of the rejected completion in raw records.
    Records whose completions all tie are dropped (logged); a file with no
    usable record is refused.
    """
    rng = np.random.default_rng(seed)
    pairs: list[PreferencePair] = []
    records = _read_records(path)
    for record in records:
        pair = _scored_pair(record, rng) if "completions" in record.fields else _binarized_pair(record)
        if pair is not None:
            pairs.append(pair)
    if not pairs:
        raise DataError(f"{path}: no preference pair: every record's completions tie")
    if len(pairs) < len(records):
        _log.info("%s: dropped %d records whose completions tie", path, len(records) - len(pairs))
    return pairs
