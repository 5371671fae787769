"""The federated round loop shared by every method, writing the run directory as it goes.

Each round: sample participants; for each, the server encodes its download, the client
decodes it, trains ``local_steps`` steps, encodes its upload; the server decodes and
aggregates only what it decoded. Rows, blobs, evaluation and a checkpoint are written
atomically at the end of every round, so ``resume`` continues from the last whole round
with the same bytes an uninterrupted run would have produced.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from fl_core import atomic
from fl_core.client_state import ClientStore
from fl_core.config import RunConfig
from fl_core.errors import RunDirError
from fl_core.eval_cache import cached_accuracy
from fl_core.evaluate import DEFAULT_BENCHMARKS, heldout_loss, mc_accuracy, mc_prompt, run_benchmarks
from fl_core.federation import Federation, build_federation, load_examples, sample_participants
from fl_core.lock import folder_lock
from fl_core.methods import get_method
from fl_core.methods.base import Method
from fl_core.model import load_base_model
from fl_core.objectives import get_objective
from fl_core.rundir import RunWriter, sha256


def _versions() -> dict[str, str]:
    import peft
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
            "python": platform.python_version()}


class Trainer:
    """One training run: model, method, transport, data, and the run directory."""

    def __init__(self, cfg: RunConfig, out: Path, progress: bool = True) -> None:
        cfg.validate()
        self.cfg, self.out, self.progress = cfg, Path(out), progress
        torch.set_num_threads(cfg.threads)
        self.base = load_base_model(cfg.model, cfg.seed)
        self.federation: Federation = build_federation(cfg, load_examples(cfg))
        self.method: Method = get_method(cfg.method)(cfg, self.base)
        self.method.bind_federation(self.federation)
        self.objective = get_objective(cfg.objective, self.base.tokenizer, cfg)
        self.state_dir = self.out / "state"
        self.completed = self._read_checkpoint()
        self.clients = ClientStore(self.state_dir, self.completed)
        self.transport = self._make_transport()
        self.writer = RunWriter(self.out, keep_blobs=cfg.keep_blobs)
        self.prepared: dict[int, list] = {}
        self.heldout = self.objective.prepare(self.federation.heldout)

    def _make_transport(self):
        from fl_core.transport import DenseTransport

        if self.cfg.ecolora is None:
            return DenseTransport(self.method)
        return self.method.make_ecolora_transport(self.cfg.ecolora, self.state_dir, self.completed)

    # -- checkpoint -------------------------------------------------------------------------
    def _read_checkpoint(self) -> int:
        file = self.state_dir / "checkpoint.json"
        return json.loads(file.read_text())["completed_round"] if file.is_file() else -1

    def _write_checkpoint(self, round_idx: int) -> None:
        tensors = {f"method.{k}": v.contiguous() for k, v in self.method.server_state().items()}
        tensors.update({f"transport.{k}": v.contiguous() for k, v in self.transport.state_dict().items()})
        tmp = self.state_dir / "server.safetensors.tmp"
        save_file(tensors, tmp)
        tmp.replace(self.state_dir / "server.safetensors")
        atomic.write_json(self.state_dir / "checkpoint.json", {"completed_round": round_idx})

    def _restore(self) -> None:
        tensors = load_file(self.state_dir / "server.safetensors")
        self.method.load_server_state({k[7:]: v for k, v in tensors.items() if k.startswith("method.")})
        self.transport.load_state_dict({k[10:]: v for k, v in tensors.items() if k.startswith("transport.")})
        self.writer.load_existing(self.completed + 1)

    # -- meta ---------------------------------------------------------------------------------
    def _meta(self) -> dict:
        model = self.base.model
        return {
            "run_name": self.out.name, "method": self.cfg.method_label, "base_method": self.cfg.method,
            "objective": self.cfg.objective, "config": self.cfg.to_dict(), "versions": _versions(),
            "machine": {"platform": platform.platform(), "processor": platform.processor(),
                        "cpus": os.cpu_count(), "threads": self.cfg.threads},
            "model": {"name": self.base.name, "parameters": sum(p.numel() for p in model.parameters())},
            "adapter": {"exchanged_elements": self.method.layout.numel, "tensors": len(self.method.layout.tensors),
                        "fingerprint": self.method.layout.fingerprint.hex()},
            "data": {"clients": len(self.federation.clients), "heldout": len(self.federation.heldout),
                     "partition": self.cfg.partition, "category_skew": self.federation.skew,
                     "categories": self.federation.categories,
                     "client_histograms": {str(k): v for k, v in self.federation.histograms.items()}},
            "compute_source": "measured on this machine (train_s + encode_s + decode_s per client)",
            "status": "running",
        }

    # -- evaluation -------------------------------------------------------------------------
    def evaluate(self, round_idx: int, arc_limit: int | None) -> dict:
        """Held-out loss, the objective's metrics and the run's benchmarks (fl_core.evaluate)."""
        self.method.load_global()
        row = {"round": round_idx, "eval_loss": heldout_loss(self.method.model, self.objective, self.heldout)}
        row.update(self.objective.extra_metrics(self.method.model, self.heldout))
        names = self.cfg.evals if self.cfg.evals is not None else DEFAULT_BENCHMARKS.get(self.cfg.objective, ())
        row.update(run_benchmarks(names, heldout=self.federation.heldout, arc_limit=arc_limit,
                                  mmlu_limit=self.cfg.mmlu_subset, seed=self.cfg.seed,
                                  score=functools.partial(self._accuracy, round_idx)))
        return row

    def _accuracy(self, round_idx: int, benchmark: str, questions: list, prompt=mc_prompt, separator: str = " ") -> float:
        """Multiple-choice accuracy of the global adapter; of the base model (round -1): cached on disk."""
        model, tokenizer = self.method.model, self.base.tokenizer
        if round_idx >= 0:
            return mc_accuracy(model, tokenizer, questions, prompt, separator)

        def base_only() -> float:
            with (model.disable_adapter() if hasattr(model, "disable_adapter") else contextlib.nullcontext()):
                return mc_accuracy(model, tokenizer, questions, prompt, separator)

        return cached_accuracy(self.base, benchmark, questions, base_only)

    # -- one client ---------------------------------------------------------------------------
    def client_work(self, round_idx: int, position: int, client: int) -> tuple[dict, bytes, bytes]:
        """Download, local training and upload of one client: its row, download and upload bytes."""
        cfg = self.cfg
        down = self.transport.download(round_idx, client)
        state = self.clients.load(client)
        t0 = time.perf_counter()
        self.transport.receive_download(down.data, round_idx, client, state)
        decode_s = time.perf_counter() - t0
        if client not in self.prepared:
            self.prepared[client] = self.objective.prepare(self.federation.clients[client])
        items = self.prepared[client]
        rng = np.random.default_rng([cfg.seed, 2, round_idx, client])
        t0 = time.perf_counter()
        loss = self.objective.train(self.method, items, cfg.local_steps, cfg.batch_size, cfg.lr, rng)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        sent = self.transport.upload(round_idx, position, client, state)
        encode_s = time.perf_counter() - t0
        self.method.client_finish(client, state)
        state.last_round = round_idx
        self.clients.stage(client, state)
        row = {
            "round": round_idx, "client": client, "position": position, "segment": sent.segment,
            "samples": self.federation.weight(client), "local_steps": cfg.local_steps,
            "train_s": train_s, "encode_s": encode_s, "decode_s": decode_s,
            "compute_s": train_s + encode_s + decode_s, "train_loss": loss,
            "uplink_bytes": len(sent.encoded.data), "downlink_bytes": len(down.data),
            "uplink_sha256": sha256(sent.encoded.data), "downlink_sha256": sha256(down.data),
            "up_header_bytes": sent.encoded.header_bytes, "up_position_bytes": sent.encoded.account.position_bytes,
            "up_value_bytes": sent.encoded.account.value_bytes, "down_header_bytes": down.header_bytes,
            "down_position_bytes": down.account.position_bytes, "down_value_bytes": down.account.value_bytes,
            "k_a": sent.k_a, "k_b": sent.k_b, "rank": self.method.client_rank(client),
        }
        return row, down.data, sent.encoded.data

    def save_blobs(self, round_idx: int, client: int, down: bytes, up: bytes) -> None:
        """Keep both messages of a client's round (if blobs are on)."""
        self.writer.save_blob(round_idx, client, "down", down)
        self.writer.save_blob(round_idx, client, "up", up)

    def receive(self, client: int, data: bytes):
        """Server side: decode one upload into what the method aggregates."""
        return self.transport.receive_upload(data, client, float(self.federation.weight(client)))

    def finish_round(self, round_idx: int, rows: list[dict], uploads: list) -> None:
        """Aggregate, record rows and evaluation, checkpoint, then commit staged client state."""
        cfg = self.cfg
        t0 = time.perf_counter()
        self.method.aggregate(uploads)
        server_s = time.perf_counter() - t0
        weights = np.array([r["samples"] for r in rows], dtype=float)
        mean_loss = float(np.average([r["train_loss"] for r in rows], weights=weights))
        self.transport.end_round(round_idx, mean_loss)
        for r in rows:
            r["server_s"] = server_s
        self.writer.add_round(rows)
        last = round_idx == cfg.rounds - 1
        if last or (round_idx + 1) % cfg.eval_every == 0:
            row = self.evaluate(round_idx, cfg.arc_final if last else cfg.arc_subset)
            self.writer.add_eval({**row, "label": "final" if last else "global"})
            self.bar.set_postfix(eval_loss=f"{row['eval_loss']:.3f}")
        self._write_checkpoint(round_idx)
        self.clients.commit()
        self.transport.commit()
        self.completed = round_idx

    def begin_round(self, round_idx: int) -> None:
        """Open the staging of client and transport state for ``round_idx``."""
        self.clients.begin_round(round_idx)
        self.transport.begin_round(round_idx)

    # -- the loop -----------------------------------------------------------------------------
    def start(self) -> None:
        """Write run.json and the base model's evaluation, or restore a checkpoint."""
        if self.completed >= 0:
            self._restore()
        else:
            self.writer.write_meta(self._meta())
            self.writer.add_eval({**self.evaluate(-1, self.cfg.arc_final), "label": "base"})
        self.bar = tqdm(total=self.cfg.rounds, initial=self.completed + 1, desc=f"{self.cfg.method_label} rounds",
                        disable=not self.progress)

    def run(self) -> Path:
        """Train all remaining synchronous rounds; returns the run directory."""
        self.start()
        for t in range(self.completed + 1, self.cfg.rounds):
            self.begin_round(t)
            rows, uploads = [], []
            for position, client in enumerate(sample_participants(self.cfg, t)):
                row, down, up = self.client_work(t, position, client)
                self.save_blobs(t, client, down, up)
                rows.append(row)
                uploads.append(self.receive(client, up))
            self.finish_round(t, rows, uploads)
            self.bar.update()
        self.bar.close()
        self.writer.update_meta(status="complete")
        return self.out


