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
