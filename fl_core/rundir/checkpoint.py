"""The run's records: ``run.json`` metadata and the resume checkpoint (server tensors + completed round).

The checkpoint is ``state/server.safetensors`` (``method.*`` and ``transport.*`` tensors)
and ``state/checkpoint.json`` (``completed_round``), written after a round's rows and
evaluation and before its staged client state is committed (see ``ClientStore``).
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch
from safetensors.torch import load_file

from fl_core.rundir import atomic


def versions() -> dict[str, str]:
    """Library versions a run records."""
    import peft
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
            "python": platform.python_version()}


_SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
                       torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
                       torch.uint8: "U8", torch.bool: "BOOL"}


def stream_safetensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Write ``tensors`` as a safetensors file, one tensor at a time.

    ``safetensors.torch.save_file`` first copies every tensor into one bytes object; for a
    method whose server state holds the merged base weights (FLoRA at 7B: 6.4 GB) that is a
    second copy of them in memory. This writes the same format (8-byte header length, JSON
    header, the raw little-endian data in header order) straight from each tensor's memory.
    """
    header, offset = {}, 0
    for name, t in tensors.items():
        size = t.numel() * t.element_size()
        header[name] = {"dtype": _SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for t in tensors.values():
            flat = t.detach().cpu().contiguous().reshape(-1)
            if flat.numel():
                f.write(memoryview(flat.view(torch.uint8).numpy()))


class Recorder:
    """Checkpoint and metadata of one run directory."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.state_dir = self.out / "state"

    def completed_round(self) -> int:
        """The last round whose checkpoint was written (-1: none)."""
        file = self.state_dir / "checkpoint.json"
        return json.loads(file.read_text())["completed_round"] if file.is_file() else -1

    def write_checkpoint(self, round_idx: int, method, transport) -> None:
        """Server tensors, then the round number (the commit point)."""
        tensors = {f"method.{k}": v.contiguous() for k, v in method.server_state().items()}
        tensors.update({f"transport.{k}": v.contiguous() for k, v in transport.state_dict().items()})
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_dir / "server.safetensors.tmp"
        stream_safetensors(tensors, tmp)
        tmp.replace(self.state_dir / "server.safetensors")
        atomic.write_json(self.state_dir / "checkpoint.json", {"completed_round": round_idx})

    def restore(self, method, transport) -> None:
        """Load the checkpointed server tensors into the method and the transport."""
        tensors = load_file(self.state_dir / "server.safetensors")
        method.load_server_state({k[7:]: v for k, v in tensors.items() if k.startswith("method.")})
        transport.load_state_dict({k[10:]: v for k, v in tensors.items() if k.startswith("transport.")})

    @staticmethod
    def meta(cfg, out: Path, base, method, federation) -> dict:
        """The content of a new run's ``run.json``."""
        model = base.model
        return {
            "run_name": Path(out).name, "method": cfg.method_label, "base_method": cfg.method,
            "objective": cfg.objective, "schedule": cfg.schedule, "config": cfg.to_dict(), "versions": versions(),
            "machine": {"platform": platform.platform(), "processor": platform.processor(),
                        "cpus": os.cpu_count(), "threads": cfg.threads},
            "model": {"name": base.name, "parameters": sum(p.numel() for p in model.parameters()), **base.info},
            "adapter": {"exchanged_elements": method.layout.numel, "tensors": len(method.layout.tensors),
                        "fingerprint": method.layout.fingerprint.hex()},
            "data": {"clients": len(federation.clients), "heldout": len(federation.heldout),
                     "partition": cfg.partition, "category_skew": federation.skew,
                     "categories": federation.categories,
                     "client_histograms": {str(k): v for k, v in federation.histograms.items()}},
            "compute_source": "measured on this machine (train_s + encode_s + decode_s per client)",
            "status": "running",
        }
