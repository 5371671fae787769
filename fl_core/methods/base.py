"""The strategy every method implements (Flower's Strategy/FedAvg split) and the single-adapter family.

:class:`Method` is abstract: it owns what every method shares — LoRA injection with a
seeded initialisation, parameter naming (:func:`fl_core.model.adapter.lora_param`), the model's
flat vectors, the server's round counter and its checkpoint — and declares the verbs a
concrete strategy implements: what each client receives (``download_vector``), how a
client turns it into its starting adapter (``client_start``), what it sends back
(``upload_vector``), what the server adds a decoded update to (``server_reference``) and
how the server aggregates (``aggregate``). The transport turns those vectors into real
messages; a schedule (:mod:`fl_core.schedules`) drives the rounds.

What a method supports (objectives, schedules, EcoLoRA composition and download policy,
typed settings, remote clients) is declared on its card in :data:`fl_core.methods.METHODS`
(:class:`fl_core.cards.MethodCard`), checked once, before any model load, by
:func:`fl_core.run.capabilities.check`, and copied onto the class when the class is defined.

:class:`SingleAdapterMethod` is the family with one shared global adapter vector; its
verbs are FedAvg (FedIT is this class, named).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from peft import LoraConfig, get_peft_model

from fl_core.model.adapter import DEFAULT_ADAPTER, Layout, lora_kind
from fl_core.rundir.client_state import ClientState
from fl_core.errors import ConfigError, ModelError
from fl_core.model.base import BaseModel
from fl_core.transports.messages import Upload
from fl_core.methods.aggregate import masked_weighted_average


class Method(ABC):
    """An abstract federated LoRA strategy over flat adapter vectors."""

    name: ClassVar[str]
    exchanged_kinds: ClassVar[str] = "AB"  # what travels
    trained_kinds: ClassVar[str] = "AB"  # what the local optimiser updates
    # declared on the card (fl_core.cards.MethodCard), copied here by __init_subclass__
    objectives: ClassVar[tuple[str, ...]]
    schedules: ClassVar[tuple[str, ...] | None]
    composes_with_ecolora: ClassVar[bool]
    ecolora_download: ClassVar[str]
    config_type: ClassVar[type | None] = None
    why_not: ClassVar[str]
    remote_clients: ClassVar[bool]
    remote_clients_reason: ClassVar[str]
    reads: ClassVar[tuple[str, ...]]

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        from fl_core.methods import METHODS

        card = METHODS.get(cls.__dict__.get("name"))
        if card is not None and card.impl in (cls, f"{cls.__module__}:{cls.__qualname__}"):
            card.apply(cls)

    def __init__(self, cfg, base: BaseModel) -> None:
        from fl_core.methods import method_card

        if (reason := method_card(self.name).unsupported(cfg)) is not None:
            raise ConfigError(reason)
        self.cfg = cfg
        self.base = base
        self.settings = cfg.settings_of(self.name, self.config_type) if self.config_type else None
        self.round = 0  # aggregations done so far = the round the server is in
        adapters = self.adapter_ranks()
        self.model = self.build_model(adapters)
        self.params = dict(self.model.named_parameters())
        self.set_trainable(next(iter(adapters)) if len(adapters) == 1 else None)

    # -- LoRA injection -------------------------------------------------------------------
    def adapter_ranks(self) -> dict[str, int]:
        """peft adapter name -> rank of every adapter to inject (one, by default)."""
        return {DEFAULT_ADAPTER: self.cfg.rank}

    def lora_config(self, rank: int) -> LoraConfig:
        """peft LoRA configuration for one rank (dropout 0: deterministic resumable runs).

        All ranks share one scaling ``s = lora_alpha / cfg.rank``.
        """
        return LoraConfig(
            r=rank, lora_alpha=self.cfg.lora_alpha * rank / self.cfg.rank, lora_dropout=0.0,
            target_modules=list(self.cfg.target_modules), bias="none", task_type="CAUSAL_LM",
        )

    def build_model(self, adapters: dict[str, int]) -> torch.nn.Module:
        """Inject LoRA adapters with a seeded, shared initialisation (every client starts from the same A)."""
        torch.manual_seed(self.cfg.seed)
        (first, rank), *rest = adapters.items()
        try:
            model = get_peft_model(self.base.model, self.lora_config(rank), adapter_name=first)
            for name, r in rest:
                model.add_adapter(name, self.lora_config(r))
        except ValueError as exc:
            raise ModelError(f"cannot inject LoRA: {str(exc).splitlines()[0]}") from None
        return model

    def set_trainable(self, adapter: str | None) -> None:
        """Only the ``trained_kinds`` factors of ``adapter`` get gradients (None: nothing does)."""
        for n, p in self.params.items():
            p.requires_grad_(adapter is not None and f".{adapter}." in n and lora_kind(n) in tuple(self.trained_kinds))

    def check_layouts(self, *layouts: Layout) -> None:
        """Refuse target modules that injected nothing."""
        if any(layout.numel == 0 for layout in layouts):
            raise ModelError(f"no LoRA parameters were injected for target modules {list(self.cfg.target_modules)}")

    # -- model access -----------------------------------------------------------------------
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

    def client_rank(self, client: int) -> int:
        """LoRA rank a client trains with."""
        return self.cfg.rank

    def download_layout(self, client: int) -> Layout:
        """Layout of what ``client`` receives."""
        return self.layout

    def upload_layout(self, client: int) -> Layout:
        """Layout of what ``client`` sends."""
        return self.layout

    # -- the verbs ----------------------------------------------------------------------------
    @abstractmethod
    def download_vector(self, client: int) -> torch.Tensor:
        """What the server sends ``client`` this round."""

    @abstractmethod
    def client_start(self, client: int, received: torch.Tensor, state: ClientState, round_idx: int) -> None:
        """Turn what the client received into its starting adapter."""

    @abstractmethod
    def upload_vector(self, client: int) -> torch.Tensor:
        """What the client sends after local training."""

    def client_finish(self, client: int, state: ClientState) -> None:
        """Keep whatever the method needs in the client's persistent state (nothing by default)."""

    @abstractmethod
    def server_reference(self, client: int) -> torch.Tensor:
        """The vector the server adds a client's decoded update to (EcoLoRA uploads updates)."""

    @abstractmethod
    def aggregate(self, uploads: list[Upload]) -> None:
        """Fold the round's decoded uploads into the server's state."""

    @abstractmethod
    def load_global(self) -> None:
        """Put the global model into ``self.model`` (for evaluation)."""

    # -- checkpoint ---------------------------------------------------------------------------
    def server_state(self) -> dict[str, torch.Tensor]:
        """Server-side tensors to checkpoint."""
        return {"round": torch.tensor(self.round)}

    def load_server_state(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`server_state`."""
        if "round" in state:
            self.round = int(state["round"])

    def check_round(self, round_idx: int) -> None:
        """The loop's round and the server's own count of aggregations must agree."""
        if round_idx != self.round:
            raise RuntimeError(f"{self.name}: round {round_idx} started after {self.round} server aggregations")

    # -- hooks --------------------------------------------------------------------------------
    def bind_federation(self, federation) -> None:
        """Called once after the method is built: the run's ``Federation`` (its per-client category
        histograms are CE-LoRA's privacy-preserving data summary)."""


class SingleAdapterMethod(Method):
    """One shared global adapter vector, FedAvg-aggregated (sample-weighted, Eq. 2 with coverage)."""

    def __init__(self, cfg, base: BaseModel) -> None:
        super().__init__(cfg, base)
        self.layout = Layout.from_state(self.params, self.exchanged_kinds)
        self.check_layouts(self.layout)
        self.global_vector = self.layout.flatten(self.params)
        self.initial_vector = self.global_vector.clone()

    def download_vector(self, client: int) -> torch.Tensor:
        """The global adapter."""
        return self.global_vector

    def client_start(self, client: int, received: torch.Tensor, state: ClientState, round_idx: int) -> None:
        """Load the received adapter as the client's starting point."""
        self.set_vector(received)

    def upload_vector(self, client: int) -> torch.Tensor:
        """The client's adapter after local training."""
        return self.get_vector()

    def server_reference(self, client: int) -> torch.Tensor:
        return self.global_vector

    def aggregate(self, uploads: list[Upload]) -> None:
        """Sample-weighted average of the decoded uploads (Eq. 2 with full or segment coverage)."""
        self.global_vector = masked_weighted_average(self.global_vector, uploads)
        self.round += 1

    def load_global(self) -> None:
        self.set_vector(self.global_vector)

    def server_state(self) -> dict[str, torch.Tensor]:
        return {**super().server_state(), "global": self.global_vector}

    def load_server_state(self, state: dict[str, torch.Tensor]) -> None:
        super().load_server_state(state)
        self.global_vector = state["global"]
