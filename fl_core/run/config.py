"""Run configuration: the paper's experimental setup as one validated dataclass (Appendix A defaults).

Each field is declared once with :func:`fl_core.run.settings.setting` (default, help text,
flag, range); ``netbench train`` generates its options from that metadata. A component's
own hyperparameters live in its typed config beside it (``EcoLoRAConfig`` in
:mod:`fl_core.transports.ecolora_config`, ``CELoRAConfig`` and ``DPOConfig`` in
``*_config`` modules beside CE-LoRA and DPO, ``DeadlineConfig`` beside the deadline schedule); ``RunConfig.settings`` holds
their values by component name and :meth:`RunConfig.settings_of` returns them typed and
validated. Combinations of components are checked by :func:`fl_core.run.capabilities.check`.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass

from fl_core.errors import ConfigError
from fl_core.run.settings import check_limits, setting
from fl_core.transports.ecolora_config import EcoLoRAConfig

__all__ = ["EcoLoRAConfig", "RunConfig", "SCHEDULE_OF_PARTICIPATION"]

#: ``participation`` values (the run.json field) -> schedule names (``fl_core.schedules.SCHEDULES``).
SCHEDULE_OF_PARTICIPATION = {"uniform": "sync", "fedbuff": "fedbuff", "deadline": "deadline"}


@dataclass
class RunConfig:
    """Everything that determines a training run."""

    method: str = setting("fedit", "fedit | ffa-lora | flora | hlora | celora, optionally '+ecolora' "
                          "(e.g. fedit+ecolora).", choices="methods")
    objective: str = setting("sft", "Local objective: sft (instruction tuning) or dpo (preference alignment).",
                             choices="objectives")
    model: str = setting("smollm2-135m", "smollm2-135m (offline default), tiny-llama (tests), a local HF folder "
                         "or a hub id.")
    dataset: str = setting("embedded", "'embedded' (offline QA mix) or a Dolly/Alpaca JSON(L) file "
                           "(or preference JSONL for dpo).")
    partition: str = setting("dirichlet", "How the data is split over clients.", choices="partitions")
    alpha: float = setting(0.5, "Dirichlet concentration (Appendix A: 0.5).", min=0, min_open=True)
    n_clients: int = setting(100, "K, clients in total.", flag="--clients", min=1)
    participants: int = setting(10, "N_t, clients aggregated per round (FedBuff: the buffer size).", min=1)
    rounds: int = setting(40, "Global rounds (FedBuff: buffered aggregations).", min=1)
    local_steps: int = setting(10, "Local optimiser steps per client and round.", min=1)
    batch_size: int = setting(4, "Examples per local step.", min=1)
    max_len: int = setting(128, "Tokens per example.", min=8)
    lr: float = setting(3e-4, "Local AdamW learning rate.", min=0, min_open=True)
    rank: int = setting(16, "LoRA rank r.", min=1)
    lora_alpha: int = setting(32, "LoRA alpha (scaling s = alpha / r).", min=1)
    target_modules: tuple[str, ...] = setting(("q_proj", "v_proj"), "Comma-separated module names LoRA wraps.",
                                              kind="csv")
    # FLoRA/HLoRA heterogeneous ranks, cycled
    ranks: tuple[int, ...] = setting((64, 32, 16, 16, 8, 8, 4, 4, 4, 4),
                                     "Heterogeneous client ranks for flora/hlora, cycled by client id.", kind="ints")
    per_category: int | None = setting(400, "Embedded data: examples per source set.", min=1)
    eval_examples: int = setting(64, "Held-out examples for the evaluation loss.", min=1)
    eval_every: int = setting(5, "Evaluate the global adapter every this many rounds (and after the last).", min=1)
    arc_subset: int | None = setting(100, "ARC questions per level during training (0 = skip).", min=0)
    arc_final: int | None = setting(100, "ARC questions per level scored at the end and for the base model (a seeded "
                                    "subset; 0 = skip).", min=0)
    full_arc: bool = setting(False, "Score on the full ARC validation sets (570 + 299 questions) at the end: the "
                             "paper's Table 1 metric. The base model's scores are cached in ~/.cache/fedlora-netbench, "
                             "so only the trained adapter's evaluation costs time.", flag="--full-arc")
    evals: tuple[str, ...] | None = setting(None, "Benchmarks, comma-separated from arc, qa, arc-template, mmlu "
                                            "(default: arc,qa for sft; mmlu for dpo, the paper's Table 2).", kind="csv")
    mmlu_subset: int | None = setting(200, "MMLU questions per evaluation (a seeded subset), or 'all' for the 14,042.",
                                      kind="count-or-all")
    participation: str = setting("uniform", "uniform sampling of N_t clients per round, asynchronous FedBuff with "
                                 "a buffer of N_t, or deadline rounds (same as --schedule).",
                                 choices=tuple(SCHEDULE_OF_PARTICIPATION), registered=True)
    concurrency: int | None = setting(None, "FedBuff: clients in flight (default 2 N_t).", min=1)
    staleness_exponent: float = setting(0.5, "FedBuff: an update of staleness s is weighted (1+s)^-exponent.", min=0)
    links: tuple[str, ...] = setting((), "Per-client links UP/DOWN Mbps, cycled by client id (FedBuff and deadline "
                                     "arrival times), e.g. 0.2/1,5/25.", kind="links")
    links_seed: int | None = setting(None, "Draw each client's link uniformly from --links with this seed.")
    scenario: str | None = setting(None, "Scenario file or built-in name giving per-client links for the arrival "
                                   "times of FedBuff and deadline rounds (instead of --links).", cli=False)
    seed: int = setting(0, "Seed of data split, sampling, initialisation and local batches.")
    threads: int = setting(1, "torch CPU threads.", min=1)
    device: str = setting("auto", "auto (CUDA when present) | cpu | cuda | cuda:N: where the model trains.")
    dtype: str | None = setting(None, "Precision of the frozen base weights; LoRA parameters and optimiser state "
                                "stay float32 [default: bfloat16 for shape: models, else float32].",
                                choices=("float32", "bfloat16", "float16"))
    gradient_checkpointing: bool = setting(False, "Recompute activations in the backward pass (less memory, ~30% "
                                           "more compute).",
                                           flag="--gradient-checkpointing/--no-gradient-checkpointing")
    keep_blobs: bool = setting(True, "Keep every message's bytes.", flag="--blobs/--no-blobs")
    ecolora: EcoLoRAConfig | None = setting(None, cli=False)
    settings: dict = setting(factory=dict, cli=False)  # component name -> its typed config's field values

    def __post_init__(self) -> None:
        if self.dtype is None:  # a 7B shape's base never exists in float32
            self.dtype = "bfloat16" if self.model.startswith("shape:") else "float32"
        self.settings = {name: asdict(v) if dataclasses.is_dataclass(v) else dict(v)
                         for name, v in (self.settings or {}).items()}

    @property
    def method_label(self) -> str:
        """``fedit`` or ``fedit+ecolora``."""
        return self.method + ("+ecolora" if self.ecolora else "")

    @property
    def schedule(self) -> str:
        """The round schedule's name in ``fl_core.schedules.SCHEDULES``."""
        return SCHEDULE_OF_PARTICIPATION.get(self.participation, self.participation)

    def settings_of(self, component: str, config_type: type):
        """The typed config of ``component`` (defaults where ``settings`` says nothing), checked: its
        declared limits, then its own ``validate()`` if it has one (rules across its fields).

        Resolved once per distinct value: a schedule may ask every round without checking (or
        reading an availability trace) again.
        """
        values = self.settings.get(component, {})
        key = (component, config_type, json.dumps(values, sort_keys=True, default=repr))
        resolved = self.__dict__.setdefault("_resolved_settings", {})
        if key in resolved:
            return resolved[key]
        known = {f.name for f in dataclasses.fields(config_type)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown {component} setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
        typed = config_type(**values)
        check_limits(typed, prefix=f"{component}_")
        if hasattr(typed, "validate"):
            typed.validate()
        resolved[key] = typed
        return typed

    def validate(self) -> None:
        """Refuse impossible values of this config's own fields: the declared limits
        (:func:`~fl_core.run.settings.check_limits`), then the rules across fields (combinations of
        components: ``fl_core.run.capabilities.check``); resolves ``full_arc`` into ``arc_final``."""
        if self.full_arc:
            self.arc_final = None
        check_limits(self)
        checks = [  # what the declared limits cannot say: across fields, and inside tuples
            (self.participants <= self.n_clients,
             f"participants per round N_t={self.participants} must lie in [1, K={self.n_clients}]"),
            (all(r >= 1 for r in self.ranks), f"all heterogeneous ranks must be >= 1, got {list(self.ranks)}"),
            (len(self.target_modules) > 0, "at least one LoRA target module is needed"),
            (self.mmlu_subset is None or self.mmlu_subset >= 1, f"mmlu_subset={self.mmlu_subset} must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        from fl_core.run.device import check_device_spec, check_dtype, check_precision

        check_device_spec(self.device)
        check_dtype(self.dtype)
        if self.device.startswith("cuda"):
            check_precision("cuda", self.dtype)
        if self.ecolora is not None:
            self.ecolora.validate(self.participants)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunConfig":
        """Inverse of :meth:`to_dict`; also reads run.json files written before typed settings
        (``extra: {dpo_beta, celora_tau, celora_mix}``)."""
        data = dict(data)
        eco = data.pop("ecolora", None)
        settings = {k: dict(v) for k, v in (data.pop("settings", None) or {}).items()}
        for old, (component, name) in _EXTRA_KEYS.items():
            if old in (data.get("extra") or {}):
                settings.setdefault(component, {}).setdefault(name, data["extra"][old])
        for key in ("target_modules", "ranks", "links", "evals"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        known = {f for f in cls.__dataclass_fields__}
        cfg = cls(**{k: v for k, v in data.items() if k in known}, settings=settings)
        if eco and "dense_fallback" not in eco:  # written before these options: keep its message sizes
            eco = {"raw_position_bits": 32, "dense_fallback": False, **eco}
        if eco and "stack_download" not in eco:  # FLoRA w/ EcoLoRA sent the sparse offset before
            eco = {"stack_download": "offset", **eco}
        cfg.ecolora = EcoLoRAConfig(**eco) if eco else None
        return cfg


#: keys of the untyped ``extra`` dict of older run.json files -> (component, setting)
_EXTRA_KEYS = {"dpo_beta": ("dpo", "beta"), "celora_tau": ("celora", "tau"), "celora_mix": ("celora", "mix")}
