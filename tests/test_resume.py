"""A run killed with SIGKILL mid-way resumes to a byte-identical trace."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from click.testing import CliRunner

from fl_core.rundir.reader import read_run
from harness.cli import main


def _args(dolly_file, out) -> list[str]:
    return ["train", "--method", "fedit+ecolora", "--model", "tiny-llama", "--dataset", str(dolly_file),
            "--clients", "6", "--participants", "3", "--segments", "3", "--rounds", "12", "--local-steps", "3",
            "--batch-size", "2", "--max-len", "48", "--rank", "4", "--lora-alpha", "8", "--eval-examples", "8",
            "--eval-every", "4", "--arc-subset", "0", "--arc-final", "0", "--lr", "0.001", "--no-progress",
            "--out", str(out)]


def _completed(out) -> int:
    try:
        return json.loads((out / "state" / "checkpoint.json").read_text())["completed_round"]
    except (FileNotFoundError, json.JSONDecodeError):
        return -1


def test_kill_9_then_resume_gives_identical_bytes(dolly_file, tmp_path):
    reference = tmp_path / "reference"
    result = CliRunner().invoke(main, _args(dolly_file, reference))
    assert result.exit_code == 0, result.output

    killed = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "harness", *_args(dolly_file, killed)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while _completed(killed) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _completed(killed)
    assert 3 <= done < 11, f"kill landed after round {done}"
    assert read_run(killed).meta["status"] == "running"

    result = CliRunner().invoke(main, ["train", "--resume", str(killed), "--no-progress"])
    assert result.exit_code == 0, result.output
    ref, res = read_run(reference), read_run(killed)
    cols = ["round", "client", "uplink_sha256", "downlink_sha256", "uplink_bytes", "downlink_bytes"]
    assert ref.rounds[cols].equals(res.rounds[cols])
    assert res.meta["status"] == "complete"
    assert list(res.evals["round"]) == list(ref.evals["round"])


def test_resume_refuses_a_complete_or_missing_run(dolly_file, tmp_path):
    result = CliRunner().invoke(main, ["train", "--resume", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "nothing to resume" in result.output
