"""The run context: a run's components, the client step, round finishing and the records.

A schedule (:mod:`fl_core.schedules`) drives rounds through four verbs:
``begin_round(t)``, ``client_steps(t, [(position, client), ...])``, ``receive(client,
upload_bytes)`` and ``finish_round(t, rows, uploads)``. Everything else — model, method,
transport, objective, federation, client store, run writer, checkpoint — lives here, built
from the config and the run directory alone.

``client_steps`` hands a dispatch of clients to the run's executor
(:mod:`fl_core.executors`): ``local`` runs :meth:`RunContext.client_step` for each in
order; ``ray`` encodes the downloads and loads the client states here and runs
:meth:`RunContext.train_client` on remote workers. ``train_client`` is the client side
alone: from the download message and the client's state it returns a
:class:`ClientResult` of plain data (the round-table row, the download and upload bytes)
and the client's new state, touching neither the client store nor the run directory.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from fl_core.rundir.client_state import ClientState, ClientStore
from fl_core.codec.wire import Encoded
from fl_core.run.config import RunConfig
from fl_core.run.device import resolve_driver
from fl_core.evaluation.cache import cached_accuracy, cached_heldout_loss
from fl_core.evaluation.metrics import (
    DEFAULT_BENCHMARKS, HELDOUT_BATCH, heldout_loss, mc_accuracy, mc_prompt, personalised_metrics, run_benchmarks,
)
from fl_core.executors.local import LocalExecutor
from fl_core.run.federation import Federation, build_federation, load_examples
from fl_core.methods import get_method
from fl_core.model.base import adapters_disabled, load_base_model
from fl_core.objectives import get_objective
from fl_core.objectives.local import warm_up
from fl_core.rundir.checkpoint import Recorder
from fl_core.rundir.layout import RoundRow, sha256
from fl_core.rundir.writer import RunWriter
from fl_core.model.shapes import RANDOM_INIT
from fl_core.transports import make_transport
from fl_core.transports.messages import Upload

_log = logging.getLogger(__name__)


@dataclass
class ClientResult:
    """What one client's round produced: its ``rounds.csv`` row and the exact bytes both ways."""

    row: dict
    down: bytes
    up: bytes


