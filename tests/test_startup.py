"""``netbench train`` starts fast: its help and every refusal that needs no model import no torch,
transformers or peft (issue 23.3). Each case is a real ``python -m harness`` process."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "peft")
#: runs the CLI like ``python -m harness``, then names the heavy modules it imported (stderr, last line)
RUNNER = ("import atexit, runpy, sys\n"
          "atexit.register(lambda: print('heavy:', ','.join(m for m in %r if m in sys.modules), file=sys.stderr))\n"
          "sys.argv = ['netbench'] + sys.argv[1:]\n"
          "runpy.run_module('harness', run_name='__main__')\n" % (HEAVY,))


def _netbench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", RUNNER, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


# (id, arguments, exit code, needle in the output); every case must leave torch, transformers and peft unimported
CASES = [
    ("help", ["train", "--help"], 0, "--celora-tau"),
    ("bad-option", ["train", "--rank", "0"], 2, "--rank"),
    ("unknown-method", ["train", "--method", "fedavg"], 2, "unknown method 'fedavg'"),
    ("combination", ["train", "--method", "flora", "--objective", "dpo"], 2, "does not support objective 'dpo'"),
    ("schedule-needs", ["train", "--schedule", "deadline", "--links", "1/5"], 2, "needs --deadline"),
    ("component-setting", ["train", "--celora-tau", "0.5"], 2, "apply only when celora"),
    ("offline-hub-id", ["train", "--model", "someone/some-model"], 2, "this machine is offline"),
    ("out-under-a-file", ["train", "--out", "afile/run"], 2, "cannot be created or written"),
    ("out-holds-a-run", ["train", "--out", "done"], 2, "already holds a run"),
]


@pytest.mark.parametrize("args, code, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_train_refuses_and_helps_without_heavy_imports(args, code, needle, tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "run.json").write_text("{}")
    result = _netbench(*args, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == code and needle in output, output
    assert "Traceback" not in output
    assert output.strip().splitlines()[-1] == "heavy:", output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "done"]  # a refusal creates nothing
