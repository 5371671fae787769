"""Where shared radio access matters: the demo methods through the four presets, a WiFi and an LTE cell.

1. **sweep**: synthetic runs with the message sizes of ``benchmarks/replay_bench.py`` (FedIT
   3.7 MB each way, FFA-LoRA half, each "w/ EcoLoRA" with sparse ~0.5 MB uploads; 10 clients,
   all participating, ~30 s compute) through the paper's four presets, ``wifi-home``,
   ``lte-cell`` and a point-to-point star at each cell's nominal rates (``p2p 65/65`` with
   the WiFi cell's 20 ms, ``p2p 18/18`` with the LTE cell's 30 ms). Writes the sweep folder,
   a Figure-3-style figure (one group per access type) and ``comparison.md``: per method and
   cell, communication per round in the cell, on the p2p star and in closed form.
2. **participants**: one round of N = 2, 5, 10, 20 participants (30 s compute each, seeded
   jitter) through each cell and its p2p star, for EcoLoRA-sized and FedIT-sized messages:
   ``participants.md``.

    python benchmarks/cell_study.py --out results/cells [--rounds 10] [--jobs 2] [--sizes ecolora,fedit]
                                    [--methods fedit,fedit+ecolora] [--skip-sweep] [--skip-participants]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from replay_bench import write_runs  # noqa: E402

from harness import plot  # noqa: E402
from harness.scenario import load_scenario  # noqa: E402
from harness.scenario.spec import Scenario, engines  # noqa: E402
from harness.sweep import run_sweep  # noqa: E402
from ns3_scenarios.network import PRESETS, Network  # noqa: E402
from ns3_scenarios.transfers import ClientTransfer  # noqa: E402
from ns3_scenarios.worker import NsWorker  # noqa: E402

METHODS = ("fedit", "fedit+ecolora", "ffa-lora", "ffa-lora+ecolora")
CELLS = ("wifi-home", "lte-cell")
SIZES = {"ecolora": ("EcoLoRA-sized (1.3 MB down, 0.5 MB up)", 1_300_000, 500_000),
         "fedit": ("FedIT-sized (3.7 MB each way)", 3_700_000, 3_700_000)}


def p2p_twin(cell: Scenario) -> Scenario:
    """The point-to-point star at ``cell``'s nominal rates and latency (its ``[link]``)."""
    net = cell.network
    return Scenario.from_network(Network(net.up_bps, net.down_bps, net.latency_s, net.tcp),
                                 name=f"p2p {net.name} ({cell.name})")


def sweep(out: Path, rounds: int, clients: int, jobs: int, methods: list[str]) -> None:
    runs = [p for p in write_runs(out / "runs", rounds, clients) if p.name in methods]
    cells = [load_scenario(c) for c in CELLS]
    scenarios = [load_scenario(p) for p in PRESETS] + cells + [p2p_twin(c) for c in cells]
    start = time.perf_counter()
    result = run_sweep(runs, scenarios, out / "sweep", jobs=jobs)
    print(f"sweep: {result.ran} cells in {time.perf_counter() - start:.0f} s wall, {len(result.failures)} failed")
    summary = result.summary
    labels = {}
    for cell in cells:  # "<nominal rates> <kind>": the figure's groups read "18/18 Mbps / lte-cell", "18/18 Mbps / p2p"
        labels[cell.name] = f"{cell.network.name} {cell.name}"
        labels[p2p_twin(cell).name] = f"{cell.network.name} p2p"
    figure = summary.assign(scenario=summary["scenario"].replace(labels))
    print(plot.figure3(figure, out / "figure3_cells.png",
                       title=f"Replayed runs by access network ({clients} clients, all participating)"))
    lines = ["| method | access | ns-3 cell s/round | p2p star at nominal rate s/round | closed form s/round | "
             "cell / p2p |", "|---|---|---|---|---|---|"]
    for method in methods:
        for cell in cells:
            twin = p2p_twin(cell)
            row = summary[(summary["scenario"] == cell.name) & (summary["method"] == method)]
            ref = summary[(summary["scenario"] == twin.name) & (summary["method"] == method)]
            if row.empty or ref.empty:
                continue
            row, ref = row.iloc[0], ref.iloc[0]
            per = row["rounds"]
            lines.append(f"| {method} | {cell.name} | {row['communication_s'] / per:.2f} | "
                         f"{ref['communication_s'] / per:.2f} | {row['analytic_communication_s'] / per:.2f} | "
                         f"{row['communication_s'] / ref['communication_s']:.2f} |")
    table = "\n".join(lines)
    (out / "comparison.md").write_text(table + "\n")
    print(table)
    cols = ["scenario", "method", "total_s", "computation_s", "communication_s", "analytic_communication_s"]
    print(summary[cols].to_string(index=False, float_format="{:.4g}".format))


def _round(scenario: Scenario, transfers: list[ClientTransfer], seed: int) -> float:
    timings = engines()[scenario.engine].simulate_round(scenario.network, transfers, seed=seed,
                                                        settings=scenario.engine_settings)
    return max(t.upload_done_s for t in timings)


def participants(out: Path, counts: list[int], jobs: int, sizes: list[str]) -> None:
    cells = [load_scenario(c) for c in CELLS]
    jobs_list = []
    for label, down, up in (SIZES[s] for s in sizes):
        for n in counts:
            rng = random.Random(n)
            transfers = [ClientTransfer(c, down, 30.0 + rng.uniform(0, 1), up) for c in range(n)]
            for cell in cells:
                for scenario in (cell, p2p_twin(cell)):
                    jobs_list.append((label, n, cell.name, scenario, transfers))
    workers = [NsWorker() for _ in range(jobs)]
    free = list(workers)
    results: dict[tuple, float] = {}

    def run(item):
        worker = free.pop()
        try:
            label, n, cell, scenario, transfers = item
            start = time.perf_counter()
            value = worker.call(_round, scenario, transfers, 1)
            print(f"{label} N={n} {scenario.name}: round {value:.2f} s ({time.perf_counter() - start:.0f} s wall)",
                  flush=True)
            results[(label, n, cell, scenario.name == cell)] = value
        finally:
            free.append(worker)

    try:
        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(run, jobs_list))
    finally:
        for w in workers:
            w.close()
    lines = []
    for label, _, _ in (SIZES[s] for s in sizes):
        lines += [f"**{label}**, compute 30-31 s:", "",
                  "| participants | " + " | ".join(f"{c} cell s | {c} p2p s" for c in CELLS) + " |",
                  "|---|" + "---|---|" * len(CELLS)]
        for n in counts:
            cols = [f"{results.get((label, n, c, True), float('nan')):.2f} | "
                    f"{results.get((label, n, c, False), float('nan')):.2f}" for c in CELLS]
            lines.append(f"| {n} | " + " | ".join(cols) + " |")
        lines.append("")
    table = "\n".join(lines)
    (out / "participants.md").write_text(table)
    print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--participants", default="2,5,10,20")
    parser.add_argument("--sizes", default="ecolora,fedit", help="message sizes of the participants study")
    parser.add_argument("--methods", default=",".join(METHODS), help="synthetic runs in the sweep")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--skip-participants", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.skip_participants:
        participants(args.out, [int(n) for n in args.participants.split(",")], args.jobs, args.sizes.split(","))
    if not args.skip_sweep:
        sweep(args.out, args.rounds, args.clients, args.jobs, args.methods.split(","))


if __name__ == "__main__":
    main()
