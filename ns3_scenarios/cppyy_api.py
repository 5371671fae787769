"""Make CPyCppyy's C++ API headers findable as ``CPyCppyy/API.h`` before cppyy is imported.

cppyy converts a Python callable to a ``std::function`` (every flow-completion callback here)
by compiling against ``CPyCppyy/API.h``. pip installs those headers under
``<venv>/include/site/python3.X/CPyCppyy``; uv writes the same files under the normalised name
``cpycppyy``, where cppyy's ``#include "CPyCppyy/API.h"`` cannot find them on a case-sensitive
file system, and every callback assignment then fails with "could not convert argument 1".
:func:`ensure` points ``$CPPYY_API_PATH`` at a folder holding a copy of the headers under
the name cppyy expects; it changes nothing when cppyy would find them itself.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import sys
import tempfile
from pathlib import Path

ENV = "CPPYY_API_PATH"
#: Where the copies live when the installer used another name: one folder per header location.
CACHE = Path.home() / ".cache" / "fedlora-netbench" / "cppyy-api"


def installed_header() -> Path | None:
    """The installed ``API.h`` of the CPyCppyy distribution, from its RECORD (None if absent)."""
    try:
        files = importlib.metadata.files("CPyCppyy") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        if entry.name == "API.h":
            return Path(entry.locate()).resolve()
    return None


def api_root(header: Path, cache: Path = CACHE) -> Path:
    """A folder whose ``CPyCppyy/API.h`` is ``header``'s content: its grandparent when the headers'
    folder is already called ``CPyCppyy``, else a folder under ``cache`` holding a copy of the
    headers under that name (a copy, not a link: cling warns when an include's case differs from
    the resolved file's)."""
    folder = header.parent
    if folder.name == "CPyCppyy":
        return folder.parent
    root = cache / hashlib.sha256(str(folder).encode() + header.read_bytes()).hexdigest()[:16]
    if not (root / "CPyCppyy" / header.name).is_file():
        root.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=".CPyCppyy-", dir=root))
        for source in folder.glob("*.h"):
            shutil.copy2(source, staged / source.name)
        try:
            os.rename(staged, root / "CPyCppyy")  # atomic; a concurrent process may have won the race
        except OSError:
            shutil.rmtree(staged, ignore_errors=True)
    return root


def ensure() -> Path | None:
    """Set ``$CPPYY_API_PATH`` (if unset and cppyy not yet imported) so the API headers are found;
    returns the folder it was set to, or None where nothing needed doing."""
    if os.environ.get(ENV) or "cppyy" in sys.modules:
        return None
    header = installed_header()
    if header is None or header.parent.name == "CPyCppyy":
        return None
    root = api_root(header)
    os.environ[ENV] = str(root)
    return root
