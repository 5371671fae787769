"""Memory a base model needs and memory a device has: one estimate for shape builds and Ray workers."""
from __future__ import annotations

import os

import torch

#: estimated resident memory beyond the base weights while training a LoRA on them (the interpreter and
#: libraries, adapter and optimiser state, activations of short sequences). Measured on this machine:
#: Llama-2-7B bf16, 1 x 64 tokens with checkpointing: 14.3 GB peak RSS for 13.5 GB of weights (+0.8 GB);
#: SmolLM2-135M fp32, 4 x 128 tokens without: 2.3 GB for 0.54 GB (+1.8 GB); tiny-llama: 0.5 GB
TRAINING_OVERHEAD_BYTES = 1 << 30


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
