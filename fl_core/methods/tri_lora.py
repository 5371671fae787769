"""The tri-factor LoRA layer of CE-LoRA: ``y = W x + s * B C A x`` with a small dense r x r core C.

Built on peft's extension point for custom LoRA layers (``LoraConfig._register_custom_module``):
:class:`TriLoraLinear` is peft's own ``lora.Linear`` plus one more adapter sub-layer,
``lora_C``, listed in ``adapter_layer_names`` so that peft's adapter switching,
``requires_grad`` handling and ``disable_adapter()`` treat it like A and B. Its parameter
names contain ``.lora_C.``, so :class:`fl_core.model.adapter.Layout` gives them kind ``C``.

Initialisation (so that Delta W = 0 at the start and C still gets a gradient):
A ~ peft's default (Kaiming-uniform, bound 1/sqrt(in)), B ~ Kaiming-uniform with bound
1/sqrt(r) (nn.Linear's default), C = 0. With C = 0 the gradient of C is
s * B^T (dL/dy) (A x)^T, which is non-zero because A and B are; A and B start moving once
C has. (The alternative B = 0, C = I would give C no gradient until B moved.)
"""
from __future__ import annotations

import math
from typing import Any

import torch
from peft import LoraConfig
from peft.tuners.lora.layer import Linear as LoraLinear
from torch import nn


class TriLoraLinear(LoraLinear):
    """peft ``lora.Linear`` with Delta W = scaling * B @ C @ A."""

    adapter_layer_names = LoraLinear.adapter_layer_names + ("lora_C",)

    def update_layer(self, adapter_name: str, r: int, lora_alpha: int, config: LoraConfig, **kwargs) -> None:
        """peft's A and B, then the r x r core C (and the tri-factor initialisation)."""
        if not hasattr(self, "lora_C"):
            self.lora_C = nn.ModuleDict({})
        super().update_layer(adapter_name, r, lora_alpha, config, **kwargs)
        self.lora_C[adapter_name] = nn.Linear(r, r, bias=False)
        nn.init.kaiming_uniform_(self.lora_B[adapter_name].weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_C[adapter_name].weight)
        self._move_adapter_to_device_of_base_layer(adapter_name)
        self.set_adapter(self.active_adapters)

    def get_delta_weight(self, adapter: str) -> torch.Tensor:
        """scaling * B @ C @ A (used by peft's merge/unmerge)."""
        a = self.lora_A[adapter].weight
        b = self.lora_B[adapter].weight
        c = self.lora_C[adapter].weight
        return (b @ c @ a) * self.scaling[adapter]

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        self._check_forward_args(x, *args, **kwargs)
        if kwargs.pop("adapter_names", None) is not None:
            raise NotImplementedError("mixed-adapter batches are not supported by the tri-factor layer")
        if self.disable_adapters:
            if self.merged:
                self.unmerge()
            return self.base_layer(x, *args, **kwargs)
        result = self.base_layer(x, *args, **kwargs)
        if self.merged:
            return result
        dtype = result.dtype
        for name in self.active_adapters:
            if name not in self.lora_A:
                continue
            h = self._cast_input_dtype(x, self.lora_A[name].weight.dtype)
            h = self.lora_A[name](self.lora_dropout[name](h))
            result = result + self.lora_B[name](self.lora_C[name](h)) * self.scaling[name]
        return result.to(dtype)

    def __repr__(self) -> str:
        return "tri_lora." + super().__repr__()


def tri_lora_config(config: LoraConfig) -> LoraConfig:
    """``config`` with every targeted ``nn.Linear`` replaced by :class:`TriLoraLinear`."""
    config._register_custom_module({nn.Linear: TriLoraLinear})
    return config
