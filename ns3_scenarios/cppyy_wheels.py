"""Build the three cppyy wheels the ns3 wheel needs, fast: ``python ns3_scenarios/cppyy_wheels.py``.

ns3==3.44.post0 pins cppyy 3.5.0, whose CPyCppyy 1.13.0 and cppyy-backend 1.15.3 are published
as sources only. ``pip install`` builds each in an isolated environment of its own, which
installs its own cppyy-cling (6.30.0, twice) and rebuilds cppyy-backend (1.15.2 once, 1.15.3
twice): 175 s on this 2-core machine. ``make install`` calls this script instead, once the venv
holds cppyy-cling (the one the wheels run with), setuptools and wheel. It builds

1. cppyy-backend without build isolation, and installs it (cppyy's wheel build needs it);
2. CPyCppyy, whose one extension is 68 C++ files that setuptools compiles one after another:
   here they compile on every core (setuptools' ``CCompiler.compile`` run per object in a
   thread pool; the commands, flags and link step are setuptools' own);
3. cppyy (pure Python plus the standard precompiled header it makes at build), beside step 2.

Run by path before the package is installed; it imports nothing of this project. Usage::

    python ns3_scenarios/cppyy_wheels.py WHEELS_DIR cppyy-backend==1.15.3 CPyCppyy==1.13.0 cppyy==3.5.0
"""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def pip(*args: str) -> None:
    """``python -m pip ARGS`` quietly; raises with pip's output if it fails."""
    done = subprocess.run([sys.executable, "-m", "pip", *args, "-q"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pip {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def wheel_args(spec: str, wheels: Path) -> list[str]:
    """pip's arguments that build ``spec``'s wheel into ``wheels`` against what the venv already holds."""
    return ["wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), spec]


def compile_on_every_core(jobs: int) -> None:
    """Make setuptools compile an extension's sources ``jobs`` at a time (same commands)."""
    from setuptools._distutils import ccompiler

    def compile(self, sources, output_dir=None, macros=None, include_dirs=None, debug=False,  # noqa: A001
                extra_preargs=None, extra_postargs=None, depends=None):
        macros, objects, extra_postargs, pp_opts, build = self._setup_compile(
            output_dir, macros, include_dirs, sources, depends, extra_postargs)
        cc_args = self._get_cc_args(pp_opts, debug, extra_preargs)

        def one(obj: str) -> None:
            src, ext = build[obj]
            self._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(one, [obj for obj in objects if obj in build]))
        return objects

    ccompiler.CCompiler.compile = compile


def build_compiled(spec: str, wheels: Path, jobs: int) -> None:
    """Download ``spec``'s source and build its wheel in this process, ``jobs`` files at a time."""
    with tempfile.TemporaryDirectory() as tmp:
        pip("download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation", "-d", tmp, spec)
        (archive,) = Path(tmp).glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        (source,) = [p for p in Path(tmp).iterdir() if p.is_dir()]
        compile_on_every_core(jobs)
        os.chdir(source)
        sys.path.insert(0, str(source))
        from setuptools import build_meta

        build_meta.build_wheel(str(wheels.resolve()))


def main(argv: list[str]) -> int:
    """Build the backend, then the compiled package here and the pure one beside it."""
    if len(argv) != 4:
        raise SystemExit(__doc__.split("Usage::")[1])
    wheels, backend, compiled, pure = Path(argv[0]).resolve(), *argv[1:]
    wheels.mkdir(parents=True, exist_ok=True)
    pip(*wheel_args(backend, wheels))
    pip("install", "--no-deps", "--no-index", "--find-links", str(wheels), backend)
    beside = subprocess.Popen([sys.executable, "-m", "pip", *wheel_args(pure, wheels), "-q"])
    build_compiled(compiled, wheels, os.cpu_count() or 1)
    if beside.wait() != 0:
        raise SystemExit(f"pip wheel {pure} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
