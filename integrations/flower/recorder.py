"""The server side's record of a Flower run, written as a netbench run directory.

:class:`FlowerRecorder` collects one row per (server round, client) of train traffic in
``rounds.csv`` (the rows ``netbench replay`` and ``sweep`` replay) and one row per evaluate
exchange in ``flower_evaluate.csv`` (evaluate traffic is its own table: a FedAvg round is
train then evaluate, two round trips that a single replayed download/compute/upload row
cannot hold; its totals are in ``run.json``). Every file is written atomically after each
exchange, so an interrupted run leaves complete rounds behind.

``uplink_bytes``/``downlink_bytes`` hold one chosen size (:data:`~integrations.flower.sizes.MEANINGS`;
default ``objects``, what Flower 1.42's Fleet API moves); every size is kept beside them as
``up_<size>_bytes``/``down_<size>_bytes``.
"""
from __future__ import annotations

import os
import platform
from pathlib import Path

import pandas as pd

from fl_core.rundir import atomic
from fl_core.rundir.writer import RunWriter
from fl_core.rundir.layout import sha256
from integrations.flower.errors import FlowerRecordError, require_flwr
from integrations.flower.sizes import MEANINGS, SIZES, MessageSizes

#: ``run.json`` ``blobs`` value of a run whose blobs are Flower's own protobuf messages (not netbench frames).
FLOWER_BLOBS = "flower-protobuf"
EVALUATE_FILE = "flower_evaluate.csv"
SCRATCH = "scratch"  # Flower's home and Ray's session folders while the recorder runs