def train(cfg: RunConfig, out: str | Path, progress: bool = True, arrivals=None) -> Path:
    """Start a new run in ``out`` (which must not hold a run already).

    ``arrivals`` (a :class:`fl_core.fedbuff.ArrivalModel`) is required for FedBuff participation.
    """
    out = Path(out)
    with folder_lock(out, "train"):
        if (out / "run.json").exists():
            raise RunDirError(f"{out} already holds a run; use --resume to continue it or choose another --out")
        trainer = Trainer(cfg, out, progress)
        if cfg.participation == "fedbuff":
            from fl_core.fedbuff import run_fedbuff

            return run_fedbuff(trainer, arrivals)
        return trainer.run()


def resume(out: str | Path, progress: bool = True) -> Path:
    """Continue an interrupted run from its last completed round."""
    out = Path(out)
    meta_file = out / "run.json"
    if not meta_file.is_file():
        raise RunDirError(f"{out} is not a run directory (no run.json): nothing to resume")
    with folder_lock(out, "train --resume"):
        meta = json.loads(meta_file.read_text())
        if meta.get("status") == "complete":
            raise RunDirError(f"{out} is already complete")
        if meta["config"].get("participation") == "fedbuff":
            raise RunDirError(f"{out} is an asynchronous (FedBuff) run; those cannot be resumed, start it again")
        return Trainer(RunConfig.from_dict(meta["config"]), out, progress).run()
