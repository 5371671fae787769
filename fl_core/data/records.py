"""The three record types every data source is turned into.

Records are frozen so that a dataset can be shared between clients, cached
within the process and hashed without anyone mutating it underneath.
"""

from __future__ import annotations

from dataclasses import dataclass

from fl_core.errors import DataError


@dataclass(frozen=True)
class Example:
    """One instruction-tuning sample (the Dolly-15k shape).

    ``context`` is the optional input passage ("" when there is none);
    ``category`` is the task type used by the non-IID partitioners ("" when
    the source has none, e.g. Alpaca, whose categories come from K-means).
    """

    instruction: str
    context: str
    response: str
    category: str


@dataclass(frozen=True)
class PreferencePair:
    """One preference sample for value alignment (DPO-style training)."""

    prompt: str
    chosen: str
    rejected: str
    category: str


@dataclass(frozen=True)
class MCQuestion:
    """One multiple-choice evaluation question (ARC-style).

    ``answer_index`` indexes ``choices``; ``source`` names the set and split
    it came from, e.g. ``"arc_easy:validation"``; ``context`` is an optional passage
    (held-out reading questions of the training sets).
    """

    question: str
    choices: tuple[str, ...]
    answer_index: int
    source: str
    context: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.answer_index < len(self.choices):
            raise DataError(
                f"answer_index {self.answer_index} outside the {len(self.choices)} choices "
                f"of question {self.question[:60]!r}"
            )