class FlowerRecorder:
    """Rows and metadata of one recorded Flower run; ``out`` must not hold a run yet.

    ``size`` picks which size is ``uplink_bytes``/``downlink_bytes``; ``keep_blobs`` keeps each
    message's protobuf bytes (``message_to_proto(m).SerializeToString()``) under ``blobs/``,
    marked in run.json as Flower's own format; ``compute`` (``{"device", "device_name", "dtype"}``)
    says where the ClientApps computed, when the caller knows.
    """

    def __init__(self, out: str | os.PathLike, app_name: str, *, size: str = "objects", keep_blobs: bool = False,
                 compute: dict | None = None, config: dict | None = None) -> None:
        self.flwr_version = require_flwr().__version__
        if size not in SIZES:
            raise FlowerRecordError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
        self.out = atomic.check_out_dir(out)
        if (self.out / "run.json").exists():
            raise FlowerRecordError(f"{self.out} already holds a run (run.json); choose a new --out")
        self.app_name, self.size, self.keep_blobs = app_name, size, keep_blobs
        self.compute, self.config = compute, dict(config or {})
        self.writer = RunWriter(self.out, keep_blobs=keep_blobs)
        self.evaluations: list[dict] = []
        self.failures: list[str] = []
        self.started = False
        self.error: BaseException | None = None

    @property
    def scratch(self) -> Path:
        """Where Flower's home folder and Ray's temporary files go while the run lasts."""
        return self.out / SCRATCH

    # -- rows ---------------------------------------------------------------------------------
    def _row(self, round_idx: int, client: int, down: MessageSizes, up: MessageSizes) -> dict:
        return {"round": round_idx, "client": client, "uplink_bytes": getattr(up, self.size),
                "downlink_bytes": getattr(down, self.size), **down.as_row("down"), **up.as_row("up")}

    def add_train(self, round_idx: int, exchanges: list[dict]) -> None:
        """One server round's train exchanges (``client, compute_s, down, up``, optional ``samples``,
        ``train_loss``, ``down_blob``, ``up_blob``), in reply order; rewrites rounds.csv."""
        self._start()
        if not exchanges:  # every reply was an error: the round has no transfer to replay
            return
        rows = []
        for position, ex in enumerate(exchanges):
            row = {**self._row(round_idx, ex["client"], ex["down"], ex["up"]), "position": position,
                   "compute_s": ex["compute_s"]}
            for key in ("samples", "train_loss"):
                if ex.get(key) is not None:
                    row[key] = ex[key]
            self._blobs(round_idx, ex, row)
            rows.append(row)
        self.writer.add_round(rows)

    def add_evaluate(self, round_idx: int, exchanges: list[dict]) -> None:
        """One server round's evaluate exchanges; rewrites flower_evaluate.csv and eval.csv."""
        self._start()
        if not exchanges:
            return
        rows = [{**self._row(round_idx, ex["client"], ex["down"], ex["up"]), "compute_s": ex["compute_s"],
                 **({"samples": ex["samples"]} if ex.get("samples") is not None else {}),
                 **({"eval_loss": ex["eval_loss"]} if ex.get("eval_loss") is not None else {})}
                for ex in exchanges]
        self.evaluations.extend(rows)
        atomic.write_frame(self.out / EVALUATE_FILE, pd.DataFrame(self.evaluations))
        losses = [(r["eval_loss"], r.get("samples", 1)) for r in rows if "eval_loss" in r]
        if losses:  # the clients' evaluation of the global model, sample-weighted (FedAvg's own aggregate)
            total = sum(n for _, n in losses)
            self.writer.add_eval({"round": round_idx, "eval_loss": sum(v * n for v, n in losses) / total,
                                  "label": "federated"})

    def failed(self, kind: str, node: int, reason: str) -> None:
        """A reply that came back as an error (the strategy drops it; nothing is recorded for it but
        the last line of its reason, e.g. a ClientApp's exception)."""
        lines = [line.strip() for line in str(reason).splitlines() if line.strip()]
        self.failures.append(f"{kind} reply of node {node}: {lines[-1] if lines else 'no reason given'}")

    def _blobs(self, round_idx: int, ex: dict, row: dict) -> None:
        if not self.keep_blobs:
            return
        for direction, key in (("down", "downlink_sha256"), ("up", "uplink_sha256")):
            data = ex[f"{direction}_blob"]
            self.writer.save_blob(round_idx, ex["client"], direction, data)
            row[key] = sha256(data)

    # -- metadata -----------------------------------------------------------------------------
    def _start(self) -> None:
        if self.started:
            return
        self.started = True
        meta = {
            "run_name": self.out.name, "method": self.app_name, "base_method": "flower", "objective": "flower",
            "schedule": "flower", "recorder": "flower", "app": self.app_name,
            "versions": {"flwr": self.flwr_version, "python": platform.python_version()},
            "config": {**self.config, "keep_blobs": self.keep_blobs},
            "blobs": FLOWER_BLOBS if self.keep_blobs else None,
            "sizes": {"uplink_bytes/downlink_bytes": self.size, **MEANINGS,
                      "not included": "Fleet RPC envelopes, gRPC/HTTP/2/TLS framing, heartbeats"},
            "client_id": "partition-id from each node's node_config",
            "rounds": "0-based: server-round - 1 (FedAvg's config['server-round'])",
            "evaluate_traffic": f"{EVALUATE_FILE}: one row per evaluate exchange; not replayed",
            "compute_source": "measured by netbench_mod around the ClientApp's call (call_next), in its process",
            "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count()},
            "status": "running",
        }
        if self.compute:
            meta["compute"] = self.compute
        self.writer.write_meta(meta)

    def close(self, error: BaseException | None = None) -> Path:
        """Finish the run directory (status, totals and any error in run.json) and
        keep the error that ended it in :attr:`error`; returns the run directory."""
        if error is None and not self.writer.rounds:
            error = FlowerRecordError(
                f"no train reply was recorded: {len(self.failures)} came back as errors (first: {self.failures[0]})"
                if self.failures else
                "the app sent no train message through the recorder's grid: an evaluate-only or query-only app "
                "has no rounds to replay (record the grid that the strategy's start() gets)")
        if self.started:
            totals = {f"{kind}_{d}link_bytes": int(sum(r[f"{d}link_bytes"] for r in rows))
                      for kind, rows in (("train", self.writer.rounds), ("evaluate", self.evaluations))
                      for d in ("up", "down")}
            self.writer.update_meta(status="failed" if error else "complete", totals=totals,
                                    failed_replies=self.failures,
                                    **({"error": str(error)} if error else {}))
        self.error = self.error or error
        return self.out
