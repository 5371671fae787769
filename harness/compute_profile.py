"""Compute profiles (``--compute-profile FILE`` on replay and sweep): measured seconds per step.

A run's recorded compute times belong to the machine that trained it (a CPU, for the
shape runs of this repository). A profile says how long one local step of a given shape
on a given number of tokens takes on some device, measured once there; replay then uses
``local_steps x seconds`` (plus the run's recorded encode and decode seconds) as each
client's compute time, and every timing row's ``compute_source`` names the profile.

The file is TOML::

    origin = "benchmarks/paper_scale.py, llama2-7b on this repository's 2-vCPU machine (shared)"

    [[step]]
    shape = "llama2-7b"      # the run's model: shape name (shape:<name>) or --model value
    tokens = 64              # batch size x max_len of the run
    device = "cpu"           # where it was measured (goes into compute_source)
    seconds = 9.5            # seconds per local optimiser step

``origin`` is required (where the numbers come from); every (shape, tokens) appears once.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from fl_core.errors import ConfigError

_STEP_KEYS = {"shape": str, "tokens": int, "device": str, "seconds": float}


@dataclass(frozen=True)
class StepTime:
    """Seconds per local step of ``shape`` on ``tokens`` tokens, measured on ``device``."""

    shape: str
    tokens: int
    device: str
    seconds: float


@dataclass(frozen=True)
class ComputeProfile:
    """A profile file's origin and its step times."""

    path: str
    origin: str
    steps: tuple[StepTime, ...]

    def to_dict(self) -> dict:
        """What ``scenario.json`` records (and the scenario hash covers)."""
        return {"path": self.path, "origin": self.origin,
                "steps": [vars(s) for s in sorted(self.steps, key=lambda s: (s.shape, s.tokens))]}

    def step_for(self, meta: dict) -> StepTime:
        """The step time of a run (its run.json ``meta``); one line naming what is missing otherwise."""
        shape, tokens = run_key(meta)
        for step in self.steps:
            if (step.shape, step.tokens) == (shape, tokens):
                return step
        have = ", ".join(f"({s.shape}, {s.tokens})" for s in self.steps)
        raise ConfigError(f"compute profile {self.path}: no step time for run {meta.get('run_name')!r} "
                          f"(shape {shape!r}, {tokens} tokens); it has {have}")

    def label(self, step: StepTime, local_steps: int) -> str:
        """The ``compute_source`` of rows whose compute comes from ``step``."""
        return (f"profile {Path(self.path).name} ({self.origin}): {step.device} {step.seconds:g} s/step "
                f"x {local_steps} steps + recorded codec s")


def run_key(meta: dict) -> tuple[str, int]:
    """``(shape, tokens)`` of a run: its model (``shape:`` stripped) and batch size x max_len."""
    config = meta.get("config") or {}
    return (str(config.get("model", "")).removeprefix("shape:"),
            int(config.get("batch_size", 0)) * int(config.get("max_len", 0)))


def load_profile(path: str | Path) -> ComputeProfile:
    """Read and check a profile file; a malformed one gets one line naming the file and the problem."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"compute profile {path}: cannot read it ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"compute profile {path}: not valid TOML ({str(exc).splitlines()[0]})") from None
    unknown = sorted(set(doc) - {"origin", "step"})
    if unknown:
        raise ConfigError(f"compute profile {path}: unknown key {unknown[0]!r}; expected origin and [[step]] tables")
    origin = doc.get("origin")
    if not isinstance(origin, str) or not origin.strip():
        raise ConfigError(f"compute profile {path}: origin must say where the step times were measured")
    raw = doc.get("step")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"compute profile {path}: needs at least one [[step]] table")
    steps, seen = [], set()
    for i, entry in enumerate(raw):
        where = f"compute profile {path}: step[{i}]"
        if not isinstance(entry, dict) or set(entry) != set(_STEP_KEYS):
            raise ConfigError(f"{where} must have exactly the keys {', '.join(_STEP_KEYS)}")
        for key, kind in _STEP_KEYS.items():
            value = entry[key]
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else \
                isinstance(value, kind) and not isinstance(value, bool)
            if not ok:
                raise ConfigError(f"{where}.{key}: expected {kind.__name__}, got {value!r}")
        if entry["tokens"] < 1 or not (math.isfinite(entry["seconds"]) and entry["seconds"] > 0):
            raise ConfigError(f"{where}: tokens must be >= 1 and seconds a finite number > 0")
        key = (entry["shape"], entry["tokens"])
        if key in seen:
            raise ConfigError(f"{where}: ({key[0]}, {key[1]} tokens) appears twice")
        seen.add(key)
        steps.append(StepTime(entry["shape"], entry["tokens"], entry["device"], float(entry["seconds"])))
    return ComputeProfile(str(path), origin.strip(), tuple(steps))
