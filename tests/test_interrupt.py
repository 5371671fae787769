"""Ctrl-C stops a sweep at once (issue 24.A): a real ``netbench sweep`` process, a real SIGINT to its
process group (what a terminal sends), exit within seconds with the finished cells kept and the
command that continues printed (the rerun skipping them is tested in test_replay)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fl_core.rundir.writer import RunWriter

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = ",".join(f"{1 + k / 10:g}/{5 + k / 2:g}" for k in range(40))  # 40 cells: far more than 3 s of work


def _slow_run(path: Path) -> Path:
    """Six rounds of ten 600 kB uploads: each cell is a few seconds of ns-3 work."""
    writer = RunWriter(path, keep_blobs=False)
    writer.write_meta({"method": "fedit", "run_name": path.name})
    for r in range(6):
        writer.add_round([{"round": r, "client": c, "compute_s": 1.0, "uplink_bytes": 600_000 + c,
                           "downlink_bytes": 600_000} for c in range(10)])
    return path


def test_ctrl_c_stops_a_sweep_within_seconds_and_keeps_finished_cells(tmp_path):
    run, out = _slow_run(tmp_path / "run"), tmp_path / "sweep"
    argv = [sys.executable, "-m", "harness", "sweep", str(run), "--networks", NETWORKS, "--out", str(out),
            "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NETBENCH_FLOW_CACHE": "off"}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not list((out / "cells").glob("*.csv")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)
        sent = time.monotonic()
        _, stderr = proc.communicate(timeout=30)
        stopped_s = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    kept = list((out / "cells").glob("*.csv"))
    assert proc.returncode == 130, stderr
    assert stopped_s < 3.0, f"the sweep took {stopped_s:.1f} s to stop"
    assert 1 <= len(kept) < 40
    assert stderr.strip().splitlines()[-1].endswith(f"continue with: netbench sweep {run} --networks {NETWORKS} "
                                                    f"--out {out} --no-progress"), stderr
    assert "Traceback" not in stderr
