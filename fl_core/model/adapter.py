"""The exchanged adapter as one flat vector: which tensors travel, in which order, and its fingerprint.

Every message carries a slice of such a vector; the layout fingerprint in the header
lets the receiver check that sender and receiver agree on names, shapes and order.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import torch

from fl_core.errors import CodecError


DEFAULT_ADAPTER = "default"  # peft's name of a model's only adapter


def adapter_name(rank: int) -> str:
    """peft adapter name of a rank in a multi-rank model (``r64``)."""
    return f"r{rank}"


def lora_param(prefix: str, kind: str, adapter: str) -> str:
    """The peft parameter name of one LoRA factor: ``<module>.lora_<kind>.<adapter>.weight``."""
    return f"{prefix}.lora_{kind}.{adapter}.weight"


@dataclass(frozen=True)
class TensorSpec:
    """One exchanged tensor: its parameter name, shape and LoRA factor kind (``A``, ``B`` or ``C``)."""

    name: str
    shape: tuple[int, ...]
    kind: str

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def lora_kind(name: str) -> str | None:
    """Factor kind of a peft LoRA parameter name, or None for anything else."""
    if ".lora_A." in name:
        return "A"
    if ".lora_B." in name:
        return "B"
    if ".lora_C." in name:
        return "C"
    return None


@dataclass(frozen=True)
class Layout:
    """An ordered list of tensors flattened into one float32 vector."""

    tensors: tuple[TensorSpec, ...]

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], kinds: str = "AB") -> "Layout":
        """Layout of the LoRA tensors of ``kinds`` in ``state`` (a state dict or named parameters)."""
        specs = [
            TensorSpec(name, tuple(t.shape), kind)
            for name, t in state.items()
            if (kind := lora_kind(name)) is not None and kind in kinds
        ]
        return cls(tuple(specs))

    @cached_property
    def numel(self) -> int:
        return sum(t.numel for t in self.tensors)

    @cached_property
    def fingerprint(self) -> bytes:
        """8 bytes of SHA-256 over names, shapes and kinds, in order."""
        text = ";".join(f"{t.name}:{'x'.join(map(str, t.shape))}:{t.kind}" for t in self.tensors)
        return hashlib.sha256(text.encode()).digest()[:8]

    @cached_property
    def kind_mask(self) -> dict[str, torch.Tensor]:
        """For each kind present, a boolean mask over the flat vector."""
        kinds = torch.cat([torch.full((t.numel,), ord(t.kind), dtype=torch.uint8) for t in self.tensors])
        return {k: kinds == ord(k) for k in {t.kind for t in self.tensors}}

    def flatten(self, state: dict[str, torch.Tensor]) -> torch.Tensor:
        """Concatenate the tensors of ``state`` in layout order into one float32 vector on the CPU.

        The tensors are joined where they live (an accelerator) and the vector crosses to the
        CPU once: encoding and aggregation only ever see CPU tensors.
        """
        if not self.tensors:  # e.g. FLoRA's stack after a round that aggregated nothing
            return torch.zeros(0)
        try:
            return torch.cat([state[t.name].detach().reshape(-1).float() for t in self.tensors]).cpu()
        except KeyError as exc:
            raise CodecError(f"adapter state lacks tensor {exc.args[0]!r} of the layout") from None

    def unflatten(self, vector: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split a flat vector back into named tensors of the layout's shapes."""
        if vector.numel() != self.numel:
            raise CodecError(f"vector has {vector.numel()} elements, layout expects {self.numel}")
        out, offset = {}, 0
        for t in self.tensors:
            out[t.name] = vector[offset : offset + t.numel].reshape(t.shape)
            offset += t.numel
        return out
