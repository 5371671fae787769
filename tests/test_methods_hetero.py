"""FLoRA and HLoRA: stacked downloads that grow with N, unbiased product-space aggregation, real runs."""
from __future__ import annotations


import pytest
import torch

from fl_core.run import loop
from fl_core.codec.wire import decode_message, overhead_bytes
from fl_core.run.config import EcoLoRAConfig, RunConfig
from fl_core.errors import ConfigError, WireFormatError
from fl_core.transports.messages import Upload
from fl_core.methods.flora import FLoRA
from fl_core.methods.hetero import adapter_name
from fl_core.methods.hlora import HLoRA
from fl_core.model.base import load_base_model
from fl_core.rundir.reader import read_run, verify_blobs
from fl_core.transports.dense import DenseTransport

torch.set_num_threads(1)
LAYERS, HIDDEN, KV_OUT = 4, 64, 32  # the tiny Llama: q_proj 64 -> 64, v_proj 64 -> 32
PER_RANK = LAYERS * ((HIDDEN + HIDDEN) + (HIDDEN + KV_OUT))  # r (in + out) summed over the target modules


def _method(cls, **kw):
    cfg = RunConfig(model="tiny-llama", rank=4, lora_alpha=8, **kw)
    return cls(cfg, load_base_model("tiny-llama", 0))


def _trained(method, client: int, start: torch.Tensor, seed: int) -> torch.Tensor:
    """A stand-in for local training: the start plus a seeded perturbation of every entry."""
    gen = torch.Generator().manual_seed(seed)
    return start + 0.05 * torch.randn(start.shape, generator=gen)


def _products(method, client: int, vector: torch.Tensor) -> dict[str, torch.Tensor]:
    rank = method.client_rank(client)
    t = method.client_layout(client).unflatten(vector)
    return {m.prefix: method.scaling * t[f"{m.prefix}.lora_B.{adapter_name(rank)}.weight"]
            @ t[f"{m.prefix}.lora_A.{adapter_name(rank)}.weight"] for m in method.targets}


def _flora_round(method, clients: list[int], weights: list[float]) -> list[Upload]:
    uploads = []
    for c, w in zip(clients, weights):
        uploads.append(Upload(c, _trained(method, c, method.init_vector(method.round, c), 100 + c), w))
    method.aggregate(uploads)
    return uploads


# -- FLoRA ---------------------------------------------------------------------------------------
def test_flora_downlink_grows_linearly_with_participants():
    method = _method(FLoRA, ranks=(4,))
    transport = DenseTransport(method)
    overhead = overhead_bytes("flora")  # fixed header + method name + CRC-32
    sizes = {}
    for n in (2, 4, 8):
        _flora_round(method, list(range(n)), [1.0] * n)
        sizes[n] = len(transport.download(method.round, 0).data)
        assert sizes[n] == overhead + 2 * n * 4 * PER_RANK  # fp16 values of N rank-4 adapters
    assert sizes[8] - sizes[4] == 2 * (sizes[4] - sizes[2])
    upload = len(transport.upload(method.round, 0, 0, None).encoded.data)
    assert upload == overhead + 2 * 4 * PER_RANK
    assert sizes[8] - overhead == 8 * (upload - overhead)


def test_flora_heterogeneous_stack_size_and_weighted_sum_of_products():
    method = _method(FLoRA, ranks=(8, 4, 2))
    before = {t.prefix: method.base_weight(t).clone() for t in method.targets}
    uploads = _flora_round(method, [0, 1, 2, 4], [10.0, 30.0, 20.0, 40.0])  # ranks 8, 4, 2, 4
    layout = method.download_layout(5)
    assert layout.numel == (8 + 4 + 2 + 4) * PER_RANK
    expected = {p: torch.zeros_like(w) for p, w in before.items()}
    for u in uploads:
        for prefix, prod in _products(method, u.client, u.vector).items():
            expected[prefix] += u.weight / 100.0 * prod
    for t in method.targets:
        merged = method.base_weight(t) - before[t.prefix]
        torch.testing.assert_close(merged, expected[t.prefix], atol=2e-4, rtol=1e-2)  # fp16 on the wire


