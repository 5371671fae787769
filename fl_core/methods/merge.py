"""Merging updates into low-precision base weights without accumulating their rounding.

A method that merges the global update into the base weights every round (FLoRA) would,
with a bfloat16 base, round ``W + B A`` to 8 mantissa bits each round: an update smaller
than half a unit in the last place of ``W`` vanishes, and the errors of successive rounds
add up. :class:`Merger` keeps, for each merged weight ``W`` (bf16/fp16), the float32
residual ``R = W_exact - W`` of its last rounding, so the merged weight is held to float32
precision as ``W + R``; each merge computes ``W_exact = W + R + delta`` in float32, stores
its rounding in ``W`` (what the forward pass uses) and the new residual in ``R``.

The residuals cost 4 bytes per merged element (4.3 GB for Llama-2-7B's q,v projections), so
they live in file-backed memory maps in a private temporary folder: the kernel may page
them out, and they are only touched during a merge. A float32 base needs no residual.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch


class Merger:
    """Float32-exact merging into weights of any dtype; one residual per weight name."""

    def __init__(self) -> None:
        self._folder: tempfile.TemporaryDirectory | None = None
        self.residuals: dict[str, torch.Tensor] = {}

    def residual(self, name: str, weight: torch.Tensor) -> torch.Tensor:
        """The float32 residual of ``weight`` (zero until its first merge), file-backed on the CPU."""
        if name not in self.residuals:
            if self._folder is None:
                self._folder = tempfile.TemporaryDirectory(prefix="netbench-merge-")
            path = Path(self._folder.name) / f"{len(self.residuals)}.f32"
            flat = torch.from_file(str(path), shared=True, size=weight.numel(), dtype=torch.float32)
            self.residuals[name] = flat.view(weight.shape)  # a new file reads as zeros
        return self.residuals[name]

    @torch.no_grad()
    def add(self, name: str, weight: torch.Tensor, delta: torch.Tensor) -> None:
        """``weight += delta`` with the sum kept to float32 precision across calls."""
        delta = delta.to(device=weight.device, dtype=torch.float32)
        if weight.dtype == torch.float32:
            weight.add_(delta)
            return
        residual = self.residual(name, weight)
        exact = weight.float() + residual.to(weight.device) + delta
        weight.copy_(exact)
        residual.copy_((exact - weight.float()).cpu())

    @torch.no_grad()
    def exact(self, name: str, weight: torch.Tensor) -> torch.Tensor:
        """The merged weight to float32 precision, ``W + R`` (a new tensor)."""
        if weight.dtype == torch.float32 or name not in self.residuals:
            return weight.float().clone()
        return weight.float() + self.residuals[name].to(weight.device)

    @torch.no_grad()
    def restore(self, name: str, weight: torch.Tensor, exact: torch.Tensor) -> None:
        """Set ``weight`` (and its residual) from a float32 merged weight (a checkpoint)."""
        weight.copy_(exact.to(weight.device))
        if weight.dtype != torch.float32:
            self.residual(name, weight).copy_(exact.float().cpu() - weight.float().cpu())
