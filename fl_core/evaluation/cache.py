"""On-disk cache of the *base* model's evaluations, beside the converted model.

Every run starts by scoring the base model (the ``base`` row of ``eval.csv``); on the
default model and the full ARC validation sets that took minutes of CPU per run, for a
number that depends only on the model's weights, the questions and the scoring code.
This cache keys each accuracy (and the SFT held-out loss) on exactly those:

- the model: a fingerprint of its folder's weight and config files (names, sizes,
  modification times; the converted default, a local folder or a hub snapshot), its
  parameter dtype and device type;
- the evaluation set: the benchmark name and a SHA-256 of every question, choice and answer (of
  every held-out item's token ids and labels for the loss);
- the scoring: :data:`SCORING_VERSION` (bump it whenever scoring changes).

Entries are small JSON files under ``cache_dir()/base-evals/`` (one per key, written
atomically, so concurrent runs never corrupt each other). The tiny random test model is
never cached. ``FEDLORA_NETBENCH_NO_EVAL_CACHE=1`` turns the cache off.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from fl_core.rundir import atomic
from fl_core.data.records import MCQuestion
from fl_core.model.base import TINY_MODEL, BaseModel, cache_dir, resolve_model_source

#: Version of the multiple-choice scoring (prompt, tokenisation, log-likelihood sum); part of every key.
SCORING_VERSION = 1
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".gguf")


def _folder_fingerprint(folder: Path) -> str:
    h = hashlib.sha256()
    for file in sorted(folder.iterdir()):
        if file.is_file() and file.suffix in _WEIGHT_SUFFIXES:
            stat = file.stat()
            h.update(f"{file.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()


def model_key(base: BaseModel) -> str | None:
    """What identifies ``base``'s weights on this machine, or ``None`` if they cannot be cached."""
    if base.name == TINY_MODEL or os.environ.get("FEDLORA_NETBENCH_NO_EVAL_CACHE", "").strip() in ("1", "true"):
        return None
    from fl_core.model.base import DEFAULT_MODEL

    try:
        folder = cache_dir() / "smollm2-135m-instruct" if base.name == DEFAULT_MODEL \
            else Path(resolve_model_source(base.name))
    except Exception:  # noqa: BLE001 - an id that cannot be resolved offline is simply not cached
        return None
    if not folder.is_dir():
        return None
    param = next(base.model.parameters())
    return f"{base.name}|{_folder_fingerprint(folder)}|{param.dtype}|{param.device.type}"


def questions_digest(questions: Sequence[MCQuestion]) -> str:
    """SHA-256 of every question, its choices and its answer, in order."""
    h = hashlib.sha256()
    for q in questions:
        h.update(json.dumps([q.question, list(q.choices), q.answer_index], ensure_ascii=False).encode())
    return h.hexdigest()


def _entry(model: str, benchmark: str, digest: str) -> Path:
    key = json.dumps([model, benchmark, digest, SCORING_VERSION])
    return cache_dir() / "base-evals" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def _cached(base: BaseModel, benchmark: str, digest: str, size: int, compute: Callable[[], float],
            field: str) -> float:
    """``compute()``'s value for the base model from the cache, else computed and stored under ``field``."""
    model = model_key(base)
    if model is None or not size:
        return compute()
    entry = _entry(model, benchmark, digest)
    try:
        return float(json.loads(entry.read_text())[field])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    value = compute()
    try:
        atomic.write_json(entry, {field: value, "model": model, "benchmark": benchmark,
                                  "questions": size, "scoring_version": SCORING_VERSION})
    except OSError:
        pass  # a read-only cache only costs time
    return value


def cached_accuracy(
    base: BaseModel, benchmark: str, questions: Sequence[MCQuestion], compute: Callable[[], float]
) -> float:
    """The base model's accuracy on ``questions``: from the cache, else ``compute()`` and stored."""
    return _cached(base, benchmark, questions_digest(questions), len(questions), compute, "accuracy")


def cached_heldout_loss(base: BaseModel, objective: str, items: Sequence, batch_size: int,
                        compute: Callable[[], float]) -> float:
    """The base model's held-out loss on prepared ``items`` (their token ids and labels, in order, batched
    ``batch_size`` at a time under ``objective``): from the cache, else ``compute()`` and stored.

    Every method starts from an adapter that leaves the base model unchanged (tests/test_hardening.py
    checks it), so this is also each run's round -1 loss: the demo's four runs compute it once.
    """
    digest = hashlib.sha256(repr(list(items)).encode()).hexdigest()
    return _cached(base, f"heldout_loss:{objective}:{batch_size}", digest, len(items), compute, "loss")
