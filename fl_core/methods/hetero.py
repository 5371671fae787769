"""Shared machinery of the heterogeneous-rank methods (FLoRA, HLoRA).

One peft model carries one LoRA adapter per distinct rank in ``cfg.ranks`` (adapter
``r64``, ``r32``, ...; peft's ``add_adapter``/``set_adapter``); a client trains the
adapter of its own rank, ``cfg.ranks[client % len(cfg.ranks)]``. Every client's messages
use the layout of its rank, so the upload layout (and, for HLoRA, the download layout)
is per client. All ranks share one scaling ``s = lora_alpha / cfg.rank`` (the base
method's ``lora_config``), so ``Delta W = s * B A`` means the same thing at every rank.

Fresh local adapters are seeded per (round, client): A ~ U(-1/sqrt(in), 1/sqrt(in))
(peft's Kaiming-uniform bound), B = 0. The server knows every client's initialisation
from the seed, which is what EcoLoRA's ``server_reference`` needs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from fl_core.model.adapter import Layout, adapter_name, lora_param
from fl_core.methods.base import Method
from fl_core.model.base import BaseModel


@dataclass(frozen=True)
class Target:
    """One LoRA-wrapped base module: its peft module path and the shape of its weight."""

    prefix: str  # e.g. base_model.model.model.layers.0.self_attn.q_proj
    in_features: int
    out_features: int

    def param(self, kind: str, rank: int) -> str:
        """Parameter name of this module's ``kind`` factor in the adapter of ``rank``."""
        return lora_param(self.prefix, kind, adapter_name(rank))

    def stack_block(self, kind: str, k: int) -> str:
        """Name of the ``k``-th ``kind`` block of FLoRA's stacked download."""
        return f"{self.prefix}.lora_{kind}.stack.{k}"


class MultiRankMethod(Method):
    """A method whose clients train LoRA adapters of heterogeneous ranks."""

    def __init__(self, cfg, base: BaseModel) -> None:
        self.ranks = sorted(set(cfg.ranks), reverse=True)
        super().__init__(cfg, base)
        self.rank_layouts = {
            r: Layout.from_state({n: p for n, p in self.params.items() if f".{adapter_name(r)}." in n})
            for r in self.ranks
        }
        self.check_layouts(*self.rank_layouts.values())
        self.layout = self.rank_layouts[self.ranks[0]]  # run.json's "adapter": the largest client adapter
        self.targets = self._targets(self.layout)
        module = self.model.get_submodule(self.targets[0].prefix)
        self.scaling = float(module.scaling[adapter_name(self.ranks[0])])
        self.active: int | None = None

    # -- model ------------------------------------------------------------------------------
    def adapter_ranks(self) -> dict[str, int]:
        """One adapter per distinct rank, largest first; all frozen until :meth:`activate`."""
        return {adapter_name(r): r for r in self.ranks}

    @staticmethod
    def _targets(layout: Layout) -> list[Target]:
        targets = {}
        for t in layout.tensors:
            prefix = t.name.split(f".lora_{t.kind}.")[0]
            shape = targets.get(prefix, [0, 0])
            if t.kind == "A":
                shape[0] = t.shape[1]
            else:
                shape[1] = t.shape[0]
            targets[prefix] = shape
        return [Target(p, i, o) for p, (i, o) in targets.items()]

    def base_weight(self, target: Target) -> torch.Tensor:
        """The (frozen) base weight under a LoRA-wrapped module, ``out x in``."""
        return self.model.get_submodule(target.prefix).get_base_layer().weight

    def activate(self, rank: int) -> None:
        """Make the adapter of ``rank`` the one in the forward pass and the only trainable one."""
        if self.active != rank:
            self.model.set_adapter(adapter_name(rank))
            self.active = rank
        self.set_trainable(adapter_name(rank))

    def zero_adapters(self) -> None:
        """Set every adapter's B to zero: the LoRA path adds nothing (the global model is in the base)."""
        with torch.no_grad():
            for n, p in self.params.items():
                if ".lora_B." in n:
                    p.zero_()

    # -- ranks and layouts --------------------------------------------------------------------
    def client_rank(self, client: int) -> int:
        """``cfg.ranks`` cycled by client id."""
        return self.cfg.ranks[client % len(self.cfg.ranks)]

    def client_layout(self, client: int) -> Layout:
        """The layout of the adapter ``client`` trains."""
        return self.rank_layouts[self.client_rank(client)]

    def upload_layout(self, client: int) -> Layout:
        return self.client_layout(client)

    def upload_vector(self, client: int) -> torch.Tensor:
        return self.get_vector(self.client_layout(client))

    def init_vector(self, round_idx: int, client: int) -> torch.Tensor:
        """The seeded fresh adapter of ``client`` in ``round_idx`` (A Kaiming-uniform, B = 0)."""
        layout = self.client_layout(client)
        seed = int(np.random.SeedSequence([self.cfg.seed, 11, round_idx, client]).generate_state(1)[0])
        gen = torch.Generator().manual_seed(seed)
        parts = []
        for t in layout.tensors:
            if t.kind == "A":
                bound = 1.0 / float(t.shape[1]) ** 0.5
                parts.append(((torch.rand(t.shape, generator=gen) * 2 - 1) * bound).reshape(-1))
            else:
                parts.append(torch.zeros(t.numel))
        return torch.cat(parts)
