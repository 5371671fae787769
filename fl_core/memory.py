"""Memory a base model needs and memory a device has: one estimate for shape builds and Ray workers."""
from __future__ import annotations

import os

import torch

#: estimated resident memory beyond the base weights while training a LoRA on them (activations of
#: short sequences with checkpointing, adapter and optimiser state, the interpreter and libraries);
#: measured: SmolLM2-135M fp32 workers 2.3-2.4 GB (0.54 GB of weights), Llama-2-7B bf16 14.3 GB (13.5 GB)
TRAINING_OVERHEAD_BYTES = 2 << 30


def available_memory_bytes(device: torch.device) -> int:
    """Memory a new base model can use now: free GPU memory, or the host's ``MemAvailable``."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def training_bytes(weight_bytes: int) -> int:
    """Estimated memory to train a LoRA on a base whose weights take ``weight_bytes``."""
    return weight_bytes + TRAINING_OVERHEAD_BYTES


def model_training_bytes(model: torch.nn.Module) -> int:
    """:func:`training_bytes` of a built model (its parameters, tied ones once)."""
    return training_bytes(sum(p.numel() * p.element_size() for p in model.parameters()))


def gib(nbytes: float) -> str:
    """``14.6 GiB``."""
    return f"{nbytes / 2**30:.1f} GiB"
