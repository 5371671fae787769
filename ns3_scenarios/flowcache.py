"""Completion times persisted on disk, keyed by everything that determines them.

A key is the SHA-256 of a canonical JSON spec (a flow's or a client round's resolved
parameters, random seeds included) plus :func:`version`: the ns-3 wheel's version and a hash
of the files whose code decides a simulation's outcome (:data:`CODE`: the Python modules, the
C++ headers, the link and seed models). One small file per key under
``$NETBENCH_FLOW_CACHE`` (default ``~/.cache/fedlora-netbench/flows``; ``off`` disables it),
written to a temporary name and renamed into place, so concurrent worker processes never see
a partial value (two may compute the same key; both write the same value).
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from fl_core.rundir.atomic import temp_file

#: Environment variable: the cache folder, or ``off``.
CACHE_ENV = "NETBENCH_FLOW_CACHE"
#: The package folder that :data:`CODE` paths are relative to.
PACKAGE = Path(__file__).parent
#: Every file whose code decides a flow's or a round's simulated times; a change to any of them
#: changes every key (the cell engines add their own files: ``engines.cell.CELL_CODE``).
CODE = ("simcore.py", "cpp/netbench.h", "cpp/linux_cubic.h", "cpp/rcv_autotune.h", "tcp.py", "links.py", "seeds.py",
        "network.py", "transfers.py", "engines/isolated.py", "engines/star.py")


@lru_cache(maxsize=1)
def version() -> str:
    """``ns3-<version>-<12 hex of this package's simulation code>``."""
    try:
        ns3_version = metadata.version("ns3")
    except metadata.PackageNotFoundError:
        ns3_version = "unknown"
    return f"ns3-{ns3_version}-{code_digest(CODE)}"


def code_digest(names: tuple[str, ...]) -> str:
    """12 hex digits of the files ``names`` (paths in :data:`PACKAGE`), their names and contents."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0" + (PACKAGE / name).read_bytes())
    return digest.hexdigest()[:12]


def spec_key(spec: Any) -> str:
    """64 hex chars identifying ``spec`` (JSON-able) under this :func:`version`."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(f"{version()}\n{text}".encode()).hexdigest()


def cache_dir() -> Path | None:
    """The folder for this version's entries, or ``None`` when the cache is off."""
    setting = os.environ.get(CACHE_ENV, "")
    if setting.strip().lower() in ("off", "0", "none", "false"):
        return None
    base = Path(setting).expanduser() if setting else Path.home() / ".cache" / "fedlora-netbench" / "flows"
    return base / version()


class DiskCache:
    """JSON values by key in ``folder`` (``None``: a cache that holds nothing)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.hits = self.misses = 0

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key[2:]}.json"

    def get(self, key: str) -> Any:
        if self.folder is None:
            return None
        try:
            value = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, key: str, value: Any) -> None:
        if self.folder is None:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = temp_file(path.parent, prefix=".tmp-", suffix="")
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(value))
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs time


_disk: DiskCache | None = None


def disk() -> DiskCache:
    """This process's cache at :func:`cache_dir` (read from the environment once)."""
    global _disk
    if _disk is None:
        _disk = DiskCache(cache_dir())
    return _disk


def reset(folder: Path | None | str = "env") -> DiskCache:
    """Point this process's cache at ``folder`` (default: the environment's setting again)."""
    global _disk
    _disk = DiskCache(cache_dir() if folder == "env" else (None if folder is None else Path(folder)))
    return _disk
