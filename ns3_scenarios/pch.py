"""A precompiled header of the ns-3 headers, so that ``from ns import ns`` takes ~3 s instead of ~20 s.

The ns3 wheel's loader ``cppyy.include``\\ s all 42 ns-3 module headers on every import, and cling
parses them from source each time (about 20 s of one core here; every ns-3 worker process pays
it). cppyy loads one precompiled header at start-up, ``$CLING_STANDARD_PCH``, by default one of
the C++ standard library alone. :func:`build` makes one that holds the standard headers *and*
the ns-3 headers, with the same include paths and macros the loader uses (recorded while it
imports ns-3 once), checks that ns-3 imports and simulates with it, and publishes it under
:func:`pch_path`; :func:`activate` points ``$CLING_STANDARD_PCH`` at it before ns-3 is imported,
after which the loader's includes find every header already parsed. Simulations are the same
code either way: the headers are the same, and the suite's pinned ns-3 figures pass with and
without it (flows checked bit-identical by hand, e.g. 1.396288 s and 3.4347696 s).

The header is tied to the exact installed ns3 and cppyy builds (its name hashes their versions,
library files and this interpreter's prefix). ``make install`` builds it
(``python -m ns3_scenarios.pch``, ~50 s); otherwise the first process that imports ns-3
without one starts a build in the background for the next ones. ``$NETBENCH_NS3_PCH=off``
turns all of this off; ``$NETBENCH_NS3_PCH=FOLDER`` keeps the header there.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ns3_scenarios import cppyy_api

ENV = "NETBENCH_NS3_PCH"
#: The cppyy builds the header is valid for (their versions and library files enter its name).
_PACKAGES = ("ns3", "cppyy", "cppyy-backend", "cppyy-cling", "CPyCppyy")
#: A build older than this holding the lock is taken to have died.
_STALE_LOCK_S = 600
#: What a published header is checked with: ns-3 imports and runs a simulation to its stop time.
_CHECK = ("from ns import ns; ns.Simulator.Stop(ns.Seconds(1)); ns.Simulator.Run(); "
          "assert ns.Simulator.Now().GetSeconds() == 1.0; ns.Simulator.Destroy()")


def enabled() -> bool:
    """False when ``$NETBENCH_NS3_PCH`` is ``off`` (or ``0``/``none``/``false``)."""
    return os.environ.get(ENV, "").strip().lower() not in ("off", "0", "none", "false")


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is not None and spec.submodule_search_locations:  # ns3 is a namespace package: no origin
        return Path(next(iter(spec.submodule_search_locations)))
    raise FileNotFoundError(f"{module} is not installed")


def _key() -> str:
    """16 hex chars naming the installed ns3/cppyy builds this header belongs to."""
    parts = [sys.prefix, sys.version]
    for name in _PACKAGES:
        try:
            parts.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{name} missing")
    for lib in (_package_dir("cppyy_backend") / "lib" / "libCling.so", _package_dir("ns3") / "lib64"):
        with contextlib.suppress(OSError):
            parts.append(f"{lib}@{lib.stat().st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def pch_path() -> Path:
    """Where this installation's header lives: ``<folder>/<key>.pch``, the folder being
    ``$NETBENCH_NS3_PCH`` if it names one, else ``~/.cache/fedlora-netbench/ns3-pch``."""
    setting = os.environ.get(ENV, "").strip()
    folder = Path(setting).expanduser() if setting and enabled() else Path.home() / ".cache" / "fedlora-netbench" / "ns3-pch"
    return folder / f"{_key()}.pch"


def activate() -> bool:
    """Point cppyy at this installation's header if it exists (call before importing ns-3)."""
    if not enabled() or "cppyy" in sys.modules:
        return False
    path = pch_path()
    if not path.is_file():
        return False
    os.environ["CLING_STANDARD_PCH"] = str(path)
    return True


@contextlib.contextmanager
def recording() -> Iterator[list[str]]:
    """Record the macros and headers the ns3 loader hands cling while ns-3 is imported inside."""
    cppyy_api.ensure()
    import cppyy

    lines: list[str] = []
    include, cppexec = cppyy.include, cppyy.cppexec

    def record_include(header: str):
        lines.append(f'#include "{header}"')
        return include(header)

    def record_exec(code: str):
        if code.strip():
            lines.append(code.strip())
        return cppexec(code)

    cppyy.include, cppyy.cppexec = record_include, record_exec
    try:
        yield lines
    finally:
        cppyy.include, cppyy.cppexec = include, cppexec


