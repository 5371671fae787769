"""Local-step time and peak memory of one client per base-weight dtype (the figures docs/SCALE.md scales from).

Each configuration trains one client for ``--local-steps`` steps (batch 4, 128 tokens,
LoRA r=16 on q,v) in a fresh process, so the peak memory is that configuration's own.
Usage:

    python benchmarks/device_bench.py [--model smollm2-135m] [--device cpu] [--local-steps 5]

Prints a markdown table; numbers go to BENCHMARKS.md and docs/SCALE.md.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import json, resource, sys, time
import torch
from pathlib import Path
from fl_core.run import loop
from fl_core.run.config import RunConfig
from fl_core.rundir.reader import read_run
model, device, dtype, ckpt, steps, out = sys.argv[1:]
cfg = RunConfig(model=model, n_clients=4, participants=1, rounds=1, local_steps=int(steps), per_category=50,
                eval_examples=4, arc_subset=0, arc_final=0, keep_blobs=False, device=device, dtype=dtype,
                gradient_checkpointing=ckpt == "1")
t0 = time.perf_counter()
run = read_run(loop.train(cfg, Path(out), progress=False))
row = run.rounds.iloc[0]
print(json.dumps({"train_s": float(row.train_s), "encode_s": float(row.encode_s), "wall_s": time.perf_counter() - t0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "peak_device_mb": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None,
                  "parameters": run.meta["model"]["parameters"],
                  "adapter": run.meta["adapter"]["exchanged_elements"], "compute": run.meta["compute"]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--local-steps", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="netbench-device-bench-"))
    print(f"model {args.model} on {args.device}: {args.local_steps} local steps, batch 4, 128 tokens, r=16 q,v\n")
    print("| dtype | checkpointing | s / local step | encode s | peak RSS MB | peak GPU MB | parameters | adapter elements |")
    print("|---|---|---|---|---|---|---|---|")
    for dtype, ckpt in (("float32", "0"), ("bfloat16", "0"), ("bfloat16", "1")):
        out = root / f"{dtype}-{ckpt}"
        proc = subprocess.run([sys.executable, "-c", _CHILD, args.model, args.device, dtype, ckpt,
                               str(args.local_steps), str(out)], capture_output=True, text=True, check=True)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"| {dtype} | {'on' if ckpt == '1' else 'off'} | {r['train_s'] / args.local_steps:.3f} | "
              f"{r['encode_s']:.3f} | {r['peak_rss_mb']:.0f} | {r['peak_device_mb'] or 0:.0f} | {r['parameters']:,} | {r['adapter']:,} |")
    print(f"\ndevice: {r['compute']['device']} ({r['compute']['device_name']})")


if __name__ == "__main__":
    main()
