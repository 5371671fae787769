"""ns-3 work in a child process, so that an ns-3 abort is an error and not the caller's death.

ns-3 ends the process on ``NS_FATAL_ERROR``/``NS_ASSERT`` (exit 133 after a ROOT/gdb
backtrace that costs seconds). A :class:`NsWorker` owns one child that imports the
bindings once (6-11 s) and then runs any number of calls sent to it over a pipe. When
the child dies, the call raises :class:`ScenarioError` carrying ns-3's ``msg="..."``
line, and the next call starts a fresh child.

Start method: **spawn**. Measured with ``benchmarks/replay_bench.py --worker-start`` on the
2-vCPU VM: first ns-3 result after 23.2 s spawned vs 23.0 s forked from a parent that has
not imported ns-3 (both pay the bindings' import, which dominates). Spawn is safe whatever
the parent holds (torch's thread pools, tqdm's monitor thread); fork of a threaded parent
is not. The child runs in a private temporary folder: small, so the bindings' ``*.so``
search is instant, and holding the ``.rootrc`` (``Root.Stacktrace: no``) that turns off
the backtrace; its stderr goes to a file there, read back when it dies.
"""
from __future__ import annotations

import atexit
import multiprocessing
import os
import queue
import re
import shutil
import tempfile
import threading
import traceback
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.simcore import HOME_ENV

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

_ROOTRC = "Root.Stacktrace: no\n"
_STDERR = "stderr.log"
_MSG_RE = re.compile(r'msg="(.*?)"(?:, file=|$)')


class RemoteTraceback(Exception):
    """The traceback of an exception raised in the worker, chained as the ``__cause__``."""

    def __str__(self) -> str:
        return self.args[0]


