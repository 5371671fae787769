"""--executor ray: the same bytes as the local executor, resumable after a worker dies (one local Ray, 2 CPUs)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from fl_core import loop
from fl_core.config import EcoLoRAConfig, RunConfig
from fl_core.errors import RunDirError
from fl_core.rundir import read_run, verify_blobs
from harness.cli import main

pytest.importorskip("ray")
from fl_core.executors.ray_actors import RayExecutor  # noqa: E402

#: Everything but the measured times.
SAME = ["round", "client", "position", "segment", "samples", "train_loss", "uplink_bytes", "downlink_bytes",
        "uplink_sha256", "downlink_sha256", "k_a", "k_b", "rank"]


def _cfg(dolly_file, **kw) -> RunConfig:
    base = dict(method="fedit", ecolora=EcoLoRAConfig(n_segments=3), model="tiny-llama", dataset=str(dolly_file),
                n_clients=6, participants=3, rounds=3, local_steps=2, batch_size=2, max_len=48, rank=4,
                lora_alpha=8, eval_examples=8, eval_every=1, arc_subset=0, arc_final=0, lr=1e-3, device="cpu")
    base.update(kw)
    return RunConfig(**base)


@pytest.fixture(scope="module")
def reference(dolly_file, tmp_path_factory):
    """The local executor's run: what every Ray run must reproduce byte for byte."""
    return read_run(loop.train(_cfg(dolly_file), tmp_path_factory.mktemp("ref") / "run", progress=False))


def _same(a, b) -> None:
    assert a.rounds[SAME].equals(b.rounds[SAME])
    assert a.evals["eval_loss"].tolist() == b.evals["eval_loss"].tolist()
    assert verify_blobs(b) == 2 * len(b.rounds)


def test_ray_run_is_byte_identical_to_local(ray_local, reference, dolly_file, tmp_path):
    out = loop.train(_cfg(dolly_file), tmp_path / "ray", progress=False, executor=RayExecutor(workers=2))
    run = read_run(out)
    _same(reference, run)
    assert (run.rounds["compute_s"] > 0).all()


def test_dead_worker_is_one_error_and_the_run_resumes_under_ray(ray_local, reference, dolly_file, tmp_path,
                                                                 monkeypatch):
    original = RayExecutor.run

    def kill_in_round_1(self, ctx, round_idx, jobs):
        if round_idx == 1:
            ray_local.kill(self.actors[0])
        return original(self, ctx, round_idx, jobs)

    monkeypatch.setattr(RayExecutor, "run", kill_in_round_1)
    out = tmp_path / "killed"
    with pytest.raises(RunDirError, match=r"a Ray worker died while training round 1 .*every round up to 0: "
                                          r"continue with netbench train --resume"):
        loop.train(_cfg(dolly_file), out, progress=False, executor=RayExecutor(workers=2))
    monkeypatch.setattr(RayExecutor, "run", original)
    assert read_run(out).meta["status"] == "running"
    _same(reference, read_run(loop.resume(out, progress=False, executor=RayExecutor(workers=2))))


def test_more_workers_than_ray_cpus_is_one_error_line(ray_local, dolly_file, tmp_path):
    result = CliRunner().invoke(main, ["train", "--model", "tiny-llama", "--dataset", str(dolly_file),
                                       "--clients", "4", "--participants", "2", "--rounds", "1", "--device", "cpu",
                                       "--executor", "ray", "--workers", "3", "--no-progress",
                                       "--out", str(tmp_path / "run")])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0] == "error: --workers 3 needs 3 CPUs (1 CPU each (--threads 1)) but Ray reports 2; " \
                       "use --workers 2 or fewer"
