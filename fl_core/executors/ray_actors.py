"""The ``ray`` executor: the clients of a round trained in parallel by Ray actors.

Each actor (:class:`ClientWorker`) holds one copy of the base model — one actor per GPU,
or per ``cfg.threads`` CPU threads — built from the run's config exactly as the driver
builds its own, in a private scratch folder. The server stays in the driver: it encodes
every download, loads every client's committed state, and stages the state a client
returns. An actor receives (server-state snapshot, round, position, client, download
message, client state) and returns the round-table row, both messages' bytes and the
client's new state, so no actor touches the run directory, and a run under Ray writes
the same bytes, checkpoints and client states as the local executor (same torch thread
count per client, same device).

Before the clients of a dispatch train, the driver publishes the server's state (the
method's and the transport's checkpoint tensors) once with ``ray.put``; an actor loads a
snapshot only when its key changed. Compute times are each client's own measured times.

An actor that dies (killed, out of memory, a lost node) ends the run with one
``RunDirError`` naming the round; the run directory then holds every completed round and
``netbench train --resume OUT`` (with or without ``--executor ray``) continues it.
"""
from __future__ import annotations

import os
import resource
import shutil
import tempfile
from pathlib import Path

from fl_core.errors import ConfigError, RunDirError
from fl_core.executors import ray_session


class ClientWorker:
    """One Ray actor: a run context on this worker's own copy of the base model (no run directory)."""

    def __init__(self, threads: int) -> None:
        import torch

        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)
        self.scratch = Path(tempfile.mkdtemp(prefix="netbench-client-"))
        self.ctx = None
        self.config: tuple | None = None  # (run config, device) the context was built from
        self.key: object = None

    def configure(self, config: dict, device: str) -> dict:
        """Build the client side of a run from its config on ``device`` (the plan's ``cuda`` or ``cpu`` for
        this actor, whatever the driver has; kept while config and device are the same)."""
        from fl_core.run.config import RunConfig
        from fl_core.run.context import RunContext

        if (config, device) != self.config:
            cfg = RunConfig.from_dict(config)
            cfg.device = device  # cuda: Ray makes this actor's GPU the only visible one
            shutil.rmtree(self.scratch / "run", ignore_errors=True)
            self.ctx, self.config, self.key = RunContext(cfg, self.scratch / "run", progress=False), (config, device), None
        return self.describe()

    def describe(self) -> dict:
        """Process id, device and peak resident memory of this actor."""
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
        return {"pid": os.getpid(), "peak_rss_bytes": peak,
                **(self.ctx.compute.describe() if self.ctx is not None else {})}

    def train(self, key: object, snapshot: list, round_idx: int, position: int, client: int, down, state):
        """One client's local round from the server's download and the client's state."""
        if key != self.key:
            import ray

            method_state, transport_state = ray.get(snapshot[0])
            self.ctx.method.load_server_state(method_state)
            self.ctx.transport.load_state_dict(transport_state)
            self.key = key
        return self.ctx.train_client(round_idx, position, client, down, state)


