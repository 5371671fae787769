"""--executor ray: the same bytes as the local executor, resumable after a worker dies (one local Ray, 2 CPUs).

Starting an actor (a fresh process importing torch) is the cost here, so the module starts
three in all: two for the run whose worker is killed, one to replace it for the resume;
the FedBuff and deadline tests reuse them.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from fl_core.run import loop
from fl_core.run.config import EcoLoRAConfig, RunConfig
from fl_core.errors import RunDirError
from fl_core.rundir.reader import read_run, verify_blobs
from harness.cli import main

pytest.importorskip("ray")
from fl_core.executors.ray_actors import RayExecutor, release_workers  # noqa: E402

#: Two actors, kept between this module's runs and ended when it is done (they hold Ray's 2 CPUs).
WORKERS = dict(workers=2, keep_workers=True)


@pytest.fixture(scope="module", autouse=True)
def _release_actors():
    yield
    release_workers()

#: Everything but the measured times.
SAME = ["round", "client", "position", "segment", "samples", "train_loss", "uplink_bytes", "downlink_bytes",
        "uplink_sha256", "downlink_sha256", "k_a", "k_b", "rank"]


def _cfg(dolly_file, **kw) -> RunConfig:
    base = dict(method="fedit", ecolora=EcoLoRAConfig(n_segments=3), model="tiny-llama", dataset=str(dolly_file),
                n_clients=6, participants=3, rounds=3, local_steps=2, batch_size=2, max_len=48, rank=4,
                lora_alpha=8, eval_examples=8, eval_every=1, arc_subset=0, arc_final=0, lr=1e-3, device="cpu")
    base.update(kw)
    return RunConfig(**base)


def _same(a, b, columns=SAME) -> None:
    assert a.rounds[columns].equals(b.rounds[columns])
    assert a.evals["eval_loss"].tolist() == b.evals["eval_loss"].tolist()
    assert verify_blobs(b) == 2 * len(b.rounds)


def test_ray_matches_local_byte_for_byte_and_resumes_after_a_worker_dies(ray_local, dolly_file, tmp_path,
                                                                          monkeypatch):
    reference = read_run(loop.train(_cfg(dolly_file, rounds=2), tmp_path / "local", progress=False))
    original = RayExecutor.run

    def kill_in_round_1(self, ctx, round_idx, jobs):
        if round_idx == 1:
            ray_local.kill(self.actors[0])
        return original(self, ctx, round_idx, jobs)

    monkeypatch.setattr(RayExecutor, "run", kill_in_round_1)
    out = tmp_path / "ray"
    with pytest.raises(RunDirError, match=r"a Ray worker died while training round 1 .*every round up to 0: "
                                          r"continue with netbench train --resume"):
        loop.train(_cfg(dolly_file, rounds=2), out, progress=False, executor=RayExecutor(**WORKERS))
    monkeypatch.setattr(RayExecutor, "run", original)
    interrupted = read_run(out)
    assert interrupted.meta["status"] == "running" and sorted(interrupted.rounds["round"].unique()) == [0]
    # run.json's compute is where the actors trained (here the CPU, as the local run)
    assert interrupted.meta["compute"] == reference.meta["compute"]
    resumed = read_run(loop.resume(out, progress=False, executor=RayExecutor(**WORKERS)))
    _same(reference, resumed)
    assert (resumed.rounds["compute_s"] > 0).all()


class FixedArrivals:
    """Dispatch times without ns-3 that no measured compute time changes: client c's update lands
    1000 c + dispatch seconds after its dispatch (the compute takes no time on this clock)."""

    def dispatch_times(self, dispatch: int, transfer):
        c = transfer.client
        return SimpleNamespace(download_done_s=600.0 * c, upload_start_s=600.0 * c,
                               upload_done_s=1000.0 * c + dispatch)


def test_fedbuff_dispatches_to_the_same_actors_with_the_same_bytes(ray_local, dolly_file, tmp_path):
    cfg = dict(ecolora=None, participation="fedbuff", participants=2, concurrency=4, rounds=3)
    local = read_run(loop.train(_cfg(dolly_file, **cfg), tmp_path / "local", progress=False,
                                arrivals=FixedArrivals()))
    remote = read_run(loop.train(_cfg(dolly_file, **cfg), tmp_path / "ray", progress=False,
                                 arrivals=FixedArrivals(), executor=RayExecutor(**WORKERS)))
    # the arrival order is the same in both runs, so every buffer, staleness and byte is too
    _same(local, remote, SAME + ["dispatch", "dispatch_round", "dispatch_s", "arrival_s", "staleness"])
    assert remote.rounds["dispatch_round"].max() >= 1 and remote.rounds["staleness"].max() >= 1


class FixedRoundArrivals:
    """Deadline rounds without ns-3: client c's upload lands at c seconds."""

    def round_times(self, round_idx, transfers):
        return [SimpleNamespace(client=t.client, download_done_s=0.1, upload_start_s=0.2, upload_done_s=float(t.client))
                for t in transfers]


def test_deadline_rounds_dispatch_to_the_actors_with_the_same_bytes(ray_local, dolly_file, tmp_path):
    cfg = dict(participation="deadline", participants=2, rounds=2, ecolora=EcoLoRAConfig(n_segments=2),
               settings={"deadline": {"deadline_s": 3.5, "over_selection": 2.0, "availability": 0.8}})
    local = read_run(loop.train(_cfg(dolly_file, **cfg), tmp_path / "local", progress=False,
                                arrivals=FixedRoundArrivals()))
    remote = read_run(loop.train(_cfg(dolly_file, **cfg), tmp_path / "ray", progress=False,
                                 arrivals=FixedRoundArrivals(), executor=RayExecutor(**WORKERS)))
    _same(local, remote, SAME + ["aggregated", "late"])


def test_more_workers_than_ray_cpus_is_one_error_line(ray_local, dolly_file, tmp_path):
    result = CliRunner().invoke(main, ["train", "--model", "tiny-llama", "--dataset", str(dolly_file),
                                       "--clients", "4", "--participants", "2", "--rounds", "1", "--device", "cpu",
                                       "--executor", "ray", "--workers", "3", "--no-progress",
                                       "--out", str(tmp_path / "run")])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0] == "error: --workers 3 needs 3 CPUs (1 CPU each (--threads 1)) but Ray reports 2; " \
                       "use --workers 2 or fewer"