def _serve(conn: Connection, home: str) -> None:
    """Child main loop: run each ``(fn, args, kwargs)`` received and send back its result or exception."""
    os.chdir(home)
    os.environ[HOME_ENV] = home
    fd = os.open(_STDERR, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        os.ftruncate(2, 0)
        fn, args, kwargs = request
        try:
            reply = ("ok", fn(*args, **kwargs))
        except KeyboardInterrupt as exc:  # Ctrl-C reached the child too: tell the parent, then stop serving
            try:
                conn.send(("error", exc, traceback.format_exc()))
            except OSError:
                pass
            return
        except BaseException as exc:  # noqa: BLE001 - every failure is reported to the parent
            reply = ("error", exc, traceback.format_exc())
        try:
            conn.send(reply)
        except Exception as exc:  # noqa: BLE001 - e.g. an exception that cannot be pickled
            conn.send(("error", RuntimeError(f"worker could not send its reply: {exc!r}"), traceback.format_exc()))


def ns3_message(stderr_text: str) -> str:
    """The ``msg="..."`` text of an ns-3 fatal error in ``stderr_text``, else its last non-empty line."""
    messages = _MSG_RE.findall(stderr_text)
    if messages:
        return messages[-1]
    lines = [line.strip() for line in stderr_text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


class NsWorker:
    """One child process that imports ns-3 once and runs calls for the parent.

    Use one worker from one thread at a time. ``call`` pickles the function by reference,
    so it must be importable at module level.
    """

    def __init__(self, start_method: str = "spawn") -> None:
        self._context = multiprocessing.get_context(start_method)
        self._process: Any = None
        self._conn: Connection | None = None
        self._home: Path | None = None
        self.starts = 0

    def _start(self) -> None:
        self._home = Path(tempfile.mkdtemp(prefix="netbench-ns3-"))
        (self._home / ".rootrc").write_text(_ROOTRC)
        parent, child = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(child, str(self._home)), daemon=True,
                                              name="netbench-ns3-worker")
        self._process.start()
        child.close()
        self._conn = parent
        self.starts += 1

    @property
    def alive(self) -> bool:
        """Whether a child is running now."""
        return self._process is not None and self._process.is_alive()

    def call(self, fn: Callable[..., T], *args: Any, timeout_s: float | None = None, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in the child and return its result.

        Exceptions raised there are raised here (with the remote traceback as cause). A
        child that dies (an ns-3 abort) or exceeds ``timeout_s`` gives ``ScenarioError``.
        """
        if not self.alive:
            self._discard()
            self._start()
        assert self._conn is not None
        name = getattr(fn, "__qualname__", repr(fn))
        try:
            self._conn.send((fn, args, kwargs))
            if timeout_s is not None and not self._conn.poll(timeout_s):
                self._discard()
                raise ScenarioError(f"ns-3 worker gave no answer to {name} within {timeout_s:g} s; it was stopped")
            reply = self._conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            raise self._died(name) from None
        except KeyboardInterrupt:  # Ctrl-C while the child works: it stops too (the next call starts a new one)
            self.kill()
            raise
        if reply[0] == "ok":
            return reply[1]
        _, exc, remote = reply
        raise exc from RemoteTraceback(remote)

    def _died(self, name: str) -> ScenarioError:
        assert self._process is not None and self._home is not None
        self._process.join(5)
        code = self._process.exitcode
        try:
            stderr = (self._home / _STDERR).read_text(errors="replace")
        except OSError:
            stderr = ""
        self._discard()
        status = f"exit code {code}" if code is None or code >= 0 else f"signal {-code}"
        return ScenarioError(f"ns-3 aborted in {name} ({status}): {ns3_message(stderr)}")

    def _discard(self) -> None:
        """Forget the current child (killing it if it still runs) and its folder."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(5)
            self._process = None
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    def kill(self) -> None:
        """Stop the child at once (after Ctrl-C; safe from another thread): a call waiting on it raises
        ``ScenarioError``, and the next call starts a new child."""
        process = self._process
        if process is not None and process.is_alive():
            process.kill()

    def close(self) -> None:
        """Ask the child to exit, then clean up."""
        if self.alive and self._conn is not None:
            try:
                self._conn.send(None)
                self._process.join(5)
            except (BrokenPipeError, OSError):
                pass
        self._discard()

    def __enter__(self) -> NsWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_shared: NsWorker | None = None
_shared_lock = threading.Lock()


def shared_worker() -> NsWorker:
    """This process's default worker, started on first use and closed at exit.

    Reusing it keeps the bindings' import cost (and ~640 MB) to one child per process.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = NsWorker()
            atexit.register(_shared.close)
        return _shared


class WorkerPool:
    """Workers lent out one call at a time, to as many threads as there are workers.

    The one pool the harness runs ns-3 work on (sweep cells, round-parallel prefill): a
    call waits for an idle worker, runs on it, and gives it back, failed or not.
    """

    def __init__(self, workers: Sequence[NsWorker]) -> None:
        if not workers:
            raise ScenarioError("a worker pool needs at least one worker")
        self.workers = list(workers)
        self._idle: queue.Queue[NsWorker] = queue.Queue()
        for worker in self.workers:
            self._idle.put(worker)

    def __len__(self) -> int:
        return len(self.workers)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on the next idle worker (:meth:`NsWorker.call`)."""
        worker = self._idle.get()
        try:
            return worker.call(fn, *args, **kwargs)
        finally:
            self._idle.put(worker)

    def run(self, jobs: Iterable[tuple[K, Callable[[], T]]]) -> Iterator[tuple[K, T]]:
        """Run each ``(key, job)`` on a thread of its own (one per worker); yield ``(key, result)`` as each ends.

        A job calls :meth:`call` for its ns-3 work; an exception it raises is raised here. When
        the consumer is left by an exception (Ctrl-C) or stops early (a closed generator), the
        jobs not started yet are cancelled and every worker's child is killed, so the caller
        is back within moments instead of after every queued job has run.
        """
        threads = ThreadPoolExecutor(len(self.workers))
        try:
            futures = {threads.submit(job): key for key, job in jobs}
            for future in as_completed(futures):
                yield futures[future], future.result()
        except Exception:  # a failed job: the others still queued are not started, running ones end
            threads.shutdown(wait=True, cancel_futures=True)
            raise
        except BaseException:  # Ctrl-C or a consumer that stopped early: cancel, and kill the running ones
            threads.shutdown(wait=False, cancel_futures=True)
            for worker in self.workers:
                worker.kill()
            raise
        threads.shutdown(wait=True)
