"""EcoLoRA's per-round client overhead against FedIT's local training, and peak memory of a 100-client run.

Runs real training on the default model (SmolLM2-135M) and reads the measured
``train_s``/``encode_s``/``decode_s`` columns of the run directories. Usage:

    python benchmarks/training_bench.py [--model smollm2-135m] [--rounds 3] [--out /tmp/bench]

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
from fl_core.run.config import EcoLoRAConfig, RunConfig
from fl_core.rundir.reader import read_run


def _run(cfg: RunConfig, out: Path) -> tuple[float, object]:
    t0 = time.perf_counter()
    loop.train(cfg, out, progress=False)
    return time.perf_counter() - t0, read_run(out).rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--participants", type=int, default=10)
    parser.add_argument("--local-steps", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="netbench-bench-"))
    shutil.rmtree(root, ignore_errors=True)
    common = dict(model=args.model, n_clients=args.clients, participants=args.participants, rounds=args.rounds,
                  local_steps=args.local_steps, per_category=200, eval_examples=16, eval_every=args.rounds,
                  arc_subset=0, arc_final=0, keep_blobs=False)
    rows = []
    for label, eco in (("fedit", None), ("fedit+ecolora", EcoLoRAConfig())):
        wall, r = _run(RunConfig(**common, ecolora=eco), root / label)
        rows.append((label, wall, r["train_s"].mean(), r["encode_s"].mean(), r["decode_s"].mean(),
                     r["uplink_bytes"].mean(), r["downlink_bytes"].mean()))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model {args.model}, K={args.clients}, N_t={args.participants}, {args.rounds} rounds, "
          f"{args.local_steps} local steps, 1 thread\n")
    print("| run | wall s | train s/client | encode s | decode s | (enc+dec)/train | up bytes | down bytes |")
    print("|---|---|---|---|---|---|---|---|")
    for label, wall, tr, enc, dec, up, down in rows:
        print(f"| {label} | {wall:.1f} | {tr:.2f} | {enc:.4f} | {dec:.4f} | {(enc + dec) / tr:.4f} | "
              f"{up:,.0f} | {down:,.0f} |")
    eco, fedit = rows[1], rows[0]
    extra = (eco[3] + eco[4]) - (fedit[3] + fedit[4])
    print(f"\nEcoLoRA client overhead over FedIT: {extra * 1000:.1f} ms per client-round = "
          f"{extra / fedit[2]:.2%} of FedIT's local training time ({args.local_steps} steps)")
    print(f"peak RSS of this process (both runs, {args.clients} clients each): {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