def plan_workers(requested: int | None, participants: int, threads: int, totals: dict, *, gpu: bool,
                 copy_bytes: int, available_bytes: int) -> tuple[int, dict]:
    """Number of actors and each one's Ray resources, from what Ray reports (``totals``).

    GPU actors take one GPU each; CPU actors ``threads`` CPUs each, and each holds a copy of the
    base model (``copy_bytes`` to train), so their copies must fit in ``available_bytes``. The
    default count is the most that fit, at most ``participants``; a requested count that does not
    fit gets one error line.
    """
    from fl_core.model.memory import gib

    unit, per = ("GPU", 1) if gpu else ("CPU", threads)
    have = int(totals.get(unit, 0))
    most = have // per
    fit = most if gpu else min(most, available_bytes // max(copy_bytes, 1))
    workers = requested if requested is not None else max(1, min(fit, participants))
    if workers * per > have:
        what = f"{per} {unit} each" if gpu else f"{per} CPU each (--threads {per})"
        raise ConfigError(f"--workers {workers} needs {workers * per} {unit}s ({what}) but Ray reports {have}; "
                          f"use --workers {max(most, 1)} or fewer" + ("" if most else " and fewer --threads"))
    if not gpu and workers * copy_bytes > available_bytes:
        flag = f"--workers {workers}" if requested is not None else f"--executor ray ({workers} worker)"
        raise ConfigError(f"{flag}: each worker holds a copy of the base model, about {gib(copy_bytes)} to train, "
                          f"so {workers} need {gib(workers * copy_bytes)} but {gib(available_bytes)} is available; "
                          + (f"use --workers {fit} or fewer" if fit else "train with --executor local"))
    return workers, ({"num_cpus": 0, "num_gpus": 1} if gpu else {"num_cpus": per})


class RayExecutor:
    """Trains each dispatch of clients on ``workers`` Ray actors, round-robin in dispatch order."""

    name = "ray"
    remote = True  # clients train in other processes (``fl_core.run.capabilities.check``: Method.remote_clients)

    def __init__(self, workers: int | None = None, address: str | None = None, keep_workers: bool = False) -> None:
        """``keep_workers``: leave the actors up after the run for the next one in this process
        (they hold their CPUs or GPUs until :func:`release_workers` or Ray's shutdown)."""
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers {workers} must be >= 1")
        self.workers, self.address, self.keep_workers = workers, address, keep_workers
        self.actors: list = []
        self.dispatches = 0
        self.ray = None

    # -- set-up -------------------------------------------------------------------------------
    def start(self, ctx) -> None:
        """Start (or reuse) the actors and build the run's client side on each."""
        from fl_core.run.device import actor_device
        from fl_core.model.memory import available_memory_bytes, model_training_bytes

        self.ray = ray_session(self.address)
        totals = self.ray.cluster_resources()
        device = actor_device(ctx.cfg.device, int(totals.get("GPU", 0)))
        # a local instance shares this machine's memory (the driver's copy is already in it); a cluster
        # reports the memory Ray may schedule
        joined = self.address or os.environ.get("RAY_ADDRESS")
        available = int(totals.get("memory", 0)) if joined else available_memory_bytes(ctx.compute.device)
        workers, resources = plan_workers(self.workers, ctx.cfg.participants, ctx.cfg.threads, totals,
                                          gpu=device == "cuda", copy_bytes=model_training_bytes(ctx.base.model),
                                          available_bytes=available)
        self.actors = _pool(self.ray, workers, ctx.cfg.threads, resources)
        config = ctx.cfg.to_dict()
        self.worker_info = self._get([a.configure.remote(config, device) for a in self.actors],
                                     "starting the Ray workers")

    def compute_description(self) -> dict:
        """Where the clients compute (run.json's ``compute``): the actors' device, not the driver's."""
        first = self.worker_info[0]
        return {k: first[k] for k in ("device", "device_name", "dtype")}

    def _get(self, refs: list, doing: str) -> list:
        try:
            return self.ray.get(refs)
        except (self.ray.exceptions.RayActorError, self.ray.exceptions.ActorDiedError,
                self.ray.exceptions.WorkerCrashedError, self.ray.exceptions.ObjectLostError) as exc:
            self._drop_dead()
            if not self.keep_workers:
                self.close()
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RunDirError(f"a Ray worker died while {doing} ({type(exc).__name__}: {reason[:200]})") from None

    # -- a dispatch -----------------------------------------------------------------------------
    def run(self, ctx, round_idx: int, jobs: list[tuple[int, int]]) -> list:
        """``ClientResult`` of each ``(position, client)``: downloads and states here, training on the actors."""
        downs = [ctx.transport.download(round_idx, client) for _, client in jobs]
        states = [ctx.clients.load(client) for _, client in jobs]
        self.dispatches += 1
        key = (id(self), self.dispatches)
        snapshot = [self.ray.put((ctx.method.server_state(), ctx.transport.state_dict()))]
        refs = [self.actors[i % len(self.actors)].train.remote(key, snapshot, round_idx, position, client, down, state)
                for i, ((position, client), down, state) in enumerate(zip(jobs, downs, states))]
        try:
            out = self._get(refs, f"training round {round_idx}")
        except RunDirError as exc:
            raise RunDirError(f"{exc}; {ctx.out} holds every round up to {ctx.completed}: continue with "
                              f"netbench train --resume {ctx.out} [--executor ray]") from None
        results = []
        for (_, client), (result, state) in zip(jobs, out):
            ctx.clients.stage(client, state)
            results.append(result)
        return results

    def _drop_dead(self) -> None:
        """Keep only the actors that still answer in the pool (the next run starts replacements)."""
        alive = []
        for actor in self.actors:
            try:
                self.ray.get(actor.describe.remote(), timeout=60)
                alive.append(actor)
            except Exception:  # noqa: BLE001 - any failure to answer means the actor is gone
                pass
        dead = {id(a) for a in self.actors} - {id(a) for a in alive}
        for pool in _POOLS.values():
            pool[:] = [a for a in pool if id(a) not in dead]
        self.actors = alive

    def peak_memory(self) -> list[dict]:
        """Each actor's :meth:`ClientWorker.describe` now (peak resident memory so far)."""
        return self._get([a.describe.remote() for a in self.actors], "reading worker memory")

    def close(self) -> None:
        """End the actors (freeing their Ray resources for other work) unless they are kept for reuse."""
        if not self.keep_workers and self.actors:
            release_workers(self.actors)
            self.actors = []


#: Live actors per (Ray session, threads, resources) kept with ``keep_workers=True``: tests and notebooks
#: that train several runs in one process reuse them instead of paying each actor's import of torch again.
_POOLS: dict[tuple, list] = {}


def release_workers(actors: list | None = None) -> None:
    """End ``actors`` (default: every pooled one) and forget them."""
    import ray

    doomed = {id(a): a for pool in _POOLS.values() for a in pool} if actors is None else {id(a): a for a in actors}
    for actor in doomed.values():
        ray.kill(actor)
    for pool in _POOLS.values():
        pool[:] = [a for a in pool if id(a) not in doomed]


def _pool(ray, workers: int, threads: int, resources: dict) -> list:
    key = (ray.get_runtime_context().get_job_id(), threads, tuple(sorted(resources.items())))
    pool = _POOLS.setdefault(key, [])
    actor = ray.remote(max_restarts=0, max_task_retries=0, **resources)(ClientWorker)
    pool.extend(actor.remote(threads) for _ in range(workers - len(pool)))
    return pool[:workers]
