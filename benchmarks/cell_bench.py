"""Cell benchmark: simulated seconds per wall second of the WiFi and LTE cells, and a 40-round replay.

1. **speed**: one round of 10 participants (30 s compute each) through ``wifi-home`` and
   ``lte-cell``, for FedIT-sized messages (3.7 MB each way) and EcoLoRA-sized ones (about
   1.3 MB down, 0.5 MB up), with the idle gap compressed (default) and simulated in full; the
   round cache is off, ns-3 is imported and JIT-warmed first. "Simulated s" is the round's
   reported length (compute included).
2. **replay**: synthetic 40-round x 10-client runs (``benchmarks/replay_bench.py``'s message
   sizes) swept through each cell with ``--jobs`` workers (round-parallel prefill into a fresh
   round cache, then the cells), ns-3 imports included.

    python benchmarks/cell_bench.py [--jobs 2] [--rounds 40] [--clients 10] [--runs fedit+ecolora,fedit]
                                    [--cells wifi-home,lte-cell] [--skip-speed] [--skip-replay]

Target: the WiFi replay of one 40-round, 10-participant run in <= 5 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from replay_bench import write_runs  # noqa: E402

from harness.scenario import load_scenario  # noqa: E402
from harness.sweep import run_sweep  # noqa: E402
from ns3_scenarios import flowcache  # noqa: E402
from ns3_scenarios.transfers import ClientTransfer  # noqa: E402
from ns3_scenarios.worker import NsWorker  # noqa: E402

SIZES = {"fedit": (3_700_000, 3_700_000), "ecolora": (1_300_000, 500_000)}


def _timed_round(scenario, transfers, seed):
    from harness.scenario import engines

    start, cpu = time.perf_counter(), time.process_time()
    timings = engines()[scenario.engine].simulate_round(scenario.network, transfers, seed=seed,
                                                        settings=scenario.engine_settings)
    return time.perf_counter() - start, time.process_time() - cpu, max(t.upload_done_s for t in timings)


def bench_speed(cells: list[str], clients: int) -> None:
    with NsWorker() as worker:
        worker.call(flowcache.reset, None)
        for name in cells:
            scenario = load_scenario(name)
            warm = [ClientTransfer(0, 10_000, 0.1, 10_000)]
            worker.call(_timed_round, scenario, warm, 0)  # import + JIT of this cell's classes
            for label, (down, up) in SIZES.items():
                transfers = [ClientTransfer(c, down, 30.0 + 0.3 * c, up) for c in range(clients)]
                for gap in ("default", "off"):
                    s = scenario if gap == "default" else scenario.with_(
                        engine_settings=scenario.engine_settings.from_mapping(
                            {**scenario.engine_settings.to_dict(), "idle_gap_s": None}))
                    wall, cpu, simulated = worker.call(_timed_round, s, transfers, 1)
                    print(f"{name} {clients} clients {label} ({down / 1e6:g}/{up / 1e6:g} MB) idle gap "
                          f"{'1 s' if gap == 'default' else 'simulated'}: round {simulated:.2f} s simulated in "
                          f"{wall:.2f} s wall, {cpu:.2f} s CPU = {simulated / wall:.2f} simulated s per wall s, "
                          f"{simulated / cpu:.2f} per CPU s (load {os.getloadavg()[0]:.1f})", flush=True)


def bench_replay(cells: list[str], methods: list[str], rounds: int, clients: int, jobs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="cell-bench-") as tmp:
        os.environ[flowcache.CACHE_ENV] = str(Path(tmp) / "cache")  # inherited by the workers
        flowcache.reset()
        runs = {p.name: p for p in write_runs(Path(tmp) / "runs", rounds, clients)}
        for name in cells:
            for method in methods:
                workers = [NsWorker() for _ in range(jobs)]
                start = time.perf_counter()
                try:
                    result = run_sweep([runs[method]], [load_scenario(name)], Path(tmp) / f"sweep-{name}-{method}",
                                       workers=workers, progress=False)
                    cpus = [w.call(time.process_time) for w in workers]
                finally:
                    for w in workers:
                        w.close()
                wall = time.perf_counter() - start
                simulated = result.summary["total_s"].sum()
                print(f"replay {method} ({rounds} rounds x {clients} clients) through {name}, {jobs} workers: "
                      f"{wall:.1f} s wall incl. ns-3 imports, {simulated:.0f} s simulated "
                      f"({simulated / wall:.1f} per wall s), worker CPU {' + '.join(f'{c:.0f}' for c in cpus)} s "
                      f"(incl. ~10 s import each), {len(result.failures)} failed "
                      f"(load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)", flush=True)
                print(result.summary[["scenario", "method", "total_s", "computation_s", "communication_s"]]
                      .to_string(index=False, float_format="{:.4g}".format), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--runs", default="fedit+ecolora,fedit")
    parser.add_argument("--cells", default="wifi-home,lte-cell")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-replay", action="store_true")
    args = parser.parse_args()
    cells = args.cells.split(",")
    if not args.skip_speed:
        bench_speed(cells, args.clients)
    if not args.skip_replay:
        bench_replay(cells, args.runs.split(","), args.rounds, args.clients, args.jobs)


if __name__ == "__main__":
    main()
