"""Run configuration: the paper's experimental setup as one validated dataclass (Appendix A defaults)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from fl_core.codec.payload import sparse_codec_name
from fl_core.codec.segments import check_segments
from fl_core.errors import ConfigError


@dataclass
class EcoLoRAConfig:
    """EcoLoRA stages and hyperparameters (Section 3, Appendix A); each stage switchable (Table 3)."""

    round_robin: bool = True
    n_segments: int = 5
    beta: float = 0.3  # Eq. 3 staleness decay; e^{-0.3*gap}: 0.74 after 1 round, 0.05 after 10
    sparsify: bool = True
    k_max: float = 0.95
    k_min_a: float = 0.6
    k_min_b: float = 0.5
    gamma_a: float = 1.0  # gamma_A < gamma_B: B's sparsity changes faster (Section 3.4)
    gamma_b: float = 2.0
    fixed_k: float | None = None  # "w/ fixed sparsification": one k for A and B in every round
    encode: bool = True  # Golomb-code positions; False: fixed-width positions ("w/o Encoding")
    raw_position_bits: int = 16  # width of those positions: 16 (the paper's, block-relative) or 32
    dense_fallback: bool = True  # send a dense fp16 segment when it is smaller than the sparse one
    sparsify_download: bool = True

    @property
    def sparse_codec(self) -> str:
        """Payload codec name of sparse messages (``fl_core.codec.payload``)."""
        return sparse_codec_name("golomb" if self.encode else {16: "raw16", 32: "raw"}[self.raw_position_bits])

    def validate(self, participants: int) -> None:
        """Refuse impossible settings with a message naming the parameter."""
        for name in ("k_max", "k_min_a", "k_min_b"):
            v = getattr(self, name)
            if not (0 < v <= 1):
                raise ConfigError(f"{name}={v} must lie in (0, 1]")
        if self.raw_position_bits not in (16, 32):
            raise ConfigError(f"raw_position_bits={self.raw_position_bits} must be 16 or 32")
        if self.fixed_k is not None and not (0 < self.fixed_k <= 1):
            raise ConfigError(f"fixed k={self.fixed_k} must lie in (0, 1]")
        if self.k_min_a > self.k_max or self.k_min_b > self.k_max:
            raise ConfigError(f"k_min ({self.k_min_a}, {self.k_min_b}) must not exceed k_max={self.k_max}")
        if self.gamma_a < 0 or self.gamma_b < 0 or self.beta < 0:
            raise ConfigError("gamma_a, gamma_b and beta must be >= 0")
        if self.round_robin:
            check_segments(self.n_segments, participants)


@dataclass
class RunConfig:
    """Everything that determines a training run."""

    method: str = "fedit"
    objective: str = "sft"
    model: str = "smollm2-135m"
    dataset: str = "embedded"
    partition: str = "dirichlet"
    alpha: float = 0.5
    n_clients: int = 100
    participants: int = 10
    rounds: int = 40
    local_steps: int = 10
    batch_size: int = 4
    max_len: int = 128
    lr: float = 3e-4
    rank: int = 16
    lora_alpha: int = 32
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    ranks: tuple[int, ...] = (64, 32, 16, 16, 8, 8, 4, 4, 4, 4)  # FLoRA/HLoRA heterogeneous ranks, cycled
    per_category: int | None = 400
    eval_examples: int = 64
    eval_every: int = 5
    arc_subset: int | None = 100
    arc_final: int | None = 100  # ARC questions per level at the end (and for the base model); None = all
    full_arc: bool = False  # the paper's metric: all ARC validation questions (570 + 299); sets arc_final=None
    evals: tuple[str, ...] | None = None  # fl_core.evaluate.BENCHMARKS; None: sft arc,qa / dpo mmlu
    mmlu_subset: int | None = 200  # MMLU questions per evaluation (seeded); None = all 14,042
    participation: str = "uniform"  # or "fedbuff" (asynchronous, buffered; Nguyen et al., 2022)
    concurrency: int | None = None  # FedBuff clients in flight (default 2 x participants)
    staleness_exponent: float = 0.5  # FedBuff weight (1 + staleness)^-exponent
    links: tuple[str, ...] = ()  # per-client networks ("UP/DOWN" Mbps), cycled by client id
    links_seed: int | None = None  # shuffle the client-to-link assignment with this seed
    seed: int = 0
    threads: int = 1
    keep_blobs: bool = True
    ecolora: EcoLoRAConfig | None = None
    extra: dict = field(default_factory=dict)

    @property
    def method_label(self) -> str:
        """``fedit`` or ``fedit+ecolora``."""
        return self.method + ("+ecolora" if self.ecolora else "")

    def validate(self) -> None:
        """Refuse impossible settings before any work starts (and resolve ``full_arc`` into ``arc_final``)."""
        if self.full_arc:
            self.arc_final = None
        checks = [
            (self.rank >= 1, f"LoRA rank r={self.rank} must be >= 1"),
            (all(r >= 1 for r in self.ranks), f"all heterogeneous ranks must be >= 1, got {list(self.ranks)}"),
            (self.lora_alpha > 0, f"LoRA alpha={self.lora_alpha} must be > 0"),
            (self.n_clients >= 1, f"number of clients K={self.n_clients} must be >= 1"),
            (1 <= self.participants <= self.n_clients,
             f"participants per round N_t={self.participants} must lie in [1, K={self.n_clients}]"),
            (self.rounds >= 1, f"rounds={self.rounds} must be >= 1"),
            (self.local_steps >= 1, f"local steps={self.local_steps} must be >= 1"),
            (self.batch_size >= 1, f"batch size={self.batch_size} must be >= 1"),
            (self.max_len >= 8, f"max_len={self.max_len} must be >= 8"),
            (math.isfinite(self.lr) and self.lr > 0, f"learning rate={self.lr} must be a finite number > 0"),
            (self.alpha > 0, f"Dirichlet alpha={self.alpha} must be > 0"),
            (self.eval_every >= 1, f"eval_every={self.eval_every} must be >= 1"),
            (self.threads >= 1, f"threads={self.threads} must be >= 1"),
            (len(self.target_modules) > 0, "at least one LoRA target module is needed"),
        ]
        from fl_core.evaluate import BENCHMARKS

        unknown = set(self.evals or ()) - set(BENCHMARKS)
        checks.append((not unknown, f"unknown evaluation(s) {sorted(unknown)}; choose from {', '.join(BENCHMARKS)}"))
        checks.append((self.mmlu_subset is None or self.mmlu_subset >= 1, f"mmlu_subset={self.mmlu_subset} must be >= 1"))
        if self.participation not in ("uniform", "fedbuff"):
            checks.append((False, f"unknown participation {self.participation!r}; choose uniform or fedbuff"))
        if self.participation == "uniform":
            given = (("--concurrency", self.concurrency), ("--links", self.links or None),
                     ("--links-seed", self.links_seed))
            fedbuff_only = [name for name, value in given if value is not None]
            checks.append((not fedbuff_only, f"{', '.join(fedbuff_only)} only apply with --participation fedbuff "
                                             "(uniform participation has no arrival order); drop them or use fedbuff"))
        if self.participation == "fedbuff":
            conc = self.concurrency or 2 * self.participants
            checks.append((self.participants <= conc <= self.n_clients,
                           f"FedBuff concurrency {conc} must lie in [buffer size {self.participants}, K={self.n_clients}]"))
            checks.append((bool(self.links), "FedBuff needs per-client links (--links) to decide arrival order"))
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        from fl_core.data.partition import get_partitioner
        from fl_core.methods import get_method
        from fl_core.objectives import OBJECTIVES

        method = get_method(self.method)
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"unknown objective {self.objective!r}; choose one of {', '.join(OBJECTIVES)}")
        if self.objective not in method.objectives:
            raise ConfigError(f"method {self.method!r} does not support objective {self.objective!r}")
        get_partitioner(self.partition)
        if self.ecolora is not None:
            self.ecolora.validate(self.participants)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        eco = data.pop("ecolora", None)
        for key in ("target_modules", "ranks", "links", "evals"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        known = {f for f in cls.__dataclass_fields__}
        cfg = cls(**{k: v for k, v in data.items() if k in known})
        if eco and "dense_fallback" not in eco:  # written before these options: keep its message sizes
            eco = {"raw_position_bits": 32, "dense_fallback": False, **eco}
        cfg.ecolora = EcoLoRAConfig(**eco) if eco else None
        return cfg
