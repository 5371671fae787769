"""What the app trains: SmolLM2-135M (the project's offline default) with a peft LoRA adapter, on a
Dirichlet partition of the shipped QA mix, with the project's own SFT loss and local loop.

Every setting mirrors a ``netbench train`` option (:meth:`Settings.run_config`), so the same
configuration can be trained by ``netbench train --method fedit`` and the two runs compared
byte for byte and second for second (docs/FLOWER.md).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from types import SimpleNamespace

import numpy as np
import torch

from fl_core.run.config import RunConfig
from fl_core.run.federation import Federation, build_federation, load_examples
from fl_core.model.base import load_base_model
from fl_core.objectives.local import local_train
from fl_core.objectives.sft import SFTObjective


@dataclass(frozen=True)
class Settings:
    """The federation and LoRA hyperparameters (names as in ``netbench train``)."""

    model: str = "smollm2-135m"
    clients: int = 4
    rounds: int = 3
    local_steps: int = 3
    batch_size: int = 2
    max_len: int = 64
    lr: float = 3e-4
    rank: int = 16
    lora_alpha: int = 32
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    alpha: float = 0.5
    per_category: int = 400
    seed: int = 0
    threads: int = 1

    def run_config(self) -> RunConfig:
        """The same configuration as a :class:`RunConfig` (FedIT, every client in every round)."""
        return RunConfig(method="fedit", model=self.model, n_clients=self.clients, participants=self.clients,
                         rounds=self.rounds, local_steps=self.local_steps, batch_size=self.batch_size,
                         max_len=self.max_len, lr=self.lr, rank=self.rank, lora_alpha=self.lora_alpha,
                         target_modules=self.target_modules, partition="dirichlet", alpha=self.alpha,
                         per_category=self.per_category, seed=self.seed, threads=self.threads, device="cpu")

    def to_dict(self) -> dict:
        """For run.json."""
        return {**asdict(self), "target_modules": list(self.target_modules)}


def lora_model(settings: Settings):
    """The base model with a seeded LoRA adapter (the same initialisation as ``netbench train``'s methods)
    and its tokenizer."""
    from peft import LoraConfig, get_peft_model

    torch.set_num_threads(settings.threads)
    base = load_base_model(settings.model, settings.seed)
    torch.manual_seed(settings.seed)
    config = LoraConfig(r=settings.rank, lora_alpha=settings.lora_alpha, lora_dropout=0.0,
                        target_modules=list(settings.target_modules), bias="none", task_type="CAUSAL_LM")
    return get_peft_model(base.model, config), base.tokenizer


def federation(settings: Settings) -> Federation:
    """Client shards of the shipped data: Dirichlet(alpha) over its source sets, seeded."""
    cfg = settings.run_config()
    return build_federation(cfg, load_examples(cfg))


def adapter_state(model) -> dict[str, torch.Tensor]:
    """The exchanged adapter: peft's LoRA state dict (A and B of every wrapped module, float32)."""
    from peft import get_peft_model_state_dict

    return {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(model).items()}


def load_adapter(model, state: dict[str, torch.Tensor]) -> None:
    """Put a received adapter into the model."""
    from peft import set_peft_model_state_dict

    set_peft_model_state_dict(model, state)


def train(model, objective: SFTObjective, items: list, settings: Settings, round_idx: int, client: int) -> float:
    """The project's local loop (fresh AdamW, seeded batches as ``netbench train`` draws them); mean loss."""
    rng = np.random.default_rng([settings.seed, 2, round_idx, client])
    trainer = SimpleNamespace(model=model, trainable=lambda: [p for p in model.parameters() if p.requires_grad])
    return local_train(trainer, objective.loss, items, settings.local_steps, settings.batch_size, settings.lr, rng)
