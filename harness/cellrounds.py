"""Round-parallel prefill of the per-round cache for engines that are slow per round (the WiFi and LTE cells).

A cell engine simulates a whole round in one ns-3 run (seconds of wall time each), and a
sweep cell is one run x one scenario: replayed round after round in one worker, a 40-round
cell would leave the other workers idle. Rounds are independent (each has its own seed), so
before the sweep runs its cells, :func:`prefill` simulates every pending round of every
such cell on all workers at once, one progress bar per cell. The engine caches each round
on disk (``ns3_scenarios.flowcache``), so the cells then replay from the cache in moments.
With the cache off (``NETBENCH_FLOW_CACHE=off``) there is nothing to fill and it does nothing.
"""
from __future__ import annotations

import queue
from collections.abc import Sequence
from concurrent.futures import as_completed
from typing import Any

from tqdm import tqdm

from fl_core.errors import NetbenchError
from harness.replay import round_transfers
from harness.scenario_spec import engines
from ns3_scenarios.worker import NsWorker, worker_pool


def round_cached(engine: Any) -> bool:
    """Whether ``engine`` caches whole rounds (and so profits from a prefill)."""
    return bool(getattr(engine, "caches_rounds", False))


def prefill(plan: Any, workers: Sequence[NsWorker], *, progress: bool = True) -> int:
    """Simulate every round of ``plan``'s pending cells whose engine caches rounds; returns rounds simulated.

    A round that fails is left out (its cell then fails with the same error when it runs),
    and the cell's remaining rounds are skipped.
    """
    from ns3_scenarios.engines.cell import disk_cache

    cells = [c for c in plan.pending if round_cached(engines()[c.scenario.engine])]
    if not cells or disk_cache().folder is None:
        return 0
    idle: queue.Queue[NsWorker] = queue.Queue()
    for w in workers:
        idle.put(w)
    failed: set[int] = set()

    def simulate(k: int, scenario: Any, seed: int, transfers: list) -> None:
        if k in failed:
            return
        worker = idle.get()
        try:
            engine = engines()[scenario.engine]
            worker.call(engine.simulate_round, scenario.network, transfers, seed=seed,
                        settings=scenario.engine_settings)
        except NetbenchError:
            failed.add(k)
        finally:
            idle.put(worker)

    tasks = []
    for k, cell in enumerate(cells):
        record = plan.records[cell.run]
        for round_idx, transfers in round_transfers(record, cell.scenario):
            tasks.append((k, cell.scenario, cell.scenario.round_seed(record.name, round_idx), transfers))
    bars = [tqdm(total=sum(1 for t in tasks if t[0] == k), desc=f"{cell.run} @ {cell.name}", unit="round",
                 position=k + 1, leave=True, disable=not progress) for k, cell in enumerate(cells)]
    try:
        with worker_pool(workers) as executor:  # Ctrl-C: queued rounds cancelled, running ones killed
            futures = {executor.submit(simulate, *task): task[0] for task in tasks}
            for future in as_completed(futures):
                future.result()
                bars[futures[future]].update()
    finally:
        for bar in bars:
            bar.close()
    return len(tasks)