def build(header_lines: list[str], path: Path | None = None) -> Path:
    """Precompile the standard headers and ``header_lines`` into ``path``, check it, publish it.

    Raises ``RuntimeError`` (with rootcling's or the check's last output) if either fails; a
    header that fails its check is never published.
    """
    path = path or pch_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    backend = _package_dir("cppyy_backend")
    includes = _package_dir("ns3") / "include"
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".build-") as tmp:
        header, pch = Path(tmp) / "ns3_all.h", Path(tmp) / "ns3.pch"
        header.write_text("\n".join(header_lines) + "\n")
        made = subprocess.run([sys.executable, str(backend / "etc" / "dictpch" / "makepch.py"), str(pch),
                               f"-I{includes}", str(header)], cwd=backend, capture_output=True, text=True)
        if made.returncode != 0 or not pch.is_file():
            raise RuntimeError(f"rootcling could not precompile the ns-3 headers: {_tail(made)}")
        env = {**os.environ, "CLING_STANDARD_PCH": str(pch)}
        checked = subprocess.run([sys.executable, "-c", _CHECK], cwd=tmp, env=env, capture_output=True, text=True)
        if checked.returncode != 0:
            raise RuntimeError(f"ns-3 does not import with the precompiled header: {_tail(checked)}")
        os.replace(pch, path)
    return path


def _tail(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {done.returncode}"


def _claim(lock: Path) -> bool:
    """Take ``lock`` (a file made with O_EXCL); a lock older than ten minutes is broken first."""
    with contextlib.suppress(OSError):
        if time.time() - lock.stat().st_mtime > _STALE_LOCK_S:
            lock.unlink()
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    return True


def build_in_background(header_lines: list[str]) -> None:
    """Start one detached build of this installation's header unless one is running or done."""
    path = pch_path()
    if not enabled() or path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if not _claim(path.with_suffix(".lock")):
        return
    lines = path.with_suffix(".h.json")
    lines.write_text(json.dumps(header_lines))
    log = open(path.with_suffix(".log"), "w")  # noqa: SIM115 (the child owns it)
    subprocess.Popen([sys.executable, "-m", "ns3_scenarios.pch", "--lines", str(lines)], stdout=log, stderr=log,
                     stdin=subprocess.DEVNULL, start_new_session=True, cwd=path.parent)


def _record_in_child() -> list[str]:
    """Import ns-3 in a clean child process with :func:`recording` on; return what it recorded."""
    code = ("import json, sys\nfrom ns3_scenarios.pch import recording\n"
            "with recording() as lines:\n    from ns import ns\njson.dump(lines, sys.stdout)\n")
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, ENV: "off", "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    with tempfile.TemporaryDirectory() as tmp:  # the ns3 loader globs *.so below its working folder
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"importing ns-3 failed: {_tail(done)}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """``python -m ns3_scenarios.pch [--lines FILE]``: build this installation's header now."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ns3_scenarios.pch", description=main.__doc__)
    parser.add_argument("--lines", type=Path, help="the recorded header lines (JSON); default: record them now")
    args = parser.parse_args(argv)
    path = pch_path()
    lock = path.with_suffix(".lock")
    try:
        if path.is_file():
            print(f"ns-3 precompiled header: {path} (exists)")
            return 0
        started = time.monotonic()
        lines = json.loads(args.lines.read_text()) if args.lines else _record_in_child()
        build(lines, path)
        print(f"ns-3 precompiled header: {path} ({path.stat().st_size / 1e6:.0f} MB, "
              f"{time.monotonic() - started:.0f} s)")
        return 0
    except (RuntimeError, OSError) as err:
        print(f"ns-3 precompiled header not built ({err}); ns-3 imports without it", file=sys.stderr)
        return 1
    finally:
        if args.lines:
            with contextlib.suppress(OSError):
                args.lines.unlink()
            with contextlib.suppress(OSError):
                lock.unlink()


if __name__ == "__main__":
    sys.exit(main())
