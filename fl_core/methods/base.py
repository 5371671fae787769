"""The strategy every method implements (Flower-style verbs over flat adapter vectors).

A method says what each client receives (``download_vector``), how a client turns it into
its starting adapter (``client_start``), what it sends back (``upload_vector``) and how the
server aggregates what it decoded (``aggregate``). The transport (dense, or EcoLoRA)
turns those vectors into real messages; the round loop is shared by all methods.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from peft import LoraConfig, get_peft_model

from fl_core.adapter import Layout
from fl_core.client_state import ClientState
from fl_core.config import RunConfig
from fl_core.errors import ModelError
from fl_core.model import BaseModel


@dataclass
class Upload:
    """One client's contribution as the server decoded it."""

    client: int
    vector: torch.Tensor
    weight: float
    covered: torch.Tensor | None = None  # bool mask of entries the client sent; None = all


def masked_weighted_average(previous: torch.Tensor, uploads: list[Upload]) -> torch.Tensor:
    """Eq. 2 generalised: per entry, the sample-weighted mean over the uploads covering it.

    Entries no upload covers keep ``previous``; with full coverage this is FedAvg.
    """
    num = torch.zeros_like(previous)
    den = torch.zeros_like(previous)
    for u in uploads:
        w = torch.full_like(previous, u.weight) if u.covered is None else u.covered.float() * u.weight
        num += w * u.vector
        den += w
    return torch.where(den > 0, num / den.clamp_min(1e-30), previous)


class Method:
    """FedIT (Zhang et al., 2024): FedAvg over LoRA A and B, sample-weighted."""

    name = "fedit"
    exchanged_kinds = "AB"  # what travels
    trained_kinds = "AB"  # what the local optimiser updates
    composes_with_ecolora = True
    objectives = ("sft", "dpo")  # local objectives the method supports

    def __init__(self, cfg: RunConfig, base: BaseModel) -> None:
        self.cfg = cfg
        self.base = base
        self.model = self.build_model()
        self.params = dict(self.model.named_parameters())
        self.layout = Layout.from_state(self.params, self.exchanged_kinds)
        if self.layout.numel == 0:
            raise ModelError(f"no LoRA parameters were injected for target modules {list(cfg.target_modules)}")
        self.global_vector = self.layout.flatten(self.params)
        self.initial_vector = self.global_vector.clone()

    def lora_config(self, rank: int) -> LoraConfig:
        """peft LoRA configuration for one rank (dropout 0: deterministic resumable runs)."""
        return LoraConfig(
            r=rank, lora_alpha=self.cfg.lora_alpha * rank / self.cfg.rank, lora_dropout=0.0,
            target_modules=list(self.cfg.target_modules), bias="none", task_type="CAUSAL_LM",
        )

    def build_model(self) -> torch.nn.Module:
        """Inject LoRA with a seeded, shared initialisation (every client starts from the same A)."""
        torch.manual_seed(self.cfg.seed)
        try:
            model = get_peft_model(self.base.model, self.lora_config(self.cfg.rank))
        except ValueError as exc:
            raise ModelError(f"cannot inject LoRA: {str(exc).splitlines()[0]}") from None
        for name, p in model.named_parameters():
            p.requires_grad_(any(f".lora_{k}." in name for k in self.trained_kinds))
        return model

    # -- model access -------------------------------------------------------------------
    def set_vector(self, vector: torch.Tensor, layout: Layout | None = None) -> None:
        """Copy a flat vector into the model's parameters."""
        with torch.no_grad():
            for name, t in (layout or self.layout).unflatten(vector).items():
                self.params[name].copy_(t)

    def get_vector(self, layout: Layout | None = None) -> torch.Tensor:
        """The model's current exchanged parameters as a flat vector."""
        return (layout or self.layout).flatten(self.params)

    def trainable(self) -> list[torch.nn.Parameter]:
        """Parameters the local optimiser updates."""
        return [p for p in self.model.parameters() if p.requires_grad]

    @property
    def label(self) -> str:
        """Name carried in message headers, e.g. ``fedit+ecolora``."""
        return self.cfg.method_label

    def download_layout(self, client: int) -> Layout:
        """Layout of what ``client`` receives."""
        return self.layout

    def upload_layout(self, client: int) -> Layout:
        """Layout of what ``client`` sends."""
        return self.layout

    # -- the verbs ------------------------------------------------------------------------
    def download_vector(self, client: int) -> torch.Tensor:
        """What the server sends ``client`` this round (the global adapter)."""
        return self.global_vector

    def client_start(self, client: int, received: torch.Tensor, state: ClientState, round_idx: int) -> None:
        """Load the received adapter as the client's starting point."""
        self.set_vector(received)

    def upload_vector(self, client: int) -> torch.Tensor:
        """What the client sends after local training (its adapter)."""
        return self.get_vector()

    def client_finish(self, client: int, state: ClientState) -> None:
        """Keep whatever the method needs in the client's persistent state (nothing for FedIT)."""

    def server_reference(self, client: int) -> torch.Tensor:
        """The vector the server adds a client's decoded update to (EcoLoRA uploads updates)."""
        return self.global_vector

    def aggregate(self, uploads: list[Upload]) -> None:
        """Sample-weighted average of the decoded uploads (Eq. 2 with full or segment coverage)."""
        self.global_vector = masked_weighted_average(self.global_vector, uploads)

    def server_state(self) -> dict[str, torch.Tensor]:
        """Server-side tensors to checkpoint."""
        return {"global": self.global_vector}

    def load_server_state(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`server_state`."""
        self.global_vector = state["global"]

    def load_global(self) -> None:
        """Put the global adapter into the model (for evaluation)."""
        self.set_vector(self.global_vector)

    def client_rank(self, client: int) -> int:
        """LoRA rank a client trains with."""
        return self.cfg.rank

    # -- hooks for methods that need more than the vectors ----------------------------------
    def bind_federation(self, federation) -> None:
        """Called once by the loop after the method is built: the run's ``Federation`` (its
        per-client category histograms are CE-LoRA's privacy-preserving data summary)."""

    def make_ecolora_transport(self, cfg, state_dir, completed_round: int = -1):
        """The EcoLoRA transport for this method (FLoRA's stacked downloads need their own)."""
        from fl_core.methods.ecolora import EcoLoRATransport

        return EcoLoRATransport(self, cfg, state_dir, completed_round)
