"""Replay benchmark: simulated seconds per wall second, and the wall time of a Figure-3 sweep.

Writes synthetic run directories with realistic message sizes (6 methods x 40 rounds x
10 clients: FedIT 3.7 MB each way, FFA-LoRA half of it, FLoRA with heterogeneous ranks
and a stacked download, and each "w/ EcoLoRA" with sparse uploads around 0.5 MB that
differ per client and round, so the flow cache helps them least), then:

1. replays one EcoLoRA run on 1/5 Mbps with cached isolated flows and with the full star
   (``--star-rounds`` rounds), in a fresh worker: simulated s per wall s;
2. with ``--shared-star``, the full star of 10 clients behind a shared server link: simulated
   s per wall s against ns-3's own bound (wall inside ``Simulator::Run`` only);
3. sweeps all 6 runs x the 4 presets (``--loss P``: random loss P on both directions of every
   link) in fresh worker(s), ns-3 import included, with an empty on-disk flow cache (cold),
   then again in fresh workers with the cache it filled (warm);
4. with ``--worker-start``, the time to a first ns-3 result for spawn and fork workers.

    python benchmarks/replay_bench.py [--jobs 2] [--loss 0.01] [--rounds 40] [--clients 10] [--shared-star]

Targets (issue 11): the 1 %-loss sweep with --jobs 2 in <= 2 minutes cold and <= 10 s warm;
the shared-server star at >= 500 simulated s per wall s, or within 1.5x of ns-3's own bound.
"""
from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from fl_core.rundir.reader import read_run
from fl_core.rundir.writer import RunWriter
from harness.sweep import run_sweep
from ns3_scenarios import flowcache, simcore
from ns3_scenarios.engines import isolated as flows
from ns3_scenarios.links import Impairments, RandomLoss
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


def _stats() -> dict:
    return dict(simcore.STATS)


def bench_shared_star(run: Path, rounds: int, server_mbps: float) -> None:
    """The full star, 10 clients behind one shared server link: simulated s per wall s vs ns-3's own bound."""
    from harness.replay import replay

    record = read_run(run)
    record = record.__class__(record.path, record.meta, record.rounds[record.rounds["round"] < rounds], record.evals)
    network = PRESETS["1/5"].with_(server_link_bps=server_mbps * 1e6)
    with NsWorker() as worker:
        worker.call(flows.flow_time, 1_000, 1e6, 0.05)
        before = worker.call(_stats)
        start = time.perf_counter()
        timing = replay(record, network, worker=worker)
        wall = time.perf_counter() - start
        after = worker.call(_stats)
    simulated = timing.drop_duplicates("round")["round_s"].sum()
    inside = after["run_s"] - before["run_s"]
    setup = after["setup_s"] - before["setup_s"]
    packets = (timing["downlink_bytes"].sum() + timing["uplink_bytes"].sum()) / 1448
    print(f"full star, 10 clients, shared {server_mbps:g} Mbps server link, {rounds} rounds of {record.name}: "
          f"{wall:.2f} s wall for {simulated:.0f} simulated s = {simulated / wall:.0f} simulated s per wall s; "
          f"inside Simulator::Run {inside:.2f} s (ns-3's bound: {simulated / inside:.0f} simulated s per wall s, "
          f"{packets / inside:,.0f} data segments per wall s), set-up {setup:.2f} s, "
          f"total / Run = {wall / inside:.2f}")


def _flow_cpu(specs: list, batch: bool) -> tuple[float, list[float]]:
    flowcache.reset(None)
    flows._CACHE.clear()
    start = time.process_time()
    seconds = flows.flow_times(specs, batch=batch)
    return time.process_time() - start, seconds