def test_flora_receiver_derives_the_stack_layout_and_refuses_another():
    method = _method(FLoRA, ranks=(8, 4, 2))
    _flora_round(method, [0, 1, 2], [1.0, 1.0, 1.0])
    data = DenseTransport(method).download(1, 3).data
    layout = method.stack_layout((8, 4, 2))
    _, payload = decode_message(data, layout.fingerprint, layout.numel)
    assert torch.equal(payload.to_dense(), method.stack_vector)
    wrong = method.stack_layout((8, 2, 4))  # same total rank, other composition
    with pytest.raises(WireFormatError, match="fingerprint"):
        decode_message(data, wrong.fingerprint, wrong.numel)


def test_flora_client_restarts_from_a_fresh_adapter_on_the_merged_base():
    method = _method(FLoRA, ranks=(4,))
    transport = DenseTransport(method)
    x = torch.randint(0, 200, (1, 12))
    _flora_round(method, [0, 1], [1.0, 1.0])
    method.load_global()
    with torch.no_grad():
        global_logits = method.model(input_ids=x).logits
    transport.receive_download(transport.download(1, 3).data, 1, 3, None)
    with torch.no_grad():
        start_logits = method.model(input_ids=x).logits
    torch.testing.assert_close(start_logits, global_logits)  # B = 0: the client starts at the global model
    assert torch.equal(method.upload_vector(3), method.init_vector(1, 3))


# -- HLoRA ---------------------------------------------------------------------------------------
def _hlora_round(method, clients, weights, shared_a: bool = False, train: bool = True) -> list[Upload]:
    uploads = []
    for c, w in zip(clients, weights):
        sent = method.download_vector(c)
        vector = _trained(method, c, sent, 200 + c) if train else sent.clone()
        if shared_a:  # every client keeps the A it was sent: sum_i p_i B_i A has rank <= r
            keep = method.client_layout(c).kind_mask["A"]
            vector[keep] = sent[keep]
        uploads.append(Upload(c, vector, w))
    method.aggregate(uploads)
    return uploads


def test_hlora_equal_ranks_reduces_to_fedavg_of_products():
    method = _method(HLoRA, ranks=(4,))
    uploads = _hlora_round(method, [0, 1, 2], [1.0, 2.0, 5.0])
    fedavg = {p: sum(u.weight / 8.0 * _products(method, u.client, u.vector)[p] for u in uploads)
              for p in method.delta}
    for prefix, d in method.delta.items():
        torch.testing.assert_close(d, fedavg[prefix], atol=1e-6, rtol=1e-5)
        # what a rank-4 client is sent next is the rank-4 truncated SVD (Eckart-Young) of that average
        u, s, vh = torch.linalg.svd(d, full_matrices=False)
        truncated = u[:, :4] * s[:4] @ vh[:4]
        torch.testing.assert_close(_products(method, 7, method.download_vector(7))[prefix], truncated,
                                   atol=2e-4, rtol=1e-2)


def test_hlora_download_reproduces_a_global_update_its_rank_can_hold():
    method = _method(HLoRA, ranks=(4,))
    _hlora_round(method, [0], [1.0])  # Delta W = s B_0 A_0: rank 4
    uploads = _hlora_round(method, [3, 4, 5], [3.0, 1.0, 1.0], shared_a=True)  # all keep the A they were sent
    fedavg = {p: sum(u.weight / 5.0 * _products(method, u.client, u.vector)[p] for u in uploads) for p in method.delta}
    sent_next = _products(method, 0, method.download_vector(0))
    for prefix, d in method.delta.items():
        assert torch.linalg.matrix_rank(d, rtol=1e-2) <= 4  # beyond 4: only the fp16 rounding of what was sent
        torch.testing.assert_close(d, fedavg[prefix], atol=2e-4, rtol=1e-2)  # equal ranks: FedAvg of products
        torch.testing.assert_close(sent_next[prefix], d, atol=2e-4, rtol=1e-2)  # rank allows: no truncation


def test_hlora_low_rank_clients_do_not_shrink_the_global_update():
    method = _method(HLoRA, ranks=(16, 2))
    _hlora_round(method, [0, 2], [1.0, 1.0])  # two rank-16 clients make a Delta W of rank > 2
    before = {p: d.clone() for p, d in method.delta.items()}
    _hlora_round(method, [0, 1, 3], [1.0, 1.0, 1.0], train=False)  # ranks 16, 2, 2: nobody trains
    for prefix, d in method.delta.items():
        assert torch.equal(d, before[prefix])  # zero-padding or product averaging would shrink the tail


