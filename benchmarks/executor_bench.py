"""Round wall time of ``--executor ray --workers N`` against ``local``, Ray's start-up cost, memory per worker.

Trains the same run twice (default model SmolLM2-135M, 1 torch thread per client) and
times every dispatch of clients (downloads, local training, uploads, staging: the part of
a round an executor runs; evaluation and checkpoint are the driver's either way). Usage:

    python benchmarks/executor_bench.py [--model smollm2-135m] [--participants 2] [--rounds 3] [--workers 2]

Prints a markdown table; numbers go to BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from fl_core.run import loop
from fl_core.run.config import RunConfig
from fl_core.executors.local import LocalExecutor
from fl_core.rundir.reader import read_run


def _timed(cls):
    """``cls`` whose ``start`` and ``run`` record their wall times."""

    class Timed(cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.start_s, self.round_s = 0.0, []

        def start(self, ctx):
            t0 = time.perf_counter()
            super().start(ctx)
            self.start_s = time.perf_counter() - t0

        def run(self, ctx, round_idx, jobs):
            t0 = time.perf_counter()
            out = super().run(ctx, round_idx, jobs)
            self.round_s.append(time.perf_counter() - t0)
            return out

    return Timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--participants", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--local-steps", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="netbench-exec-bench-"))
    shutil.rmtree(root, ignore_errors=True)
    cfg = dict(model=args.model, n_clients=20, participants=args.participants, rounds=args.rounds,
               local_steps=args.local_steps, per_category=100, eval_examples=8, eval_every=args.rounds,
               arc_subset=0, arc_final=0, device="cpu", threads=1)

    local = _timed(LocalExecutor)()
    t0 = time.perf_counter()
    loop.train(RunConfig(**cfg), root / "local", progress=False, executor=local)
    local_wall = time.perf_counter() - t0
    local_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    import ray

    from fl_core.executors.ray_actors import RayExecutor

    t0 = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    init_s = time.perf_counter() - t0
    remote = _timed(RayExecutor)(workers=args.workers, keep_workers=True)
    t0 = time.perf_counter()
    loop.train(RunConfig(**cfg), root / "ray", progress=False, executor=remote)
    ray_wall = time.perf_counter() - t0
    workers = remote.peak_memory()
    ray.shutdown()

    a, b = read_run(root / "local").rounds, read_run(root / "ray").rounds
    same = a["uplink_sha256"].tolist() == b["uplink_sha256"].tolist()
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    print(f"model {args.model}, N_t={args.participants}, {args.local_steps} local steps, {args.rounds} rounds, "
          f"1 torch thread per client; uploads identical: {same}\n")
    print("| executor | round wall s (mean) | rounds s | run wall s | start-up s | client compute_s (mean) |")
    print("|---|---|---|---|---|---|")
    print(f"| local | {mean(local.round_s):.2f} | {', '.join(f'{x:.2f}' for x in local.round_s)} | {local_wall:.1f} | "
          f"- | {a['compute_s'].mean():.2f} |")
    print(f"| ray, {args.workers} workers | {mean(remote.round_s):.2f} | "
          f"{', '.join(f'{x:.2f}' for x in remote.round_s)} | {ray_wall:.1f} | "
          f"ray.init {init_s:.1f} + actors {remote.start_s:.1f} | {b['compute_s'].mean():.2f} |")
    worker_mb = ", ".join(f"{w['peak_rss_bytes'] / 2**20:.0f}" for w in workers)
    print(f"\nspeed-up of a round: {mean(local.round_s) / mean(remote.round_s):.2f}x; "
          f"peak RSS: local process {local_peak:.0f} MB, Ray workers {worker_mb} MB")


if __name__ == "__main__":
    main()