def bench_batching(count: int) -> None:
    """CPU for ``count`` lossy 0.5 MB flows (an EcoLoRA upload) on 1/5 Mbps: one simulation each vs batched."""
    specs = [flows.FlowSpec(500_000 + 37 * i, 1e6, 5e6, 0.05, data=Impairments(loss=RandomLoss(0.01)),
                            data_seed=i) for i in range(count)]
    small = [flows.FlowSpec(50_000 + 37 * i, 5e6, 25e6, 0.05, data=Impairments(loss=RandomLoss(0.01)),
                            data_seed=i) for i in range(count)]
    with NsWorker() as worker:
        worker.call(flows.flow_time, 1_000, 1e6, 0.05)
        for label, group in (("0.5 MB at 1 Mbps", specs), ("50 kB at 5 Mbps", small)):
            single, a = worker.call(_flow_cpu, group, False)
            batched, b = worker.call(_flow_cpu, group, True)
            print(f"{count} lossy flows of {label}: {single:.2f} s CPU one simulation each, {batched:.2f} s batched "
                  f"({single / batched:.2f}x); identical times: {a == b}")


def bench_sweep(runs: list[Path], loss: float, jobs: int, folder: Path) -> None:
    """The sweep cold (empty flow cache) and warm (the cache it filled), each in fresh workers."""
    networks = [p if not loss else p.with_(up=Impairments(loss=RandomLoss(loss)), down=Impairments(loss=RandomLoss(loss)))
                for p in PRESETS.values()]
    for label in ("cold", "warm"):
        workers = [NsWorker() for _ in range(jobs)]
        start = time.perf_counter()
        try:
            result = run_sweep(runs, networks, folder / f"sweep-{label}", workers=workers, progress=False)
            cpu = sum(w.call(time.process_time) for w in workers)
            stats = [w.call(_stats) for w in workers]
        finally:
            for w in workers:
                w.close()
        wall = time.perf_counter() - start
        simulated = result.summary["total_s"].sum()
        sims = sum(st["simulations"] for st in stats)
        inside = sum(st["run_s"] for st in stats)
        setup = sum(st["setup_s"] + st["destroy_s"] for st in stats)
        print(f"sweep {len(runs)} runs x {len(networks)} presets, loss {loss:g} each way = {result.ran} cells, "
              f"jobs={jobs}, {label} flow cache: {wall:.1f} s wall (worker start included), {cpu:.1f} s CPU in the "
              f"workers: {sims} ns-3 simulations, {inside:.1f} s inside Simulator::Run, {setup:.1f} s building and "
              f"destroying; {simulated / 3600:.1f} h of simulated training, {len(result.failures)} failed; "
              f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(result.summary[["scenario", "method", "total_s", "computation_s", "communication_s",
                          "goodput_up_mbps"]].to_string(index=False, float_format="{:.4g}".format))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--loss", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--star-rounds", type=int, default=5)
    parser.add_argument("--server-mbps", type=float, default=20.0)
    parser.add_argument("--replay", action="store_true", help="also time one replay (isolated cold/warm, star)")
    parser.add_argument("--shared-star", action="store_true", help="also time the shared-server-link star")
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--batching", type=int, default=0, metavar="N",
                        help="also compare N flows simulated one by one vs batched")
    parser.add_argument("--worker-start", action="store_true", help="also time spawn vs fork worker start")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        os.environ[flowcache.CACHE_ENV] = str(Path(tmp) / "flow-cache")  # empty; inherited by the workers
        runs = write_runs(Path(tmp) / "runs", args.rounds, args.clients)
        print(f"{len(runs)} synthetic runs x {args.rounds} rounds x {args.clients} clients")
        if args.worker_start:
            for method in ("spawn", "fork"):
                print(f"worker start method {method}: first ns-3 result after {_first_result_s(method):.1f} s")
        if args.replay:
            bench_replay_speed(runs[3], args.star_rounds)
        if args.shared_star:
            bench_shared_star(runs[3], args.star_rounds, args.server_mbps)
        if args.batching:
            bench_batching(args.batching)
        if not args.no_sweep:
            bench_sweep(runs, args.loss, args.jobs, Path(tmp))


if __name__ == "__main__":
    main()
