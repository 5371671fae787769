"""Figure 3 at the paper's message sizes: Llama-2-7B-shaped runs (random weights) through ns-3.

For each model shape (default ``shape:llama2-7b`` and ``shape:smollm2-135m``), trains FedIT,
FedIT w/ EcoLoRA, FFA-LoRA, FFA-LoRA w/ EcoLoRA and FLoRA w/ EcoLoRA with ``netbench train``
(one process per run, so one base model per process), K=10, N_t=5, 3 rounds, 1 local step of
1 x 64 tokens, gradient checkpointing, ``--no-blobs``; then sweeps every run through the four
presets and ``stragglers``, and FedIT and FedIT w/ EcoLoRA (``--cell-methods``) through
``wifi-home`` and ``lte-cell``. Writes, for the reference files in
``results/``:

* ``reference_paper_scale_figure3.png`` (7B) and ``reference_paper_scale_figure3_<shape>.png``;
* ``reference_paper_scale_summary.csv``: the sweep summary of every run, with ``model``;
* ``reference_paper_scale_bytes.csv``: bytes per upload and download per method, beside the
  dense size the shape implies (exchanged values x 2 + the frame's overhead);
* ``reference_paper_scale_k.csv``: EcoLoRA's k_A, k_B per round and the training loss that
  drove them (a random-init loss curve, not the paper's);
* ``reference_paper_scale_runs.csv``: wall and CPU seconds and peak RSS of each training run.

Finished runs and sweep cells are reused; a run left incomplete is resumed. The machine was
shared: wall seconds are inflated, CPU seconds less so. Usage::

    python benchmarks/paper_scale.py [--models shape:llama2-7b,shape:smollm2-135m] [--methods ...]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

METHODS = ("fedit", "fedit+ecolora", "ffa-lora", "ffa-lora+ecolora", "flora+ecolora")
SCENARIO_NAMES = ("wifi-home", "lte-cell", "stragglers")
#: Engines of the shared-access cells (swept with ``--cell-methods`` only).
CELL_ENGINES = ("wifi", "lte")
TRAIN_ARGS = ("--clients", "10", "--participants", "5", "--rounds", "3", "--local-steps", "1", "--batch-size", "1",
              "--max-len", "64", "--eval-examples", "4", "--eval-every", "3", "--per-category", "40",
              "--gradient-checkpointing", "--no-blobs", "--no-progress", "--threads", "1")


def short(model: str) -> str:
    """``shape:llama2-7b`` -> ``llama2-7b``."""
    return model.removeprefix("shape:")


def train(model: str, method: str, out: Path, log) -> dict:
    """Train (or resume, or reuse) one run; returns its wall/CPU seconds and peak RSS."""
    meta = out / "run.json"
    if meta.is_file() and json.loads(meta.read_text()).get("status") == "complete":
        return {}
    if (out / "state" / "checkpoint.json").is_file():
        args = ["--resume", str(out), "--no-progress"]
    else:
        if out.exists():
            import shutil

            shutil.rmtree(out)
        args = ["--model", model, "--method", method, *TRAIN_ARGS, "--out", str(out)]
    timing = out.parent / f".{out.name}.time"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(timing), sys.executable, "-m", "harness", "train", *args]
    t0 = time.time()
    subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall, user, system, rss_kib = timing.read_text().split()[-4:]
    print(f"  {model} {method}: {time.time() - t0:.0f} s", flush=True)
    return {"model": model, "method": method, "wall_s": float(wall), "cpu_s": float(user) + float(system),
            "peak_rss_gib": int(rss_kib) / 2**20}


def bytes_rows(model: str, runs: list[Path]) -> list[dict]:
    """Bytes per message per method, and the dense size the shape implies."""
    from fl_core.codec.wire import overhead_bytes
    from fl_core.rundir.reader import read_run

    rows = []
    for path in runs:
        run = read_run(path)
        r = run.rounds
        values = run.meta["adapter"]["exchanged_elements"]
        rows.append({"model": model, "method": run.method, "path": str(path), "exchanged_values": values,
                     "dense_fp16_bytes": 2 * values + overhead_bytes(run.meta["base_method"]),
                     "upload_bytes_mean": r["uplink_bytes"].mean(), "upload_bytes_min": r["uplink_bytes"].min(),
                     "upload_bytes_max": r["uplink_bytes"].max(), "download_bytes_mean": r["downlink_bytes"].mean(),
                     "train_s_mean": r["train_s"].mean(), "train_s_median": r["train_s"].median()})
    return rows


def main() -> None:
    """Train, sweep, plot and tabulate (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="shape:llama2-7b,shape:smollm2-135m")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/paper_scale"))
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--skip-scenarios", action="store_true", help="Only the four presets.")
    parser.add_argument("--cell-methods", default="fedit,fedit+ecolora",
                        help="Methods swept through the WiFi and LTE cells (whose packet-level cost grows with the "
                             "bytes: FLoRA's 67 MB dense stack per download); every method gets the other scenarios.")
    args = parser.parse_args()

    from fl_core.rundir import atomic
    from harness.plot import figure3, k_trajectories
    from harness.scenario import load_scenario
    from harness.sweep import run_sweep
    from fl_core.rundir.reader import read_run
    from ns3_scenarios.network import PRESETS

    extra = [] if args.skip_scenarios else [load_scenario(n) for n in SCENARIO_NAMES]
    scenarios = list(PRESETS.values()) + [s for s in extra if s.engine not in CELL_ENGINES]
    cells = [s for s in extra if s.engine in CELL_ENGINES]
    summaries, byte_rows, k_frames, run_rows = [], [], [], []
    for model in args.models.split(","):
        folder = args.runs_dir / short(model)
        folder.mkdir(parents=True, exist_ok=True)
        runs = []
        with open(folder / "train.log", "a") as log:
            for method in args.methods.split(","):
                try:
                    row = train(model, method, folder / method, log)
                except subprocess.CalledProcessError as exc:
                    print(f"  {model} {method}: failed ({exc.returncode}); see {folder / 'train.log'}", flush=True)
                    continue
                if row:
                    run_rows.append(row)
                runs.append(folder / method)
        cell_runs = [r for r in runs if r.name in args.cell_methods.split(",")]
        print(f"sweeping {len(runs)} runs of {model} x {len(scenarios)} scenarios, "
              f"{len(cell_runs)} x {len(cells)} cells", flush=True)
        result = run_sweep(runs, scenarios, folder / "sweep", jobs=1, progress=False)
        parts, failures = [result.summary], len(result.failures)
        if cells and cell_runs:
            in_cells = run_sweep(cell_runs, cells, folder / "sweep-cells", jobs=1, progress=False)
            parts.append(in_cells.summary)
            failures += len(in_cells.failures)
        summary = pd.concat(parts, ignore_index=True).assign(model=model)
        summaries.append(summary)
        name = "reference_paper_scale_figure3" + ("" if short(model) == "llama2-7b" else f"_{short(model)}") + ".png"
        figure3(summary, args.results / name,
                title=f"{model}, weights random-init (shape only): K=10, N_t=5, 3 rounds, 1 local step")
        byte_rows += bytes_rows(model, runs)
        try:
            k_frames.append(k_trajectories([read_run(r) for r in runs]).assign(model=model))
        except Exception as exc:  # no EcoLoRA run among them
            print(f"  no k trajectory for {model}: {exc}")
        if failures:
            print(f"  {failures} sweep cells failed: see {folder}/sweep*/failures.csv", flush=True)
    atomic.write_frame(args.results / "reference_paper_scale_summary.csv", pd.concat(summaries, ignore_index=True))
    atomic.write_frame(args.results / "reference_paper_scale_bytes.csv", pd.DataFrame(byte_rows))
    if k_frames:
        atomic.write_frame(args.results / "reference_paper_scale_k.csv", pd.concat(k_frames, ignore_index=True))
    if run_rows:
        runs_csv = args.results / "reference_paper_scale_runs.csv"
        old = pd.read_csv(runs_csv) if runs_csv.is_file() else pd.DataFrame()
        atomic.write_frame(runs_csv, pd.concat([old, pd.DataFrame(run_rows)], ignore_index=True))
    print(savings(pd.concat(summaries, ignore_index=True)).to_string(index=False, float_format="{:.3g}".format))
    write_profile(pd.DataFrame(byte_rows), args.results / "reference_paper_scale_cpu_profile.toml")


