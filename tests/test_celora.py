"""CE-LoRA: the tri-factor layer, C-only messages, personalised aggregates from parameter and data similarity."""
from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest
import torch

from fl_core.run import loop
from fl_core.codec.wire import decode_message, overhead_bytes
from fl_core.run.config import RunConfig
from fl_core.errors import ConfigError
from fl_core.transports.messages import Upload
from fl_core.methods.celora import CELoRA
from fl_core.model.base import load_base_model
from fl_core.rundir.reader import read_run

torch.set_num_threads(1)
LAYERS, MODULES, RANK = 4, 2, 4  # tiny Llama, q_proj and v_proj


def _method(**extra) -> CELoRA:
    cfg = RunConfig(model="tiny-llama", rank=RANK, lora_alpha=8,
                    settings={"celora": {k.removeprefix("celora_"): v for k, v in extra.items()}})
    return CELoRA(cfg, load_base_model("tiny-llama", 0))


def _federation(histograms: dict[int, dict[str, int]]):
    return SimpleNamespace(categories=sorted({c for h in histograms.values() for c in h}),
                           histograms=histograms, clients=[None] * len(histograms))


def test_tri_factor_layer_starts_at_the_base_model_and_trains_c():
    method = _method()
    assert {t.kind for t in method.layout.tensors} == {"C"}
    assert all(t.shape == (RANK, RANK) for t in method.layout.tensors)
    assert method.layout.numel == RANK * RANK * LAYERS * MODULES
    x = torch.randint(0, 200, (2, 12))
    out = method.model(input_ids=x, labels=x)
    with torch.no_grad(), method.model.disable_adapter():
        base = method.model(input_ids=x).logits
    torch.testing.assert_close(out.logits.detach(), base)  # C = 0: Delta W = B C A = 0
    out.loss.backward()
    grads = {n: p.grad for n, p in method.model.named_parameters() if ".lora_C." in n}
    assert grads and all(g is not None and g.abs().max() > 0 for g in grads.values())


def test_celora_uploads_only_c(tiny_cfg, tmp_path):
    run = read_run(loop.train(tiny_cfg(method="celora", rounds=2), tmp_path / "c", progress=False))
    header = overhead_bytes("celora")  # fixed header, method name, CRC-32
    assert (run.rounds["uplink_bytes"] == RANK * RANK * LAYERS * MODULES * 2 + header).all()
    assert (run.rounds["downlink_bytes"] == run.rounds["uplink_bytes"]).all()
    for row in run.rounds.itertuples():
        for direction, size, digest in (("up", row.uplink_bytes, row.uplink_sha256),
                                        ("down", row.downlink_bytes, row.downlink_sha256)):
            data = run.blob_path(row.round, row.client, direction).read_bytes()
            assert len(data) == size and hashlib.sha256(data).hexdigest() == digest
    first = run.rounds[run.rounds["round"] == 0]
    data = run.blob_path(0, int(first["client"].iloc[0]), "up").read_bytes()
    method = _method()
    header, payload = decode_message(data, method.layout.fingerprint, method.layout.numel)
    assert header.method == "celora" and payload.length == method.layout.numel
    second = run.rounds[run.rounds["round"] == 1]
    cores = [decode_message(run.blob_path(1, c, "down").read_bytes())[1].to_dense() for c in second["client"]]
    assert all(not torch.equal(cores[0], c) for c in cores[1:])  # every participant gets its own aggregate
    assert run.evals["eval_loss"].notna().all()
    trained = run.evals[run.evals["round"] >= 0]  # each client's own model beside the consensus, per own data
    assert trained["personal_eval_loss"].notna().all() and trained["consensus_own_eval_loss"].notna().all()
    assert (trained["personal_clients"] == 3).all()
    assert (trained["personal_eval_loss"] != trained["consensus_own_eval_loss"]).all()


def test_personal_model_is_own_ab_with_its_own_core():
    method = _method()
    clients, directions = [0, 1, 2], [torch.randn(method.layout.numel) for _ in range(3)]
    _pool(method, clients, [1.0, 1.0, 1.0], directions)
    from fl_core.rundir.client_state import ClientState
    from fl_core.methods.celora import LOCAL_AB

    assert not method.load_personal(0, ClientState())  # never trained: no own A, B
    own_ab = method.local_init + 0.01
    assert method.load_personal(1, ClientState(0, {LOCAL_AB: own_ab}))
    assert torch.equal(method.get_vector(method.local_layout), own_ab)
    assert torch.equal(method.get_vector(), method.download_vector(1))  # the core client 1 would receive


def _pool(method, clients, weights, directions):
    """One round of uploads: client i moves its core along ``directions[i]`` from what it was sent."""
    uploads = []
    for c, w, d in zip(clients, weights, directions):
        sent = method.download_vector(c)
        uploads.append(Upload(c, sent + d, w))
    method.aggregate(uploads)


def test_clients_with_different_data_receive_different_aggregates():
    method = _method()
    method.bind_federation(_federation({0: {"math": 30}, 1: {"math": 28, "poems": 2},
                                        2: {"poems": 30}, 3: {"poems": 25, "math": 5}}))
    n = method.layout.numel
    gen = torch.Generator().manual_seed(0)
    math_dir, poem_dir = torch.randn(n, generator=gen), torch.randn(n, generator=gen)
    _pool(method, [0, 2], [1.0, 1.0], [0.1 * math_dir, 0.1 * poem_dir])
    w1, w3 = method.personal_weights(1), method.personal_weights(3)  # never uploaded: data similarity only
    assert w1[0] > 0.8 and w3[1] > 0.8  # each leans on the client whose data looks like its own
    c1, c3 = method.download_vector(1), method.download_vector(3)
    assert not torch.equal(c1, c3)
    assert torch.dot(c1, math_dir) > torch.dot(c3, math_dir)
    # parameter space: client 0's own update pulls its aggregate towards the pool member that moved alike
    method.bind_federation(_federation({i: {"same": 10} for i in range(4)}))
    assert method.personal_weights(0)[0] > method.personal_weights(0)[1]


def test_large_temperature_is_fedavg():
    method = _method(celora_tau=1e6)
    method.bind_federation(_federation({0: {"a": 1}, 1: {"b": 1}, 2: {"a": 1, "b": 1}}))
    n = method.layout.numel
    _pool(method, [0, 1], [1.0, 3.0], [torch.ones(n), -torch.ones(n)])
    torch.testing.assert_close(method.personal_weights(2), torch.tensor([0.25, 0.75]))


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="celora_tau"):
        _method(celora_tau=0)
    with pytest.raises(ConfigError, match="celora_mix"):
        _method(celora_mix=1.5)
