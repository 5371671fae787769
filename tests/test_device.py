"""--device and --dtype: one code path on the CPU and accelerators (the CUDA path is untested on hardware here)."""
from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from fl_core.schedules.sync import SyncSchedule
from fl_core.run import loop
from fl_core.run.device import resolve
from fl_core.errors import ConfigError
from fl_core.rundir.reader import read_run
from harness.cli import main

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")


def test_auto_and_cpu_resolve_to_the_cpu_without_cuda():
    compute = resolve("auto", "bfloat16")
    assert compute.dtype is torch.bfloat16 and compute.describe()["dtype"] == "bfloat16"
    if not torch.cuda.is_available():
        assert compute.device == torch.device("cpu") and compute.describe()["device"] == "cpu"


@no_cuda
def test_cuda_without_cuda_is_one_clear_error():
    with pytest.raises(ConfigError, match="--device cuda:1: CUDA is not available"):
        resolve("cuda:1")


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "cuda:"])
def test_malformed_device_is_refused(spec):
    with pytest.raises(ConfigError, match="unknown device"):
        resolve(spec)


@no_cuda
def test_train_cli_with_cuda_on_a_cpu_machine_prints_one_error_line(dolly_file, tmp_path):
    result = CliRunner().invoke(main, ["train", "--model", "tiny-llama", "--dataset", str(dolly_file),
                                       "--clients", "2", "--participants", "1", "--rounds", "1",
                                       "--device", "cuda", "--out", str(tmp_path / "run"), "--no-progress"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: --device cuda"), result.output


def test_bfloat16_base_on_cpu_trains_with_float32_adapters(tiny_cfg, tmp_path):
    cfg = tiny_cfg(rounds=3, device="cpu", dtype="bfloat16", gradient_checkpointing=True)
    trainer = loop.RunContext(cfg, tmp_path / "bf16", progress=False)
    params = dict(trainer.method.model.named_parameters())
    assert {p.dtype for n, p in params.items() if "lora_" in n} == {torch.float32}
    assert {p.dtype for n, p in params.items() if "lora_" not in n} == {torch.bfloat16}
    run = read_run(SyncSchedule().run(trainer))
    assert run.meta["compute"] == {"device": "cpu", "device_name": trainer.compute.name, "dtype": "bfloat16",
                                   "gradient_checkpointing": True}
    assert run.evals["eval_loss"].iloc[-1] < run.evals["eval_loss"].iloc[0]
    assert (run.rounds["train_s"] > 0).all()


def test_replay_names_the_device_and_dtype_in_compute_source(tmp_path):
    from fl_core.rundir.writer import RunWriter
    from harness.replay import replay
    from ns3_scenarios.network import PRESETS

    writer = RunWriter(tmp_path / "run", keep_blobs=False)
    writer.write_meta({"method": "fedit", "run_name": "run",
                       "compute": {"device": "cuda:0", "device_name": "NVIDIA H200", "dtype": "bfloat16"}})
    writer.add_round([{"round": 0, "client": 0, "compute_s": 1.0, "uplink_bytes": 10_000, "downlink_bytes": 10_000}])
    timing = replay(tmp_path / "run", PRESETS["5/25"], compute_scale=0.5)
    assert set(timing["compute_source"]) == {"recorded x0.5 [cuda:0 NVIDIA H200, bfloat16]"}