def write_profile(rows: pd.DataFrame, path: Path) -> None:
    """The measured CPU step times as a ``--compute-profile`` file: per shape, the median of ``train_s`` /
    ``local_steps`` over its dense FedIT run's client rounds (1 x 64 tokens per step)."""
    import platform

    from fl_core.rundir import atomic
    from fl_core.run.device import resolve
    from harness.compute_profile import run_key
    from fl_core.rundir.reader import read_run

    lines = [f'origin = "benchmarks/paper_scale.py: median train_s / local_steps of FedIT client rounds on {resolve("cpu").name}, '
             f'1 torch thread, a shared 2-vCPU machine ({platform.platform(terse=True)})"']
    for r in rows[rows["method"] == "fedit"].itertuples():
        run = read_run(r.path)
        shape, tokens = run_key(run.meta)
        per_step = (run.rounds["train_s"] / run.rounds["local_steps"]).median()
        lines += ["", "[[step]]", f'shape = "{shape}"', f"tokens = {tokens}", 'device = "cpu"',
                  f"seconds = {per_step:.3f}"]
    atomic.write_text(path, "\n".join(lines) + "\n")


def savings(summary: pd.DataFrame, baseline: str = "fedit", method: str = "fedit+ecolora") -> pd.DataFrame:
    """Per model and scenario: FedIT's and FedIT w/ EcoLoRA's total and communication seconds, and the saving."""
    rows = []
    for (model, scenario), s in summary.groupby(["model", "scenario"], sort=False):
        by = s.set_index("method")
        if baseline not in by.index or method not in by.index:
            continue
        b, m = by.loc[baseline], by.loc[method]
        rows.append({"model": model, "scenario": scenario, "fedit_total_s": b["total_s"],
                     "fedit_comm_s": b["communication_s"], "eco_total_s": m["total_s"],
                     "eco_comm_s": m["communication_s"],
                     "comm_saved_pct": 100 * (1 - m["communication_s"] / b["communication_s"]),
                     "total_saved_pct": 100 * (1 - m["total_s"] / b["total_s"])})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    main()