class RunContext:
    """One training run's components and the verbs every schedule shares."""

    def __init__(self, cfg: RunConfig, out: Path, progress: bool = True, executor=None) -> None:
        """Build every component of a run from a config (checked by ``fl_core.run.capabilities.check``)
        and its run directory ``out`` (resuming from its checkpoint if it has one); ``executor``
        trains the clients (default: :class:`~fl_core.executors.local.LocalExecutor`)."""
        self.cfg, self.out, self.progress = cfg, Path(out), progress
        self.executor = executor or LocalExecutor()
        torch.set_num_threads(cfg.threads)
        self.compute = resolve_driver(cfg.device, cfg.dtype, getattr(self.executor, "remote_clients", False))
        self.base = load_base_model(cfg.model, cfg.seed, self.compute, cfg.gradient_checkpointing)
        self.federation: Federation = build_federation(cfg, load_examples(cfg))
        self.method = get_method(cfg.method)(cfg, self.base)
        self.method.bind_federation(self.federation)
        self.objective = get_objective(cfg.objective, self.base.tokenizer, cfg)
        self.recorder = Recorder(self.out)
        self.state_dir = self.recorder.state_dir
        self.completed = self.recorder.completed_round()
        self.clients = ClientStore(self.state_dir, self.completed)
        self.transport = make_transport(self.method, cfg.ecolora, self.state_dir, self.completed)
        self.writer = RunWriter(self.out, keep_blobs=cfg.keep_blobs)
        self.prepared: dict[int, list] = {}
        self.heldout = self.objective.prepare(self.federation.heldout)
        self.warmed = False  # CUDA start-up paid (fl_core.objectives.local.warm_up) before the first timed step
        self.said_skip = False  # a shape run's skipped benchmarks were named on stderr
        self.bar = None

    # -- evaluation -------------------------------------------------------------------------
    def evaluate(self, round_idx: int, arc_limit: int | None) -> dict:
        """Held-out loss, the objective's metrics and the run's benchmarks (fl_core.evaluation.metrics)."""
        self.method.load_global()
        row = {"round": round_idx, "eval_loss": self._heldout_loss(round_idx)}
        row.update(self.objective.extra_metrics(self.method.model, self.heldout))
        names = self.cfg.evals if self.cfg.evals is not None else self.default_benchmarks()
        row.update(run_benchmarks(names, heldout=self.federation.heldout, arc_limit=arc_limit,
                                  mmlu_limit=self.cfg.mmlu_subset, seed=self.cfg.seed,
                                  score=functools.partial(self._accuracy, round_idx)))
        if getattr(self.method, "personalised", False) and round_idx >= 0:
            if not hasattr(self, "heldout_by_category"):
                cats = sorted({e.category for e in self.federation.heldout})
                self.heldout_by_category = {c: self.objective.prepare(
                    [e for e in self.federation.heldout if e.category == c]) for c in cats}
            row.update(personalised_metrics(self.method, self.objective, self.federation,
                                            functools.partial(self.clients.load, staged=True),
                                            self.heldout_by_category))
        return row

    def _heldout_loss(self, round_idx: int) -> float:
        """Held-out loss of the global adapter; of the base model (round -1, SFT): cached on disk."""
        model = self.method.model
        if round_idx >= 0 or self.objective.name != "sft":
            return heldout_loss(model, self.objective, self.heldout)

        def base_only() -> float:
            with (adapters_disabled(model) if hasattr(model, "disable_adapter") else contextlib.nullcontext()):
                return heldout_loss(model, self.objective, self.heldout, HELDOUT_BATCH)

        return cached_heldout_loss(self.base, self.objective.name, self.heldout, HELDOUT_BATCH, base_only)

    def default_benchmarks(self) -> tuple[str, ...]:
        """The objective's benchmarks; none for a random-init shape (said once, on stderr)."""
        names = DEFAULT_BENCHMARKS.get(self.cfg.objective, ())
        if names and self.base.info.get("weights") == RANDOM_INIT:
            if not self.said_skip:
                _log.warning("%s has random weights: %s skipped (they would score chance); eval loss only",
                             self.cfg.model, ", ".join(names))
                self.said_skip = True
            return ()
        return names

    def _accuracy(self, round_idx: int, benchmark: str, questions: list, prompt=mc_prompt, separator: str = " ") -> float:
        """Multiple-choice accuracy of the global adapter; of the base model (round -1): cached on disk."""
        model, tokenizer = self.method.model, self.base.tokenizer
        if round_idx >= 0:
            return mc_accuracy(model, tokenizer, questions, prompt, separator)

        def base_only() -> float:
            with (adapters_disabled(model) if hasattr(model, "disable_adapter") else contextlib.nullcontext()):
                return mc_accuracy(model, tokenizer, questions, prompt, separator)

        return cached_accuracy(self.base, benchmark, questions, base_only)

    # -- one client ---------------------------------------------------------------------------
    def client_steps(self, round_idx: int, jobs: list[tuple[int, int]]) -> list[ClientResult]:
        """The ``(position, client)`` pairs of one dispatch trained by the run's executor, results in order."""
        return self.executor.run(self, round_idx, jobs)

    def client_step(self, round_idx: int, position: int, client: int) -> ClientResult:
        """Download, local training and upload of one client, its new state staged."""
        down = self.transport.download(round_idx, client)
        result, state = self.train_client(round_idx, position, client, down, self.clients.load(client))
        self.clients.stage(client, state)
        return result

    def train_client(self, round_idx: int, position: int, client: int, down: Encoded,
                     state: ClientState) -> tuple[ClientResult, ClientState]:
        """The client side of a round: decode ``down``, train, encode the upload; returns the result and
        the client's new state (what a remote worker runs: no client store, no run directory)."""
        cfg, clock = self.cfg, self.compute.now
        if self.compute.device.type == "cuda" and not self.warmed:
            warm_up(self.method, self.objective.loss, self.heldout, cfg.batch_size)
            self.warmed = True
        t0 = clock()
        self.transport.receive_download(down.data, round_idx, client, state)
        decode_s = clock() - t0
        if client not in self.prepared:
            self.prepared[client] = self.objective.prepare(self.federation.clients[client])
        items = self.prepared[client]
        rng = np.random.default_rng([cfg.seed, 2, round_idx, client])
        t0 = clock()
        loss = self.objective.train(self.method, items, cfg.local_steps, cfg.batch_size, cfg.lr, rng)
        train_s = clock() - t0
        t0 = clock()
        sent = self.transport.upload(round_idx, position, client, state)
        encode_s = clock() - t0
        self.method.client_finish(client, state)
        state.last_round = round_idx
        row = RoundRow(
            round=round_idx, client=client, position=position, segment=sent.segment,
            samples=self.federation.weight(client), local_steps=cfg.local_steps,
            train_s=train_s, encode_s=encode_s, decode_s=decode_s,
            compute_s=train_s + encode_s + decode_s, train_loss=loss,
            uplink_bytes=len(sent.encoded.data), downlink_bytes=len(down.data),
            uplink_sha256=sha256(sent.encoded.data), downlink_sha256=sha256(down.data),
            up_header_bytes=sent.encoded.header_bytes, up_position_bytes=sent.encoded.account.position_bytes,
            up_value_bytes=sent.encoded.account.value_bytes, down_header_bytes=down.header_bytes,
            down_position_bytes=down.account.position_bytes, down_value_bytes=down.account.value_bytes,
            k_a=sent.k_a, k_b=sent.k_b, rank=self.method.client_rank(client),
        ).to_dict()
        return ClientResult(row, down.data, sent.encoded.data), state

    def save_blobs(self, round_idx: int, client: int, result: ClientResult) -> None:
        """Keep both messages of a client's round (if blobs are on)."""
        self.writer.save_blob(round_idx, client, "down", result.down)
        self.writer.save_blob(round_idx, client, "up", result.up)

    def receive(self, client: int, data: bytes) -> Upload:
        """Server side: decode one upload into what the method aggregates."""
        return self.transport.receive_upload(data, client, float(self.federation.weight(client)))

    # -- rounds -------------------------------------------------------------------------------
    def begin_round(self, round_idx: int) -> None:
        """Open the staging of client and transport state for ``round_idx``."""
        self.clients.begin_round(round_idx)
        self.transport.begin_round(round_idx)

    def finish_round(self, round_idx: int, rows: list[dict], uploads: list[Upload]) -> None:
        """Aggregate, record rows and evaluation, checkpoint, then commit staged client state.

        ``rows`` are every row of the round (also of clients whose upload was not aggregated);
        the global training loss that drives EcoLoRA's k schedule averages the aggregated ones.
        """
        cfg = self.cfg
        t0 = time.perf_counter()
        self.method.aggregate(uploads)
        server_s = time.perf_counter() - t0
        used = {u.client for u in uploads}
        counted = [r for r in rows if r["client"] in used and r.get("aggregated", 1)]
        weights = np.array([r["samples"] for r in counted], dtype=float)
        if counted:  # a deadline round where nothing arrived teaches the k schedule nothing
            self.transport.end_round(round_idx, float(np.average([r["train_loss"] for r in counted], weights=weights)))
        for r in rows:
            r["server_s"] = server_s
        self.writer.add_round(rows)
        last = round_idx == cfg.rounds - 1
        if last or (round_idx + 1) % cfg.eval_every == 0:
            row = self.evaluate(round_idx, cfg.arc_final if last else cfg.arc_subset)
            self.writer.add_eval({**row, "label": "final" if last else "global"})
            if self.bar is not None:
                self.bar.set_postfix(eval_loss=f"{row['eval_loss']:.3f}")
        self.recorder.write_checkpoint(round_idx, self.method, self.transport)
        self.clients.commit()
        self.transport.commit()
        self.completed = round_idx
        if self.bar is not None:
            self.bar.update()

    # -- start and end --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the executor; write run.json and the base model's evaluation, or restore a checkpoint."""
        self.executor.start(self)
        if self.completed >= 0:
            self.recorder.restore(self.method, self.transport)
            self.writer.load_existing(self.completed + 1)
        else:
            meta = Recorder.meta(self.cfg, self.out, self.base, self.method, self.federation)
            clients = self.executor.compute_description() or self.compute.describe()
            meta["compute"] = {**clients, "gradient_checkpointing": self.cfg.gradient_checkpointing}
            self.writer.write_meta(meta)
            self.writer.add_eval({**self.evaluate(-1, self.cfg.arc_final), "label": "base"})
        self.bar = tqdm(total=self.cfg.rounds, initial=self.completed + 1, desc=f"{self.cfg.method_label} rounds",
                        disable=not self.progress)

    def close(self, **meta) -> Path:
        """Mark the run complete (with any schedule-specific metadata); returns the run directory."""
        if self.bar is not None:
            self.bar.close()
        self.executor.close()
        self.writer.update_meta(status="complete", **meta)
        return self.out
