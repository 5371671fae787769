"""Named model shapes: exact architecture and adapter sizes, seeded cheap init, memory refusal, marking."""
from __future__ import annotations

import json

import pytest
import torch

from fl_core.model import shapes
from fl_core.errors import ConfigError, ModelError


def lora_qv_params(shape: shapes.Shape, rank: int = 16) -> int:
    """r (in + out) for q_proj and v_proj in every layer, from the published config values alone."""
    c = shape.config
    head_dim = c.get("head_dim", c["hidden_size"] // c["num_attention_heads"])
    q = rank * (c["hidden_size"] + c["num_attention_heads"] * head_dim)
    v = rank * (c["hidden_size"] + c["num_key_value_heads"] * head_dim)
    return c["num_hidden_layers"] * (q + v)


@pytest.mark.parametrize("name, params", [
    ("llama2-7b", 6_738_415_616),  # the published count of Llama-2-7B
    ("smollm2-135m", 134_515_008),  # SmolLM2-135M (tied head)
    ("qwen2.5-0.5b", 494_032_768),  # Qwen2.5-0.5B (q,k,v biases, tied head)
    ("llama3.2-1b", 1_235_814_400),  # Llama-3.2-1B (tied head)
])
def test_parameter_counts_match_the_named_models(name, params):
    assert shapes.parameter_count(shapes.SHAPES[name]) == params


def test_llama2_7b_adapter_is_the_papers():
    assert lora_qv_params(shapes.SHAPES["llama2-7b"]) == 8_388_608


def test_build_is_seeded_typed_and_sane():
    shape = shapes.SHAPES["test-tiny"]
    a, tok = shapes.build(shape, 0, torch.bfloat16, torch.device("cpu"))
    b, _ = shapes.build(shape, 0, torch.bfloat16, torch.device("cpu"))
    c, _ = shapes.build(shape, 1, torch.bfloat16, torch.device("cpu"))
    pa, pb, pc = (dict(m.named_parameters()) for m in (a, b, c))
    assert all(p.dtype == torch.bfloat16 and not p.is_meta for p in pa.values())
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(pa[q], pc[q])
    assert not torch.equal(pa[q], pa["model.layers.1.self_attn.q_proj.weight"])  # per-parameter offsets
    assert not torch.equal(pa[q][0], pa[q][1])
    assert abs(float(pa[q].float().std()) - 0.02) < 0.002
    assert torch.equal(pa["model.norm.weight"], torch.ones_like(pa["model.norm.weight"]))
    assert all(i < shape.config["vocab_size"] for i in tok("héllo wörld")["input_ids"])
    ids = torch.tensor([tok("hello")["input_ids"]])
    loss = float(a(input_ids=ids, labels=ids).loss)
    assert abs(loss - torch.log(torch.tensor(300.0)).item()) < 1.0  # random init: about ln(vocab)


def test_tied_shapes_share_the_head():
    model, _ = shapes.build(shapes.SHAPES["smollm2-135m"], 0, torch.bfloat16, torch.device("cpu"))
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert sum(p.numel() for p in model.parameters()) == 134_515_008


def test_13b_refused_with_an_estimate(monkeypatch):
    monkeypatch.setattr(shapes.memory, "available_memory_bytes", lambda device: 24 * 2**30)
    with pytest.raises(ModelError) as err:
        shapes.check_fits(shapes.SHAPES["llama2-13b"], torch.bfloat16, torch.device("cpu"))
    message = str(err.value)
    assert "\n" not in message and "shape:llama2-13b" in message and "25.2 GiB" in message and "24.0 GiB" in message
    shapes.check_fits(shapes.SHAPES["llama2-7b"], torch.bfloat16, torch.device("cpu"))  # 13.6 GiB fits
    with pytest.raises(ModelError, match="2 copies"):
        shapes.check_fits(shapes.SHAPES["llama2-7b"], torch.bfloat16, torch.device("cpu"), copies=2)


def test_unknown_shape_and_accuracy_benchmarks_refused(tiny_cfg):
    from fl_core.run.capabilities import check

    with pytest.raises(ModelError, match="unknown model shape 'nope'; choose one of llama2-7b"):
        check(tiny_cfg(model="shape:nope"))
    with pytest.raises(ConfigError, match="random weights.*eval loss only"):
        check(tiny_cfg(model="shape:test-tiny", evals=("arc",)))


def test_shape_defaults_to_bfloat16(tiny_cfg):
    assert tiny_cfg(model="shape:test-tiny").dtype == "bfloat16"
    assert tiny_cfg().dtype == "float32"
    assert tiny_cfg(model="shape:test-tiny", dtype="float32").dtype == "float32"


def test_dense_fedit_upload_is_the_shapes_adapter(tiny_cfg, tmp_path):
    """A FedIT upload on a shape is exactly its LoRA q,v values x 2 bytes (fp16) + the frame's overhead;
    run.json, the eval table and `netbench table` mark the run as random-init."""
    from fl_core.run import loop
    from fl_core.codec.wire import overhead_bytes
    from fl_core.rundir.reader import read_run
    from harness.replay import measured_on
    from harness.table import communication_table

    cfg = tiny_cfg(model="shape:test-tiny", rank=16, lora_alpha=32, rounds=1, local_steps=1, arc_subset=None,
                   arc_final=None)
    out = loop.train(cfg, tmp_path / "run", progress=False)
    run = read_run(out)
    values = lora_qv_params(shapes.SHAPES["test-tiny"], 16)
    assert set(run.rounds["uplink_bytes"]) == {2 * values + overhead_bytes("fedit")}
    meta = json.loads((out / "run.json").read_text())
    assert meta["model"]["weights"] == "random-init (shape only)"
    assert meta["model"]["shape"]["hidden_size"] == 64 and meta["config"]["dtype"] == "bfloat16"
    assert list(run.evals.columns) == ["round", "eval_loss", "label"]  # no ARC/QA on random weights
    assert communication_table([run])["weights"].tolist() == ["random-init (shape only)"]
    assert "weights random-init (shape only)" in measured_on(run.meta)


def test_netbench_train_takes_a_shape_from_the_command_line(dolly_file, tmp_path):
    """The CLI's checks before training (free --out, reachable hub id) let a ``shape:`` model through:
    it is built, never fetched; an unknown shape is refused with the known names."""
    from click.testing import CliRunner

    from harness.cli import main

    common = ["train", "--dataset", str(dolly_file), "--clients", "4", "--participants", "2", "--rounds", "1",
              "--local-steps", "1", "--batch-size", "1", "--max-len", "32", "--eval-examples", "4", "--no-progress"]
    out = tmp_path / "run"
    result = CliRunner().invoke(main, [*common, "--model", "shape:test-tiny", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "run.json").read_text())["model"]["weights"] == "random-init (shape only)"
    refused = CliRunner().invoke(main, [*common, "--model", "shape:no-such", "--out", str(tmp_path / "bad")])
    assert refused.exit_code != 0 and "no-such" in refused.output and "llama2-7b" in refused.output
