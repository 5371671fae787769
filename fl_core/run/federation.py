"""The federation: data split into a held-out set and non-IID client shards, and participant sampling."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fl_core.run.config import RunConfig
from fl_core.data import embedded
from fl_core.data.loaders import load_instruction_data, load_ultrafeedback
from fl_core.data.partition import category_histograms, get_partitioner, skew
from fl_core.data.records import Example, MCQuestion, PreferencePair
from fl_core.errors import DataError


@dataclass
class Federation:
    """Client shards, the held-out set and the multiple-choice evaluation sets."""

    clients: list[list[Example]]
    heldout: list[Example]
    categories: list[str]
    histograms: dict[int, dict[str, int]]
    skew: float  # mean total-variation distance of client category mixes from the global mix

    def weight(self, client: int) -> int:
        """n_i of Eq. 1–2: the client's number of samples."""
        return len(self.clients[client])


def load_examples(cfg: RunConfig) -> list[Example] | list[PreferencePair]:
    """The training pool: the embedded default or a user's Dolly/Alpaca file (preference pairs for dpo)."""
    if cfg.objective == "dpo":
        return load_preference_pairs(cfg)
    if cfg.dataset == "embedded":
        return embedded.instruction_data(cfg.per_category, cfg.seed)
    return load_instruction_data(cfg.dataset)


def load_preference_pairs(cfg: RunConfig) -> list[PreferencePair]:
    """DPO pairs: the embedded offline pairs (QA sets, correct vs. a seeded wrong option) or an
    UltraFeedback file (raw: best-scored vs. a random worse completion; or binarised chosen/rejected)."""
    if cfg.dataset == "embedded":
        return embedded.preference_pairs(cfg.per_category, cfg.seed)
    return load_ultrafeedback(cfg.dataset, cfg.seed)


def build_federation(cfg: RunConfig, examples: list[Example]) -> Federation:
    """Hold out ``eval_examples`` (seeded), then partition the rest over ``n_clients``."""
    partitioner = get_partitioner(cfg.partition)
    rng = np.random.default_rng([cfg.seed, 7])
    order = rng.permutation(len(examples))
    n_eval = min(cfg.eval_examples, len(examples) // 5)
    heldout = [examples[i] for i in order[:n_eval]]
    pool = [examples[i] for i in order[n_eval:]]
    if len(pool) < cfg.n_clients:
        raise DataError(f"{len(pool)} training examples cannot be split over {cfg.n_clients} clients")
    parts = partitioner(pool, cfg.n_clients, cfg.alpha, cfg.seed)
    clients = [[pool[i] for i in part] for part in parts]
    categories = [e.category for e in pool]
    counts = category_histograms(parts, categories).to_dict("records")
    histograms = {c: {cat: int(n) for cat, n in row.items() if n} for c, row in enumerate(counts)}
    return Federation(clients, heldout, sorted(set(categories)), histograms, skew(parts, categories))


def sample_participants(cfg: RunConfig, round_idx: int) -> list[int]:
    """Uniform sampling of N_t of K clients, seeded per round (so a resumed run samples the same)."""
    rng = np.random.default_rng([cfg.seed, 1, round_idx])
    return [int(c) for c in rng.choice(cfg.n_clients, size=cfg.participants, replace=False)]


def arc_sets(limit: int | None, seed: int) -> dict[str, list[MCQuestion]]:
    """ARC-Easy and ARC-Challenge validation questions (optionally a seeded subset of each)."""
    return {level: embedded.arc_questions(level, "validation", limit, seed) for level in ("easy", "challenge")}
