"""Regenerate docs/ECOLORA.md's measured Tables 1-3 with one command.

Trains every run the three tables compare (``netbench train``), replays the Table 3 runs on
the 1/5 Mbps preset (``netbench sweep``) and prints ``netbench table --shape table1|2|3``,
writing each table as CSV beside the runs:

    PYTHONPATH=$PWD python benchmarks/ecolora_tables.py --out /tmp/ecolora_tables

The defaults are the doc's setting: the default model (SmolLM2-135M), K = 20 clients,
N_t = 5 per round, 3 rounds x 2 local steps; DPO with r = 8, lr 5e-4; Table 3 to held-out
loss <= 2.9. ``--model``, ``--rounds``, ``--local-steps`` and ``--only`` run a reduced
configuration (e.g. ``--model tiny-llama``). Existing run directories are kept and reused
(delete ``--out`` to start again). Each step is a ``netbench`` subprocess; a failed one stops
the script with its exit status.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

#: Table 1: (run name, train flags); every method with and without EcoLoRA.
TABLE1 = [(m.replace("+", "-"), ["--method", m]) for m in
          ("fedit", "fedit+ecolora", "flora", "flora+ecolora", "ffa-lora", "ffa-lora+ecolora")]
#: Table 2: DPO with and without EcoLoRA (the paper's r = 8, alpha 16, lr 5e-4).
_DPO = ["--objective", "dpo", "--rank", "8", "--lora-alpha", "16", "--lr", "5e-4"]
TABLE2 = [("dpo", ["--method", "fedit", *_DPO]), ("dpo-ecolora", ["--method", "fedit+ecolora", *_DPO])]
#: Table 3: EcoLoRA's ablations on FedIT. The fixed k ("same budget") is the mean k that the
#: adaptive run ``abl-full`` recorded (:func:`recorded_mean_k`), filled in once that run exists.
_ECO = ["--method", "fedit+ecolora"]
FIXED_K = "{abl-full mean k}"
TABLE3 = [("abl-full", _ECO), ("abl-no-rr", [*_ECO, "--no-round-robin"]), ("abl-no-sparsify", [*_ECO, "--no-sparsify"]),
          ("abl-fixed-k", [*_ECO, "--fixed-k", FIXED_K]),
          ("abl-no-encode", [*_ECO, "--no-encode", "--no-dense-fallback"])]
TABLES = {"table1": TABLE1, "table2": TABLE2, "table3": TABLE3}


def _netbench(args: list[str]) -> None:
    """Run ``python -m harness ARGS`` (the ``netbench`` CLI); exit with its status if it fails."""
    command = [sys.executable, "-m", "harness", *args]
    print("+ netbench " + " ".join(args), flush=True)
    status = subprocess.call(command)
    if status != 0:
        sys.exit(status)


def recorded_mean_k(run: Path) -> str:
    """The mean of k_A and k_B over every upload ``run`` recorded (``rounds.csv``), to 2 decimals."""
    import csv

    with (run / "rounds.csv").open() as f:
        ks = [(float(r["k_a"]) + float(r["k_b"])) / 2 for r in csv.DictReader(f) if r.get("k_a")]
    if not ks:
        sys.exit(f"{run}/rounds.csv records no k: train abl-full with EcoLoRA first")
    return f"{sum(ks) / len(ks):.2f}"


def main(argv: list[str] | None = None) -> int:
    """Train, replay and tabulate; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs, replay and table CSVs")
    parser.add_argument("--model", help="model to train (default: netbench's default model)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--local-steps", type=int, default=2)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--participants", type=int, default=5)
    parser.add_argument("--target", type=float, default=2.9, help="Table 3's held-out loss target")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", nargs="*", choices=list(TABLES), help="only these tables")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    common = ["--clients", str(args.clients), "--participants", str(args.participants), "--rounds", str(args.rounds),
              "--local-steps", str(args.local_steps), "--threads", str(args.threads)]
    if args.model:
        common += ["--model", args.model]
    runs = args.out / "runs"
    for table in args.only or list(TABLES):
        names = []
        for name, flags in TABLES[table]:
            run = runs / name
            flags = [recorded_mean_k(runs / "abl-full") if f == FIXED_K else f for f in flags]
            if not (run / "rounds.csv").exists():
                _netbench(["train", *flags, *common, "--out", str(run)])
            names.append(str(run))
        extra = []
        if table == "table3":
            replay = args.out / "replay-1-5"
            _netbench(["sweep", *names, "--scenario", "1/5", "--out", str(replay)])
            extra = ["--timing", str(replay / "timing.csv"), "--target", str(args.target)]
        _netbench(["table", *names, "--shape", table, *extra, "--out", str(args.out / f"{table}.csv")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
