"""Atomic file writes: a reader never sees a half-written result file.

Every file is written to a temporary file in its folder and renamed into place. ``tempfile``
makes temporary files 0600 (and folders 0700); :func:`temp_file` and :func:`user_mode` give
them the mode a plain ``open()`` would (0666 or 0777 less the umask), so a results folder
is as readable as the user's other files.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process's umask: read from ``/proc`` where possible (setting it to read it races other threads)."""
    try:
        found = re.search(r"^Umask:\s*([0-7]+)", Path("/proc/self/status").read_text(), re.M)
    except OSError:
        found = None
    if found:
        return int(found.group(1), 8)
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def user_mode(path: str | os.PathLike) -> None:
    """Give a file made by ``tempfile`` (0600) or a folder (0700) the mode ``open()``/``mkdir`` would."""
    full = 0o777 if Path(path).is_dir() else 0o666
    os.chmod(path, full & ~_umask())


def temp_file(folder: str | os.PathLike, prefix: str, suffix: str = ".tmp") -> tuple[int, str]:
    """``tempfile.mkstemp`` in ``folder`` with the user's normal file mode: ``(fd, path)``."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file(path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write UTF-8 text."""
    write_bytes(path, text.encode())


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_frame(path: str | os.PathLike, frame) -> None:
    """Atomically write a pandas DataFrame as CSV (``.csv``) or Parquet (``.parquet``)."""
    path = Path(path)
    if path.suffix == ".parquet":
        import io

        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        write_bytes(path, buf.getvalue())
    else:
        write_text(path, frame.to_csv(index=False))


def check_out_dir(folder: str | os.PathLike, option: str = "--out") -> Path:
    """Create ``folder`` if needed and prove it writable, before any work: ``OutputError`` otherwise."""
    from fl_core.errors import OutputError

    folder = Path(folder)
    try:
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{option} {folder}: exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{option} {folder}: cannot be created or written ({exc.strerror or exc})") from None
    return folder


def check_can_create(folder: str | os.PathLike, option: str = "--out") -> Path:
    """Prove ``folder`` can be created (or written, if it exists) without creating it: a command refused
    later, or one that finds nothing to write, leaves no empty folder behind. ``OutputError`` otherwise."""
    from fl_core.errors import OutputError

    folder = Path(folder)
    if folder.exists():
        return check_out_dir(folder, option)
    parent = folder.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{option} {folder}: {parent} exists and is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {folder}: cannot be created ({parent} is not writable)")
    return folder


def check_out_file(path: str | os.PathLike, option: str = "--out") -> Path:
    """Like :func:`check_out_dir` for a file to be written: its folder must be creatable and writable."""
    from fl_core.errors import OutputError

    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{option} {path}: is a folder, expected a file name")
    check_out_dir(path.parent, option)
    return path
