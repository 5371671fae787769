"""The flow and cell caches' keys cover every file whose code decides a simulated time.

A cached completion time is only valid for the code that computed it: a changed link model
(``links.py``), seed derivation (``seeds.py``), C++ helper or engine must give new keys, so a
replay never returns a stale time. Keys are computed from a copy of the package whose files
are then edited; nothing is simulated.
"""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from ns3_scenarios import flowcache
from ns3_scenarios.engines import cell
from ns3_scenarios.engines.isolated import FlowSpec
from ns3_scenarios.engines.wifi import WifiSettings
from ns3_scenarios.network import parse_network
from ns3_scenarios.transfers import ClientTransfer

#: Modules an engine imports whose code cannot change a simulated time.
NOT_DECIDING = {
    "errors.py": "exception classes",
    "flowcache.py": "where results are stored, and their keys",
    "engines/registry.py": "the name -> engine map and the settings type check",
    "checks.py": "parse and check settings; a key holds the parsed values",
    "units.py": "the unit table of those parsers",
    "pch.py": "how fast ns-3's headers load (a precompiled copy of the same headers)",
    "cppyy_api.py": "where cppyy finds CPyCppyy's headers (a copy of the installed ones)",
}


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A copy of ``ns3_scenarios`` that the cache keys are computed from."""
    copy = tmp_path / "ns3_scenarios"
    shutil.copytree(flowcache.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(flowcache, "PACKAGE", copy)
    yield copy
    flowcache.version.cache_clear()
    cell.code_version.cache_clear()


def keys() -> tuple[str, str]:
    """A flow's key and a WiFi round's key under the code in :data:`flowcache.PACKAGE` now."""
    flowcache.version.cache_clear()
    cell.code_version.cache_clear()
    flow = flowcache.spec_key(FlowSpec(50_000, 1e6, 5e6, 0.05).resolved())
    network = parse_network("1/5")
    transfers = [ClientTransfer(0, 1000, 0.5, 2000), ClientTransfer(1, 1000, 0.25, 3000)]
    return flow, cell.round_key("wifi", network, transfers, 7, WifiSettings.default())


def _edit(path: Path) -> None:
    with path.open("a") as f:
        f.write("\n// edited\n" if path.suffix == ".h" else "\n# edited\n")


@pytest.mark.parametrize("name", ["links.py", "seeds.py", "simcore.py", "cpp/netbench.h", "cpp/linux_cubic.h",
                                  "cpp/rcv_autotune.h", "engines/isolated.py", "engines/star.py", "tcp.py", "network.py", "transfers.py"])
def test_a_changed_shared_file_invalidates_the_flow_and_the_cell_cache(package_copy, name):
    flow, cell_round = keys()
    _edit(package_copy / name)
    new_flow, new_cell_round = keys()
    assert new_flow != flow and new_cell_round != cell_round


@pytest.mark.parametrize("name", ["engines/cell.py", "engines/wifi.py", "engines/lte.py", "cpp/cell_schedule.h"])
def test_a_changed_cell_file_invalidates_the_cell_cache_only(package_copy, name):
    flow, cell_round = keys()
    _edit(package_copy / name)
    new_flow, new_cell_round = keys()
    assert new_flow == flow and new_cell_round != cell_round


def _project_imports(path: Path, package: Path) -> set[str]:
    """Files of ``package`` that ``path`` imports (module level and inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] != "ns3_scenarios" or len(parts) < 2:
                continue
            rel = Path(*parts[1:])
            for candidate in (rel.with_suffix(".py"), rel / "__init__.py"):
                if (package / candidate).is_file():
                    found.add(candidate.as_posix())
    return found


def test_every_module_an_engine_runs_is_hashed_or_named_harmless():
    package = flowcache.PACKAGE
    hashed = set(flowcache.CODE) | set(cell.CELL_CODE)
    todo, seen = [f"engines/{n}.py" for n in ("isolated", "star", "wifi", "lte")], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_project_imports(package / name, package))
    unhashed = sorted(seen - hashed - set(NOT_DECIDING) - {"engines/__init__.py"})
    assert not unhashed, f"modules an engine imports that no cache key covers: {unhashed}"
    assert all((package / name).is_file() for name in hashed)
