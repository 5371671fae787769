"""``netbench train`` starts fast: its help and every refusal that needs no model import no torch,
transformers or peft (issue 23.3). The cases run in one fresh Python process, which then names the
heavy modules it imported; ``python -m harness train --help`` runs as its own process too."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "peft")

# (id, arguments, exit code, needle in the output)
CASES = [
    ("help", ["train", "--help"], 0, "--celora-tau"),
    ("bad-option", ["train", "--rank", "0"], 2, "--rank"),
    ("unknown-method", ["train", "--method", "fedavg"], 2, "unknown method 'fedavg'"),
    ("combination", ["train", "--method", "flora", "--objective", "dpo"], 2, "does not support objective 'dpo'"),
    ("schedule-needs", ["train", "--schedule", "deadline", "--links", "1/5"], 2, "needs --deadline"),
    ("component-setting", ["train", "--celora-tau", "0.5"], 2, "apply only when celora"),
    ("ignored-option", ["train", "--fixed-k", "0.1"], 2, "--fixed-k only apply with EcoLoRA"),
    ("offline-hub-id", ["train", "--model", "someone/some-model"], 2, "this machine is offline"),
    ("out-under-a-file", ["train", "--out", "afile/run"], 2, "cannot be created or written"),
    ("out-holds-a-run", ["train", "--out", "done"], 2, "already holds a run"),
]
#: runs every case through the CLI in this one process, then prints the results and the heavy modules loaded
RUNNER = """
import json, sys
from click.testing import CliRunner
from harness.cli import main
results = {case: [r.exit_code, r.output] for case, args in json.loads(sys.argv[1])
           for r in [CliRunner().invoke(main, args)]}
print(json.dumps({"results": results, "heavy": [m for m in %r if m in sys.modules]}))
""" % (HEAVY,)


def _python(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_train_helps_and_refuses_without_heavy_imports(tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "run.json").write_text("{}")
    done = _python("-c", RUNNER, json.dumps([[c[0], c[1]] for c in CASES]), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for case, _, code, needle in CASES:
        exit_code, output = report["results"][case]
        assert exit_code == code and needle in output and "Traceback" not in output, (case, output)
    assert report["heavy"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "done"]  # a refusal creates nothing


def test_python_m_harness_train_help_imports_no_torch(tmp_path):
    probe = ("import runpy, sys; sys.argv = ['netbench', 'train', '--help']\n"
             "try:\n    runpy.run_module('harness', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "print('heavy:', [m for m in %r if m in sys.modules])" % (HEAVY,))
    done = _python("-c", probe, cwd=tmp_path)
    assert "--resume" in done.stdout and done.stdout.strip().splitlines()[-1] == "heavy: []", done.stdout + done.stderr
