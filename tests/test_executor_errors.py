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


def test_train_with_ray_missing_is_one_error_line(monkeypatch, dolly_file, tmp_path):
    from click.testing import CliRunner

    from harness.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)
    result = CliRunner().invoke(main, ["train", "--model", "tiny-llama", "--dataset", str(dolly_file),
                                       "--executor", "ray", "--out", str(tmp_path / "run"), "--no-progress"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("error: --executor ray needs Ray, which is not installed: pip install")
    assert not (tmp_path / "run").exists()
