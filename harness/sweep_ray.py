"""The ``ray`` sweep executor: the pending cells of a sweep as Ray tasks.

Each task runs one cell in its Ray worker process's own ns-3 worker
(:func:`ns3_scenarios.worker.shared_worker`): the bindings are imported once per Ray
worker process and reused by every later cell it runs, and an ns-3 abort kills that child,
not the Ray worker, so the cell's failure carries ns-3's message exactly as with the local
pool. The driver (``harness.sweep.run_sweep``) writes each cell's table as it arrives, so
outputs and resumability are those of the local executor.

Ray is started here when it is not running (``address`` None: a local instance over this
machine's CPUs; ``RAY_ADDRESS`` or ``address="auto"``: an existing cluster). A task gets
the run's record and the scenario by value and returns the table, so the cluster's nodes
need no shared file system: only the driver reads runs and writes ``OUT``.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import pandas as pd

from fl_core.errors import NetbenchError
from fl_core.executors import ray_session


def _run_cell(cell_fn, record, scenario) -> pd.DataFrame | str:
    """One cell in this Ray worker's ns-3 worker; a refusal or an ns-3 abort becomes its error text."""
    from ns3_scenarios.worker import shared_worker

    try:
        return shared_worker().call(cell_fn, record, scenario)
    except NetbenchError as exc:
        return str(exc)


def execute_ray(plan, cell_fn, *, jobs: int = 1, workers: Sequence | None = None,
                address: str | None = None) -> Iterator[tuple[object, pd.DataFrame | str]]:
    """Yield ``(cell, timing table or error text)`` for every pending cell of ``plan`` as Ray finishes it.

    ``jobs`` caps the cells in flight (each task takes one CPU of the cluster);
    ``workers`` (local ns-3 workers) has no meaning here and is refused.
    """
    if workers is not None:
        raise NetbenchError("the ray sweep executor runs its own ns-3 workers; do not pass workers=")
    if not plan.pending:
        return
    ray = ray_session(address)
    task = ray.remote(num_cpus=1, max_retries=0)(_run_cell)
    fn_ref = ray.put(cell_fn)
    queued = list(plan.pending)
    in_flight: dict = {}
    limit = max(jobs, 1)
    while queued or in_flight:
        while queued and len(in_flight) < limit:
            cell = queued.pop(0)
            in_flight[task.remote(fn_ref, plan.records[cell.run], cell.scenario)] = cell
        done, _ = ray.wait(list(in_flight), num_returns=1)
        cell = in_flight.pop(done[0])
        try:
            result = ray.get(done[0])
        except ray.exceptions.RayError as exc:  # the Ray worker itself died
            result = f"ray task failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
        yield cell, result
