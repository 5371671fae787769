"""Executor refusals that need no Ray instance."""
from __future__ import annotations

import sys

import pytest

from fl_core.errors import ConfigError
from fl_core.executors import import_ray


def test_missing_ray_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without the extra looks like
    with pytest.raises(ConfigError, match=r"pip install 'fedlora-netbench\[ray\]' \(or pip install ray==2.60.0\)"):
        import_ray()
