"""Types and ranges of the columns of tables read back from files (rounds.csv, timing CSVs).

A table read from disk may have been edited by hand or by another tool: text in a
numeric column, a negative or NaN time, a fractional byte count. :func:`check_frame`
refuses such a table with one line naming the file, the column, the first bad line
and its value, and returns the table with numeric columns as numbers.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fl_core.errors import DataError, NetbenchError


@dataclass(frozen=True)
class Column:
    """What one numeric column may hold: integers or reals, within ``[low, high]``, NaN or not."""

    integer: bool = False
    low: float | None = 0.0
    high: float | None = None
    nan_ok: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a finite number"
        bounds = []
        if self.low is not None:
            bounds.append(f">= {self.low:g}")
        if self.high is not None:
            bounds.append(f"<= {self.high:g}")
        return kind + (" " + " and ".join(bounds) if bounds else "") + (" (or empty)" if self.nan_ok else "")


#: Shorthands for the common kinds.
COUNT = Column(integer=True)  # bytes, rounds, client ids: integers >= 0
SECONDS = Column()  # durations: finite, >= 0
REAL = Column(low=None)  # any finite number
RATIO = Column(low=0.0, high=1.0, nan_ok=True)


def _bad_line(values: pd.Series, bad: np.ndarray) -> tuple[int, object]:
    i = int(np.flatnonzero(bad)[0])
    value = values.iloc[i]
    return i + 2, value.item() if isinstance(value, np.generic) else value  # line 1 is the CSV header


def check_frame(
    frame: pd.DataFrame, spec: Mapping[str, Column], where: str, error: type[NetbenchError] = DataError
) -> pd.DataFrame:
    """``frame`` with every column of ``spec`` it has checked and converted to numbers.

    Columns of ``spec`` that ``frame`` lacks are not checked here (required columns are
    the caller's business); the first violation raises ``error`` naming ``where``, the
    column, the line and the value.
    """
    frame = frame.copy()
    for name, rule in spec.items():
        if name not in frame.columns:
            continue
        raw = frame[name]
        numbers = pd.to_numeric(raw, errors="coerce").astype(float)
        missing = numbers.isna().to_numpy()
        text = raw.notna().to_numpy() & missing  # a value that is there but is not a number
        problems = [(text, "is not a number")]
        if not rule.nan_ok:
            problems.append((missing, "is empty or NaN"))
        values = numbers.to_numpy()
        with np.errstate(invalid="ignore"):
            problems.append((np.isinf(values), "is infinite"))
            if rule.integer:
                problems.append((~missing & ~np.isinf(values) & (values != np.floor(values)), "is not an integer"))
            if rule.low is not None:
                problems.append((values < rule.low, "is negative" if rule.low == 0 else f"is below {rule.low:g}"))
            if rule.high is not None:
                problems.append((values > rule.high, f"is above {rule.high:g}"))
        firsts = [(_bad_line(raw, bad), why) for bad, why in problems if bad.any()]
        if firsts:
            (line, value), why = min(firsts, key=lambda item: item[0][0])
            raise error(f"{where}: column {name!r} line {line}: {value!r} {why}; expected {rule.describe()}")
        if rule.integer and not missing.any():
            frame[name] = numbers.astype(np.int64)
        else:
            frame[name] = numbers
    return frame


#: What every numeric column of rounds.csv may hold (checked on reading; a hand-edited file is refused).
ROUND_TYPES: dict[str, Column] = {
    **dict.fromkeys(["round", "client", "position", "samples", "local_steps", "rank", "uplink_bytes",
                     "downlink_bytes", "up_header_bytes", "up_position_bytes", "up_value_bytes",
                     "down_header_bytes", "down_position_bytes", "down_value_bytes"], COUNT),
    "segment": Column(integer=True, low=-1),  # -1: no EcoLoRA segment
    **dict.fromkeys(["train_s", "encode_s", "decode_s", "compute_s", "server_s"], SECONDS),
    "train_loss": Column(low=None, nan_ok=True),
    "k_a": RATIO, "k_b": RATIO,
}
#: The numeric columns of eval.csv (round -1 is the base model; metrics may be absent for a run).
EVAL_TYPES: dict[str, Column] = {
    "round": Column(integer=True, low=-1), "eval_loss": Column(low=None, nan_ok=True),
    "arc_questions": Column(integer=True, nan_ok=True),
    **dict.fromkeys(["arc", "arc_easy", "arc_challenge", "pref_accuracy", "policy_pref_accuracy"], RATIO),
}
