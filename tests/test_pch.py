"""The ns-3 precompiled header (ns3_scenarios/pch.py): where it lives, when it is used or built.

Whether simulations give the same results with it is what every pinned ns-3 figure in this suite
checks: the suite's ns-3 workers load it whenever ``make install`` (or an earlier process) built it.
"""
from __future__ import annotations

import importlib.metadata
import os
import time

import pytest

from ns3_scenarios import pch


def test_the_header_is_named_by_the_installed_builds_and_lives_in_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(pch.ENV, str(tmp_path))
    path = pch.pch_path()
    assert path.parent == tmp_path and path.suffix == ".pch"
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "9.9" if name == "ns3" else real(name))
    assert pch.pch_path() != path  # another ns3 build: another header


@pytest.mark.parametrize("value", ["off", "0", "none", "False"])
def test_off_disables_use_and_build(monkeypatch, tmp_path, value):
    monkeypatch.setenv(pch.ENV, str(tmp_path))
    path = pch.pch_path()
    path.write_bytes(b"a header")
    monkeypatch.setenv(pch.ENV, value)
    monkeypatch.delenv("CLING_STANDARD_PCH", raising=False)
    assert not pch.enabled() and not pch.activate() and "CLING_STANDARD_PCH" not in os.environ
    path.unlink()
    pch.build_in_background(["#include <vector>"])
    assert list(tmp_path.iterdir()) == []  # no lock, no lines, no build


def test_a_build_is_started_once_and_a_dead_builders_lock_is_broken(tmp_path):
    lock = tmp_path / "x.lock"
    assert pch._claim(lock) and not pch._claim(lock)
    old = time.time() - pch._STALE_LOCK_S - 1
    os.utime(lock, (old, old))
    assert pch._claim(lock)  # the stale lock was broken and taken again


def test_no_background_build_when_the_header_exists(monkeypatch, tmp_path):
    monkeypatch.setenv(pch.ENV, str(tmp_path))
    path = pch.pch_path()
    path.write_bytes(b"a header")
    pch.build_in_background(["#include <vector>"])
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
