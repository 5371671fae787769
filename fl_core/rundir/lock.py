"""One process per output folder: an exclusive ``fcntl`` lock on ``FOLDER/.lock``.

A train (or resume) holds the lock of its run directory and a sweep the lock of its
``--out`` for their whole life, so two processes never write into one folder: the
second one is refused at once with a line naming the holder's pid and host. Checking
a folder (does it hold a run already?) and creating its files happen under the lock,
which makes the check and the creation one atomic step.

The lock is advisory (it binds netbench processes) and dies with its holder: a
killed process leaves at most a stale ``.lock`` file that the next process simply
locks again. POSIX only (``fcntl``), like ns-3.
"""
from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fl_core.rundir.atomic import check_out_dir
from fl_core.errors import OutputError, RunDirError

LOCK_NAME = ".lock"


def _holder(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except OSError:
        text = ""
    return text or "another netbench process"


def _open_locked(path: Path) -> int:
    """A descriptor of ``path`` holding its exclusive lock; ``RunDirError`` if another process has it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunDirError(
                f"{path.parent} is in use by {_holder(path)}; wait for it to finish or choose another --out"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:  # else the previous holder removed the file between our open and our lock: retry
            return fd
        os.close(fd)


@contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "run", option: str = "--out") -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` (created if missing) for the ``with`` block.

    ``what`` names the holder's job in the refusal ("train", "sweep"), ``option`` the
    command-line option that chose the folder (for the message if it cannot be created). On exit the lock
    file is removed, and ``folder`` too (with the parents this call created) if nothing
    else was written there, so a refused or failed start leaves nothing behind.
    """
    folder = Path(folder)
    created = [p for p in (folder, *folder.absolute().parents) if not p.exists()]  # deepest first
    check_out_dir(folder, option)
    path = folder / LOCK_NAME
    try:
        fd = _open_locked(path)
    except OSError as exc:
        raise OutputError(f"{option} {folder}: cannot take its lock ({exc.strerror or exc})") from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"netbench {what} (pid {os.getpid()} on host {socket.gethostname()})\n".encode())
        yield folder
    finally:
        try:
            path.unlink()  # while still holding the lock: a waiting opener then sees a new inode and retries
        except OSError:
            pass
        os.close(fd)
        for made in created:
            try:
                made.rmdir()  # only succeeds when empty
            except OSError:
                break
