"""The CUDA path's checks that run on a CPU: Ray placement per actor, memory-aware worker counts,
float16 refused on CUDA, and a warm-up pass that changes nothing."""
from __future__ import annotations

import pytest
import torch

from fl_core.run.device import actor_device, check_precision, resolve_driver
from fl_core.errors import ConfigError
from fl_core.executors.ray_actors import plan_workers

GIB = 2**30


def test_actor_device_comes_from_the_cluster_not_the_driver():
    assert actor_device("cuda", cluster_gpus=2) == "cuda"
    assert actor_device("cuda:1", cluster_gpus=2) == "cuda"  # each actor sees its own GPU as cuda:0
    assert actor_device("auto", cluster_gpus=1) == "cuda"
    assert actor_device("auto", cluster_gpus=0) == "cpu"
    assert actor_device("cpu", cluster_gpus=4) == "cpu"
    with pytest.raises(ConfigError, match="the Ray cluster reports no GPUs"):
        actor_device("cuda", cluster_gpus=0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a driver without a GPU")
def test_driver_without_gpu_serves_cuda_actors_from_its_cpu():
    assert resolve_driver("cuda", "bfloat16", remote_clients=True).device.type == "cpu"
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_driver("cuda", "bfloat16", remote_clients=False)


def test_worker_count_limited_by_memory():
    totals = {"CPU": 16, "GPU": 0}
    # default: as many as fit (3 copies of 4 GiB in 13 GiB), at most the participants
    assert plan_workers(None, 10, 1, totals, gpu=False, copy_bytes=4 * GIB, available_bytes=13 * GIB) == \
        (3, {"num_cpus": 1})
    assert plan_workers(2, 10, 1, totals, gpu=False, copy_bytes=4 * GIB, available_bytes=13 * GIB)[0] == 2
    with pytest.raises(ConfigError) as err:
        plan_workers(4, 10, 1, totals, gpu=False, copy_bytes=4 * GIB, available_bytes=13 * GIB)
    assert str(err.value) == ("--workers 4: each worker holds a copy of the base model, about 4.0 GiB to train, "
                              "so 4 need 16.0 GiB but 13.0 GiB is available; use --workers 3 or fewer")
    with pytest.raises(ConfigError, match=r"--executor ray \(1 worker\).*train with --executor local"):
        plan_workers(None, 10, 1, totals, gpu=False, copy_bytes=15 * GIB, available_bytes=13 * GIB)
    # GPU actors: one per GPU, host memory is not theirs
    assert plan_workers(None, 10, 1, {"CPU": 2, "GPU": 2}, gpu=True, copy_bytes=15 * GIB,
                        available_bytes=1 * GIB) == (2, {"num_cpus": 0, "num_gpus": 1})


def test_float16_refused_on_cuda(tiny_cfg):
    check_precision("cpu", "float16")
    check_precision("cuda", "bfloat16")
    with pytest.raises(ConfigError, match="float16 on CUDA trains without loss scaling.*bfloat16"):
        check_precision("cuda", "float16")
    with pytest.raises(ConfigError, match="without loss scaling"):
        tiny_cfg(device="cuda", dtype="float16").validate()


def test_warm_up_changes_nothing(tiny_cfg):
    from fl_core.run.federation import build_federation, load_examples
    from fl_core.methods import get_method
    from fl_core.model.base import load_base_model
    from fl_core.objectives import get_objective
    from fl_core.objectives.local import warm_up

    cfg = tiny_cfg()
    base = load_base_model(cfg.model, cfg.seed)
    method = get_method(cfg.method)(cfg, base)
    objective = get_objective(cfg.objective, base.tokenizer, cfg)
    items = objective.prepare(build_federation(cfg, load_examples(cfg)).heldout)
    before = {n: p.detach().clone() for n, p in method.model.named_parameters()}
    rng = torch.get_rng_state()
    warm_up(method, objective.loss, items, cfg.batch_size)
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(p.grad is None for p in method.model.parameters())
    assert all(torch.equal(before[n], p) for n, p in method.model.named_parameters())
    assert not method.model.training
