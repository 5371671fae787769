"""The local optimisation loop every objective shares."""
from __future__ import annotations

import numpy as np
import torch


def local_train(method, loss_fn, items: list, steps: int, batch_size: int, lr: float, rng: np.random.Generator) -> float:
    """``steps`` AdamW steps on batches drawn (seeded) from ``items``; returns the mean training loss.

    A fresh optimiser each round, as in FedIT/OpenFedLLM clients.
    """
    model = method.model
    model.train()
    optimizer = torch.optim.AdamW(method.trainable(), lr=lr, weight_decay=0.0)
    losses = []
    for _ in range(steps):
        picks = rng.choice(len(items), size=min(batch_size, len(items)), replace=False)
        loss = loss_fn(model, [items[i] for i in picks])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    model.eval()
    return float(np.mean(losses))


def warm_up(method, loss_fn, items: list, batch_size: int) -> None:
    """One forward and backward pass on ``items`` that changes nothing: no optimiser step, gradients
    dropped, torch's random state restored. On CUDA the first pass pays the context, cuBLAS handle and
    kernel selection start-up (seconds); run once before the first timed step, it is nobody's compute."""
    model = method.model
    devices = [d for d in {p.device for p in model.parameters()} if d.type == "cuda"]
    with torch.random.fork_rng(devices=devices):
        model.train()
        loss_fn(model, items[:batch_size]).backward()
        model.zero_grad(set_to_none=True)
        model.eval()
