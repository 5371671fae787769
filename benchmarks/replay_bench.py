"""Replay benchmark: simulated seconds per wall second, and the wall time of a Figure-3 sweep.

Writes synthetic run directories with realistic message sizes (6 methods x 40 rounds x
10 clients: FedIT 3.7 MB each way, FFA-LoRA half of it, FLoRA with heterogeneous ranks
and a stacked download, and each "w/ EcoLoRA" with sparse uploads around 0.5 MB that
differ per client and round, so the flow cache helps them least), then:

1. replays one EcoLoRA run on 1/5 Mbps with cached isolated flows and with the full star
   (``--star-rounds`` rounds), in a fresh worker: simulated s per wall s;
2. sweeps all 6 runs x the 4 presets in fresh worker(s), ns-3 import included;
3. with ``--worker-start``, the time to a first ns-3 result for spawn and fork workers.

    python benchmarks/replay_bench.py [--jobs 1] [--rounds 40] [--clients 10] [--worker-start]

Target: the sweep in <= 2 minutes on a 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from fl_core.rundir import RunWriter, read_run
from harness.sweep import run_sweep
from ns3_scenarios import flows
from ns3_scenarios.network import PRESETS
from ns3_scenarios.worker import NsWorker

FEDIT_BYTES = 3_700_000
ECO_UP_BYTES = 500_000
RANKS = (4, 8, 16, 8, 4, 16, 32, 8, 4, 16)


def _message_sizes(method: str, round_idx: int, clients: int, rng: random.Random) -> list[tuple[int, int, float]]:
    """``(downlink_bytes, uplink_bytes, compute_s)`` per client for one round of ``method``."""
    eco = method.endswith("+ecolora")
    base = method.removesuffix("+ecolora")
    ranks = [RANKS[c % len(RANKS)] for c in range(clients)]
    dense_up = {"fedit": [FEDIT_BYTES] * clients, "ffa-lora": [FEDIT_BYTES // 2] * clients,
                "flora": [FEDIT_BYTES * r // 16 for r in ranks]}[base]
    dense_down = sum(dense_up) if base == "flora" else dense_up[0]
    decay = 1.0 - 0.5 * round_idx / 40  # adaptive top-k: k shrinks as the loss falls
    rows = []
    for c in range(clients):
        compute = rng.uniform(27.0, 33.0) + (2.0 if eco else 0.0)
        if eco:
            share = dense_up[c] / FEDIT_BYTES
            up = int(ECO_UP_BYTES * share * decay * rng.uniform(0.9, 1.1))
            down = int(dense_down * 0.35 * decay) + round_idx  # sparse global, the same for every client
            rows.append((down, up, compute))
        else:
            rows.append((dense_down, dense_up[c], compute))
    return rows


def write_runs(folder: Path, rounds: int, clients: int) -> list[Path]:
    """One synthetic run directory per method."""
    paths = []
    for method in ("fedit", "ffa-lora", "flora", "fedit+ecolora", "ffa-lora+ecolora", "flora+ecolora"):
        rng = random.Random(method)
        writer = RunWriter(folder / method, keep_blobs=False)
        writer.write_meta({"method": method, "run_name": method, "synthetic": True})
        rows = []
        for r in range(rounds):
            for c, (down, up, compute) in enumerate(_message_sizes(method, r, clients, rng)):
                rows.append({"round": r, "client": c, "compute_s": compute, "uplink_bytes": up,
                             "downlink_bytes": down})
        writer.add_round(rows)
        paths.append(folder / method)
    return paths


def _distinct_flows(timing) -> int:
    """How many different (bytes, data rate, ACK rate) flows a sweep's isolated replay simulates."""
    latency_tcp = timing[["latency_ms", "tcp"]].astype(str).agg(" ".join, axis=1)
    down = zip(timing["downlink_bytes"], timing["down_mbps"], timing["up_mbps"], latency_tcp)
    up = zip(timing["uplink_bytes"], timing["up_mbps"], timing["down_mbps"], latency_tcp)
    return len({flow for flow in (*down, *up) if flow[0] > 0})


def _first_result_s(start_method: str) -> float:
    start = time.perf_counter()
    with NsWorker(start_method) as worker:
        worker.call(flows.flow_time, 100_000, 1e6, 0.05)
    return time.perf_counter() - start


def bench_replay_speed(run: Path, star_rounds: int) -> None:
    from harness.replay import replay

    record = read_run(run)
    with NsWorker() as worker:
        start = time.perf_counter()
        worker.call(flows.flow_time, 1_000, 1e6, 0.05)
        print(f"worker start + ns-3 import: {time.perf_counter() - start:.1f} s")
        for label, exact_star, rec in (
            ("isolated flows, cold cache", False, record),
            ("isolated flows, warm cache", False, record),
            (f"full star, first {star_rounds} rounds", True,
             record.__class__(record.path, record.meta, record.rounds[record.rounds["round"] < star_rounds],
                              record.evals)),
        ):
            start = time.perf_counter()
            timing = replay(rec, PRESETS["1/5"], exact_star=exact_star, worker=worker)
            wall = time.perf_counter() - start
            simulated = timing.drop_duplicates("round")["round_s"].sum()
            comm = (timing["download_s"] + timing["upload_s"]).sum()
            print(f"replay {record.name} on 1/5, {label}: {wall:.2f} s wall for {simulated:.0f} s of rounds "
                  f"({simulated / wall:.0f} simulated s per wall s; "
                  f"{comm / wall:.0f} s of client transfers per wall s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--star-rounds", type=int, default=5)
    parser.add_argument("--worker-start", action="store_true", help="also time spawn vs fork worker start")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        runs = write_runs(Path(tmp) / "runs", args.rounds, args.clients)
        print(f"{len(runs)} synthetic runs x {args.rounds} rounds x {args.clients} clients")
        if args.worker_start:
            for method in ("spawn", "fork"):
                print(f"worker start method {method}: first ns-3 result after {_first_result_s(method):.1f} s")
        bench_replay_speed(runs[3], args.star_rounds)

        workers = [NsWorker() for _ in range(args.jobs)]
        start = time.perf_counter()
        try:
            result = run_sweep(runs, list(PRESETS.values()), Path(tmp) / "sweep", workers=workers, progress=False)
            cpu = sum(w.call(time.process_time) for w in workers)
        finally:
            for w in workers:
                w.close()
        wall = time.perf_counter() - start
        simulated = result.summary["total_s"].sum()
        print(f"sweep {len(runs)} runs x {len(PRESETS)} presets = {result.ran} cells, jobs={args.jobs}: "
              f"{wall:.1f} s wall (ns-3 import included), {cpu:.1f} s CPU in the workers, "
              f"{simulated / 3600:.1f} h of simulated training, {_distinct_flows(result.timing)} distinct flows "
              f"simulated, {len(result.failures)} failed; load average now {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} CPUs")
        print(result.summary[["scenario", "method", "total_s", "computation_s", "communication_s",
                              "goodput_up_mbps"]].to_string(index=False, float_format="{:.4g}".format))


if __name__ == "__main__":
    main()