def test_hetero_methods_refuse_fedbuff():
    with pytest.raises(ConfigError, match="FedBuff"):
        _method(FLoRA, participation="fedbuff")


# -- real runs -----------------------------------------------------------------------------------
def _check_blobs(run) -> None:
    assert verify_blobs(run) == 2 * len(run.rounds)


@pytest.mark.parametrize("method,ecolora", [("flora", False), ("flora", True), ("hlora", False)])
def test_hetero_run_directory_matches_the_blobs(tiny_cfg, tmp_path, method, ecolora):
    cfg = tiny_cfg(method=method, rounds=2, ranks=(8, 4, 2), ecolora=EcoLoRAConfig(n_segments=3) if ecolora else None)
    run = read_run(loop.train(cfg, tmp_path / method, progress=False))
    _check_blobs(run)
    r = run.rounds
    assert list(r["rank"]) == [(8, 4, 2)[c % 3] for c in r["client"]]
    assert run.meta["method"] == cfg.method_label
    assert list(run.evals["round"]) == [-1, 0, 1]
    if method == "flora":
        first, second = r[r["round"] == 0], r[r["round"] == 1]
        assert (first["downlink_bytes"] < 100).all()  # round 0: the empty stack
        assert second["downlink_bytes"].nunique() == 1  # one stack for every participant
        if not ecolora:
            frame = overhead_bytes("flora")
            assert second["downlink_bytes"].iloc[0] - frame == first["uplink_bytes"].sum() - 3 * frame
        else:
            assert (r["segment"] >= 0).all() and r["uplink_bytes"].max() < 0.5 * 2 * 8 * PER_RANK
    else:
        assert (r["downlink_bytes"] == r["uplink_bytes"]).all()  # own-rank factors both ways


def test_flora_ecolora_downloads_the_dense_stack_as_table1_implies(tiny_cfg, tmp_path):
    """docs/METHODS.md: Table 1 implies FLoRA w/ EcoLoRA downloads FLoRA's whole stack (ratio 1 per
    client-round); the exact sparse offset stays an option and is smaller."""
    def down(name, eco):
        cfg = tiny_cfg(method="flora", rounds=2, ranks=(8, 4, 2), ecolora=eco)
        r = read_run(loop.train(cfg, tmp_path / name, progress=False)).rounds
        return r[r["round"] == 1]

    flora = down("flora", None)
    dense = down("dense", EcoLoRAConfig(n_segments=3))
    offset = down("offset", EcoLoRAConfig(n_segments=3, stack_download="offset"))
    payload = dense["down_value_bytes"] + dense["down_position_bytes"]
    assert (payload / (flora["down_value_bytes"] + flora["down_position_bytes"])).eq(1.0).all()
    assert (dense["down_position_bytes"] == 0).all()
    assert (offset["downlink_bytes"] < dense["downlink_bytes"]).all()


@pytest.mark.parametrize("method,ecolora", [("flora", False), ("flora", True), ("hlora", False), ("celora", False)])
def test_interrupted_run_resumes_to_identical_bytes(tiny_cfg, tmp_path, monkeypatch, method, ecolora):
    cfg = dict(method=method, rounds=3, ranks=(8, 4, 2), ecolora=EcoLoRAConfig(n_segments=3) if ecolora else None)
    reference = read_run(loop.train(tiny_cfg(**cfg), tmp_path / "ref", progress=False))

    class Crash(Exception):
        pass

    original = loop.RunContext.begin_round

    def crash_at_two(self, round_idx):
        if round_idx == 2:
            raise Crash
        original(self, round_idx)

    monkeypatch.setattr(loop.RunContext, "begin_round", crash_at_two)
    with pytest.raises(Crash):
        loop.train(tiny_cfg(**cfg), tmp_path / "cut", progress=False)
    monkeypatch.setattr(loop.RunContext, "begin_round", original)
    resumed = read_run(loop.resume(tmp_path / "cut", progress=False))
    cols = ["round", "client", "uplink_sha256", "downlink_sha256"]
    assert reference.rounds[cols].equals(resumed.rounds[cols])
    assert reference.evals["eval_loss"].round(6).equals(resumed.evals["eval_loss"].round(6))
