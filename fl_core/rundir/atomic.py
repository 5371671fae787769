"""Atomic file writes: a reader never sees a half-written result file."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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


def check_out_file(path: str | os.PathLike, option: str = "--out") -> Path:
    """Like :func:`check_out_dir` for a file to be written: its folder must be creatable and writable."""
    from fl_core.errors import OutputError

    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{option} {path}: is a folder, expected a file name")
    check_out_dir(path.parent, option)
    return path
