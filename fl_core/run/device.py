"""Where a run computes and in which precision: ``--device`` and ``--dtype`` resolved once.

One code path serves the CPU and accelerators: the base model and each batch go to
:attr:`Compute.device`, the frozen base weights are kept in :attr:`Compute.dtype`
(LoRA parameters and the optimiser state stay float32, peft's adapter autocast), and
every measured interval reads the clock through :meth:`Compute.now`, which waits for
the device's queued work first (CUDA kernels run asynchronously, so an unsynchronised
clock would time the launch, not the work). Exchanged vectors are flattened on the
device and moved to the CPU once (:meth:`fl_core.model.adapter.Layout.flatten`); the codecs
only ever see CPU tensors.
"""
from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from fl_core.errors import ConfigError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda", "cuda:N")
#: ``--dtype`` names (each is the name of a torch dtype); checked without importing torch
DTYPES = ("float32", "bfloat16", "float16")


def check_device_spec(spec: str) -> None:
    """Refuse a malformed ``--device`` before anything loads (availability is checked by :func:`resolve`)."""
    if spec in ("auto", "cpu", "cuda"):
        return
    head, _, index = spec.partition(":")
    if head != "cuda" or not index.isdigit():
        raise ConfigError(f"unknown device {spec!r}; choose auto, cpu, cuda or cuda:N")


def check_dtype(name: str) -> None:
    """Refuse an unknown ``--dtype`` name (without importing torch: refusals come before heavy imports)."""
    if name not in DTYPES:
        raise ConfigError(f"unknown dtype {name!r} for the base weights; choose one of {', '.join(DTYPES)}")


def check_precision(device_type: str, dtype: str) -> None:
    """Refuse float16 base weights on CUDA: training here has no loss scaling, so gradients through
    float16 activations underflow (bfloat16 has float32's range and needs none)."""
    if device_type == "cuda" and dtype == "float16":
        raise ConfigError("--dtype float16 on CUDA trains without loss scaling (gradients through float16 "
                          "activations underflow to zero); use --dtype bfloat16")


def _cpu_name() -> str:
    name = platform.processor() or platform.machine() or "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return name


@dataclass(frozen=True)
class Compute:
    """A resolved device and base-weight dtype."""

    device: torch.device
    dtype: torch.dtype

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    @cached_property
    def name(self) -> str:
        """Human name of the device, e.g. ``NVIDIA H200`` or the CPU model."""
        if self.device.type == "cuda":
            import torch

            return torch.cuda.get_device_name(self.device)
        return _cpu_name()

    def synchronize(self) -> None:
        """Wait for the work queued on the device (a no-op on the CPU)."""
        if self.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)

    def now(self) -> float:
        """``time.perf_counter()`` once the device has finished its queued work."""
        self.synchronize()
        return time.perf_counter()

    def peak_memory_bytes(self) -> int | None:
        """Peak accelerator memory allocated so far (None on the CPU)."""
        if self.device.type == "cuda":
            import torch

            return int(torch.cuda.max_memory_allocated(self.device))
        return None

    def describe(self) -> dict:
        """What ``run.json`` records under ``compute``."""
        return {"device": str(self.device), "device_name": self.name, "dtype": self.dtype_name}


def resolve(device: str = "auto", dtype: str = "float32") -> Compute:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; ``cuda``/``cuda:N`` must exist.

    Raises :class:`ConfigError` with one line that says what is missing.
    """
    import torch

    check_device_spec(device)
    check_dtype(dtype)
    torch_dtype = getattr(torch, dtype)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA support" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise ConfigError(f"--device {device}: CUDA is not available ({why}, torch {torch.__version__}); "
                              "use --device cpu or auto")
        check_precision("cuda", dtype)
        resolved = torch.device(device if ":" in device else "cuda:0")
        if resolved.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) visible")
        return Compute(resolved, torch_dtype)
    return Compute(torch.device("cpu"), torch_dtype)


def resolve_driver(device: str, dtype: str, remote_clients: bool) -> Compute:
    """Where the process that runs the server computes. With the clients trained elsewhere
    (``--executor ray``), a driver that sees no GPU serves ``--device cuda`` from its CPU:
    the actors decide their own device (:func:`actor_device`)."""
    import torch

    check_device_spec(device)
    if remote_clients and device.startswith("cuda") and not torch.cuda.is_available():
        return Compute(torch.device("cpu"), check_dtype(dtype))
    return resolve(device, dtype)


def actor_device(device: str, cluster_gpus: int) -> str:
    """The device a Ray actor trains on, from ``--device`` and the GPUs the cluster reports (not the
    driver's): ``cuda`` (Ray makes the actor's GPU its only visible one) or ``cpu``."""
    check_device_spec(device)
    if device.startswith("cuda"):
        if cluster_gpus < 1:
            raise ConfigError(f"--device {device} with --executor ray: the Ray cluster reports no GPUs; "
                              "use --device cpu or auto, or join a cluster with GPUs (--ray-address)")
        return "cuda"
    return "cuda" if device == "auto" and cluster_gpus >= 1 else "cpu"


def model_device(model: torch.nn.Module) -> torch.device:
    """The device a model's parameters live on (where its inputs must go)."""
    return next(model.parameters()).device


def to_device(batch: dict[str, torch.Tensor], model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A collated batch moved to the model's device (a no-op on the CPU)."""
    device = model_device(model)
    return {k: v.to(device) for k, v in batch.items()}
