"""Merging into a bf16 base keeps float32 precision; checkpoints stream tensors without a second copy."""
from __future__ import annotations

import torch

from fl_core.methods.merge import Merger


def test_bf16_merges_do_not_accumulate_rounding():
    """200 updates each below half a bf16 ulp of the weight: rounding W + delta every time loses all of
    them; the merger's W + R holds their sum to float32 precision, and W is its nearest bf16."""
    gen = torch.Generator().manual_seed(0)
    w0 = (1 + torch.rand(64, 64, generator=gen)).to(torch.bfloat16)  # |W| in [1, 2): ulp 2^-7
    deltas = [torch.full((64, 64), 1e-3) + 1e-4 * torch.randn(64, 64, generator=gen) for _ in range(200)]
    exact = w0.double() + sum(d.double() for d in deltas)

    naive = w0.clone()
    for d in deltas:
        naive.add_(d.to(torch.bfloat16))
    merged, merger = w0.clone(), Merger()
    for d in deltas:
        merger.add("w", merged, d)

    assert (naive.double() - exact).abs().max() > 0.1  # the naive sum stayed near w0
    assert (merger.exact("w", merged).double() - exact).abs().max() < 1e-5
    # W is within half a bf16 ulp of the merged weight (what the forward pass uses)
    assert ((merged.double() - exact).abs() <= exact.abs() * 2.0**-8 + 1e-9).all()


def test_float32_weights_need_no_residual():
    w, merger = torch.zeros(3), Merger()
    merger.add("w", w, torch.ones(3))
    assert torch.equal(w, torch.ones(3)) and not merger.residuals


def test_restore_splits_an_exact_weight():
    w, merger = torch.zeros(4, dtype=torch.bfloat16), Merger()
    exact = torch.tensor([1.0001, 2.0003, -3.0007, 0.5])
    merger.restore("w", w, exact)
    assert torch.equal(merger.exact("w", w), exact)


def test_stream_safetensors_reads_back(tmp_path):
    from safetensors.torch import load_file

    from fl_core.rundir.checkpoint import stream_safetensors

    tensors = {"a": torch.randn(3, 4), "b": torch.randn(5).bfloat16(), "c": torch.tensor(7),
               "d": torch.zeros(0), "e": torch.arange(3), "f": torch.randn(4, 2).t(), "g": torch.rand(2) > 0.5}
    stream_safetensors(tensors, tmp_path / "x.safetensors")
    back = load_file(tmp_path / "x.safetensors")
    assert list(back) == sorted(tensors) or set(back) == set(tensors)
    assert all(torch.equal(tensors[k], back[k]) and tensors[k].dtype == back[k].dtype for k in tensors)


def test_flora_checkpoint_restores_the_merged_bf16_base(tiny_cfg, tmp_path):
    """FLoRA on a bf16 base: a resumed run's base weights and residuals equal the uninterrupted run's."""
    from fl_core.run import loop
    from fl_core.run.context import RunContext

    cfg = tiny_cfg(method="flora", dtype="bfloat16", rounds=2, participants=2, n_clients=4, local_steps=1)
    out = loop.train(cfg, tmp_path / "run", progress=False)
    ctx = RunContext(cfg, out, progress=False)
    ctx.recorder.restore(ctx.method, ctx.transport)
    state = ctx.method.server_state()
    assert any(k.startswith("residual.") for k in state)
    assert all(ctx.method.base_weight(t).dtype == torch.bfloat16 for t in ctx.method.targets)
    ctx2 = RunContext(cfg, out, progress=False)
    ctx2.recorder.restore(ctx2.method, ctx2.transport)
    again = ctx2.method.server_state()
    assert all(torch.equal(state[k], again[k]) for k in state)
