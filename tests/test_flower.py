"""The Flower recorder (integrations/flower): a numpy FedAvg app simulated in-process writes a run
directory with Flower's own message sizes, which replays; mis-configured apps get one clear line.

Every simulation shares the session's one Ray instance (``ray_local``): the recorder leaves a Ray
that was already running alive, so this module starts no Ray of its own.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

pytest.importorskip("flwr")
pytest.importorskip("ray")
import flower_apps  # noqa: E402  (tests/ is on sys.path; Ray's workers import it by this name)

from fl_core.rundir.reader import read_run  # noqa: E402
from harness.cli import main as netbench  # noqa: E402
from integrations.flower import FlowerRecordError, FlowerRecorder, simulate  # noqa: E402

CLIENTS, ROUNDS = 4, 2
NPY_HEADER = 128  # np.save's header of a plain 2-d float32 array
HASH_HEX = 64  # an object id: SHA-256 in hex


def _simulate(tmp_path, name, client_app, recording: dict | None = None, rounds: int = ROUNDS, actors: int = 2,
              **server) -> object:
    recorder = FlowerRecorder(tmp_path / name, app_name=f"numpy-{name}", **(recording or {}))
    app = flower_apps.server_app(recorder, CLIENTS, rounds, **server)
    return simulate(app, client_app, recorder, num_supernodes=CLIENTS, cpus_per_client=2 / actors)


@pytest.fixture(scope="module")
def runs(ray_local, tmp_path_factory):
    """The numpy app recorded twice: clients return ``a`` unchanged (frozen), and changed (this one
    recorded with the protobuf size as the wire size and Flower's bytes kept as blobs)."""
    tmp = tmp_path_factory.mktemp("flower")
    return {"frozen": read_run(_simulate(tmp, "frozen", flower_apps.RECORDED)),
            "changed": read_run(_simulate(tmp, "changed", flower_apps.RECORDED, change_a=True,
                                          recording={"size": "proto", "keep_blobs": True}))}


def _objects_of_array(shape) -> int:
    """Flower 1.42's two objects of one float32 array under 5 MiB: ``ArrayChunk`` (its .npy bytes behind a
    ``"ArrayChunk  <len>\\0"`` head) and ``Array`` (JSON metadata behind ``"Array <chunk id> <len>\\0"``)."""
    npy = int(np.prod(shape)) * 4 + NPY_HEADER
    chunk = len(f"ArrayChunk  {npy}") + 1 + npy
    meta = json.dumps({"dtype": "float32", "shape": list(shape), "stype": "numpy.ndarray", "arraychunk_ids": [0]})
    return chunk + len(f"Array {'0' * HASH_HEX} {len(meta)}") + 1 + len(meta)


def test_sizes_are_the_arrays_plus_flowers_framing_and_a_held_frozen_array_is_not_uploaded(runs):
    frozen, changed = runs["frozen"].rounds, runs["changed"].rounds
    assert len(frozen) == CLIENTS * ROUNDS and sorted(frozen["client"].unique()) == list(range(CLIENTS))
    raw = sum(int(np.prod(s)) * 4 for s in flower_apps.SHAPES.values())
    for rows in (frozen, changed):
        for side in ("up", "down"):
            assert (rows[f"{side}_raw_bytes"] == raw).all()
            assert (rows[f"{side}_npy_bytes"] == raw + NPY_HEADER * len(flower_apps.SHAPES)).all()
            assert (rows[f"{side}_arrays"] == 2).all()
    for rows, size in ((frozen, "objects"), (changed, "proto")):  # objects: the default
        assert (rows["uplink_bytes"] == rows[f"up_{size}_bytes"]).all()
        assert (rows["downlink_bytes"] == rows[f"down_{size}_bytes"]).all()
    a, b = (_objects_of_array(flower_apps.SHAPES[k]) for k in "ab")
    for rows in (frozen, changed):  # every message carries both arrays' objects, whatever the receiver held
        assert (rows["down_array_objects_bytes"] == a + b).all() and (rows["up_array_objects_bytes"] == a + b).all()
        assert (rows["down_objects_held_bytes"] == rows["down_objects_bytes"]).all()  # a SuperNode keeps nothing
    # without the instruction's objects, the unchanged array is what the frozen run's upload saves, exactly
    assert (changed["up_array_objects_held_bytes"] == a + b).all()
    assert (frozen["up_array_objects_held_bytes"] == b).all()
    assert (frozen["up_objects_bytes"] - frozen["up_objects_held_bytes"] == a).all()
    # the rest is Message, RecordDict and record objects: a few hundred bytes, equal with or without the frozen array
    for rows in (frozen, changed):
        for side in ("up", "down"):
            framing = rows[f"{side}_objects_bytes"] - rows[f"{side}_array_objects_bytes"]
            assert framing.between(200, 1500).all()
    framing = {name: run.rounds["up_objects_bytes"] - run.rounds["up_array_objects_bytes"] for name, run in runs.items()}
    assert (framing["frozen"].mean() - framing["changed"].mean()) == pytest.approx(0, abs=2)  # node-id varints
    # the protobuf carries each array once, whatever the receiver holds
    assert (frozen["up_proto_bytes"] > frozen["up_npy_bytes"]).all()


def test_compute_is_measured_in_the_client_and_reported_in_band(runs):
    rows = runs["frozen"].rounds
    floor = flower_apps.SLEEP_S * (rows["client"] + 1)
    assert (rows["compute_s"] >= floor).all() and (rows["compute_s"] < floor + 2.0).all()
    assert (rows["samples"] == 10 + rows["client"]).all()  # the reply's own metrics, untouched
    meta = runs["frozen"].meta
    assert meta["versions"]["flwr"] == "1.42.0" and meta["app"] == "numpy-frozen"
    assert meta["sizes"]["uplink_bytes/downlink_bytes"] == "objects" and "netbench_mod" in meta["compute_source"]
    assert not (runs["frozen"].path / "scratch").exists()  # Flower's home and Ray's folders went with the run


def test_evaluate_traffic_is_its_own_table(runs):
    run = runs["frozen"]
    evaluate = pd.read_csv(run.path / "flower_evaluate.csv")
    assert len(evaluate) == CLIENTS * ROUNDS and (evaluate["up_arrays"] == 0).all()
    assert (evaluate["down_arrays"] == 2).all()  # FedAvg's evaluate re-sends the whole model
    # every client evaluates 5 examples, so the sample-weighted federated loss is the mean of 0.5 + p over p = 0..3
    assert run.evals["eval_loss"].tolist() == pytest.approx([0.5 + 1.5] * ROUNDS, rel=1e-9)
    assert run.meta["totals"]["evaluate_downlink_bytes"] == int(evaluate["downlink_bytes"].sum())


def test_the_run_replays_and_tabulates_and_verify_names_it_foreign(runs, tmp_path):
    from harness.replay import replay
    from ns3_scenarios.network import parse_latency, parse_network

    record = runs["frozen"]
    timing = replay(record, parse_network("1/5", parse_latency("50ms")))
    assert len(timing) == CLIENTS * ROUNDS and (timing["download_s"] > 0.05).all()
    assert (timing["uplink_bytes"].to_numpy() > 0).all()
    out = CliRunner().invoke(netbench, ["table", str(record.path)])
    assert out.exit_code == 0 and "numpy-frozen" in out.output
    out = CliRunner().invoke(netbench, ["verify", str(record.path)])
    assert out.exit_code == 2 and "recorded from a flower app and it kept no blobs" in out.output
    assert len(out.output.strip().splitlines()) == 1


def test_flower_blobs_are_the_protobuf_messages_and_verify_says_they_are_foreign(runs):
    import hashlib

    run = runs["changed"]
    assert run.meta["blobs"] == "flower-protobuf" and run.meta["sizes"]["uplink_bytes/downlink_bytes"] == "proto"
    for row in run.rounds.itertuples():
        for side, digest in (("down", row.downlink_sha256), ("up", row.uplink_sha256)):
            data = run.blob_path(row.round, row.client, side).read_bytes()
            assert len(data) == getattr(row, f"{side}_proto_bytes") and hashlib.sha256(data).hexdigest() == digest
    out = CliRunner().invoke(netbench, ["verify", str(run.path)])
    assert out.exit_code == 2 and "its blobs are flower's own messages (flower-protobuf)" in out.output
    assert len(out.output.strip().splitlines()) == 1


@pytest.mark.parametrize("client_app, server, says", [
    ("WITHOUT_MOD", {}, "carries no 'netbench' record: add the recorder's mod"),
    ("RECORD_DROPPED", {}, "carries no 'netbench' record"),
    ("NO_PARTITION_ID", {}, "has no 'partition-id' in its node config"),
    ("RECORDED", {"evaluate_only": True}, "sent no train message"),
])
def test_a_misconfigured_app_gets_one_clear_line(runs, tmp_path, client_app, server, says):
    with pytest.raises(FlowerRecordError) as err:
        # one round on one Ray actor: the first reply already says it
        _simulate(tmp_path, "bad", getattr(flower_apps, client_app), rounds=1, actors=1, **server)
    assert says in str(err.value) and len(str(err.value).splitlines()) == 1


def test_the_flowertune_example_trains_as_netbench_train_fedit_does(ray_local, tmp_path, monkeypatch):
    """examples/flower on the tiny Llama: the same local training as ``loop.train`` with the same
    configuration (train losses agree; netbench's clients start from the fp16-decoded adapter,
    Flower's from float32), and Flower's message is the float32 adapter plus its framing."""
    from pathlib import Path

    from fl_core.run import loop

    root = Path(__file__).resolve().parents[1]
    monkeypatch.syspath_prepend(str(root))
    from examples.flower.flowertune_netbench.client_app import make_client_app
    from examples.flower.flowertune_netbench.server_app import make_server_app
    from examples.flower.flowertune_netbench.task import Settings

    settings = Settings(model="tiny-llama", clients=2, rounds=2, local_steps=2, max_len=48, rank=4, lora_alpha=8,
                        per_category=40)
    recorder = FlowerRecorder(tmp_path / "flower", app_name="flowertune-fedavg", config=settings.to_dict())
    flower = read_run(simulate(make_server_app(settings, recorder), make_client_app(settings), recorder,
                               num_supernodes=settings.clients))
    cfg = settings.run_config()
    cfg.arc_subset, cfg.arc_final, cfg.keep_blobs = 0, 0, False  # evaluation only; the split stays the same
    native = read_run(loop.train(cfg, tmp_path / "native", progress=False))
    both = flower.rounds.merge(native.rounds, on=["round", "client"], suffixes=("_flower", "_native"))
    assert len(both) == settings.clients * settings.rounds
    assert (both["samples_flower"] == both["samples_native"]).all()
    assert np.allclose(both["train_loss_flower"], both["train_loss_native"], rtol=1e-3)
    values = native.rounds["up_value_bytes"].iloc[0]  # fp16
    assert (flower.rounds["up_raw_bytes"] == 2 * values).all()  # float32: the same adapter at twice the bytes
    assert (flower.rounds["uplink_bytes"] > flower.rounds["up_npy_bytes"]).all()
