"""The bad-input matrix: every case is one clear line naming the problem, exit != 0, no partial output."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner

from fl_core.run import loop
from harness.cli import main


@pytest.fixture(scope="session")
def good_run(tmp_path_factory, dolly_file):
    from fl_core.run.config import RunConfig

    cfg = RunConfig(model="tiny-llama", dataset=str(dolly_file), n_clients=4, participants=2, rounds=1,
                    local_steps=1, batch_size=2, max_len=32, rank=2, lora_alpha=4, eval_examples=4,
                    arc_subset=0, arc_final=0)
    return loop.train(cfg, tmp_path_factory.mktemp("runs") / "good", progress=False)


def _variant(good_run, tmp, kind: str):
    """A copy of the good run directory damaged in one way."""
    bad = tmp / f"bad-{kind}"
    shutil.copytree(good_run, bad)
    meta = bad / "run.json"
    if kind == "newer":
        data = json.loads(meta.read_text())
        data["format_version"] = 99
        meta.write_text(json.dumps(data))
    elif kind == "no-rounds":
        (bad / "rounds.csv").unlink()
    elif kind == "no-meta":
        meta.unlink()
    elif kind == "bad-json":
        meta.write_text("{not json")
    elif kind == "columns":
        pd.read_csv(bad / "rounds.csv").drop(columns=["uplink_bytes"]).to_csv(bad / "rounds.csv", index=False)
    elif kind == "negative":
        frame = pd.read_csv(bad / "rounds.csv")
        frame.loc[0, "compute_s"] = -1
        frame.to_csv(bad / "rounds.csv", index=False)
    elif kind in ("fractional", "huge", "text-bytes", "nan-compute"):
        frame = pd.read_csv(bad / "rounds.csv")
        column, value = {"fractional": ("uplink_bytes", 28747.5), "huge": ("uplink_bytes", 10**12),
                         "text-bytes": ("downlink_bytes", "many"), "nan-compute": ("compute_s", float("nan"))}[kind]
        frame[column] = frame[column].astype(object)
        frame.loc[1, column] = value
        frame.to_csv(bad / "rounds.csv", index=False)
    elif kind in ("truncated", "corrupted"):
        blob = next((bad / "blobs").rglob("*.up.bin"))
        data = bytearray(blob.read_bytes())
        if kind == "truncated":
            data = data[: len(data) // 2]
        else:
            data[len(data) // 2] ^= 0xFF
        blob.write_bytes(bytes(data))
    return bad


TRAIN = ["train", "--model", "tiny-llama", "--clients", "6", "--participants", "3", "--no-progress"]

CASES = [
    # (id, argv with {data} {tmp} {run:<kind>} placeholders, needle)
    ("unknown-method", TRAIN + ["--method", "fedavg"], "unknown method 'fedavg'"),
    ("bad-suffix", TRAIN + ["--method", "fedit+zip"], "unknown method suffix"),
    ("rank-zero", TRAIN + ["--rank", "0"], "--rank"),
    ("rank-negative", TRAIN + ["--rank", "-3"], "--rank"),
    ("ranks-not-ints", TRAIN + ["--ranks", "a,b"], "comma-separated list of integers"),
    ("model-not-a-model", TRAIN + ["--model", "{tmp}"], "not a Hugging Face model folder"),
    ("dataset-missing", TRAIN + ["--dataset", "{tmp}/missing.jsonl"], "does not exist"),
    ("dataset-empty", TRAIN + ["--dataset", "{empty}"], "empty"),
    ("dataset-missing-field", TRAIN + ["--dataset", "{nofield}"], "missing field 'response'"),
    ("unknown-objective", TRAIN + ["--objective", "ppo"], "unknown objective"),
    ("unknown-partition", TRAIN + ["--partition", "zipf"], "unknown partition"),
    ("segments-exceed-participants", TRAIN + ["--method", "fedit+ecolora", "--segments", "5"],
     "N_s (=5) must not exceed the participants per round N_t (=3)"),
    ("k-above-one", TRAIN + ["--ecolora", "--k-min-a", "1.5"], "--k-min-a"),
    ("k-zero", TRAIN + ["--ecolora", "--fixed-k", "0"], "--fixed-k"),
    ("participants-above-clients", TRAIN + ["--participants", "20"], "participants per round"),
    ("alpha-zero", TRAIN + ["--alpha", "0"], "--alpha"),
    ("lr-negative", TRAIN + ["--lr", "-1"], "--lr"),
    ("links-malformed", TRAIN + ["--participation", "fedbuff", "--links", "1Mbps"], "1Mbps"),
    ("resume-missing", ["train", "--resume", "{tmp}/nothing"], "nothing to resume"),
    ("out-holds-a-run", TRAIN + ["--out", "{run:good}"], "already holds a run"),
    ("network-unit", ["replay", "{run:good}", "--network", "1Mbps", "--out", "{out}"], "1Mbps"),
    ("network-zero", ["replay", "{run:good}", "--network", "0/5", "--out", "{out}"], "0/5"),
    ("latency-negative", ["replay", "{run:good}", "--network", "1/5", "--latency", "-5ms", "--out", "{out}"],
     "-5ms"),
    ("latency-garbage", ["replay", "{run:good}", "--network", "1/5", "--latency", "abc", "--out", "{out}"], "abc"),
    ("tcp-unknown", ["replay", "{run:good}", "--network", "1/5", "--tcp", "bbr9", "--out", "{out}"], "bbr9"),
    ("compute-scale-negative", ["replay", "{run:good}", "--network", "1/5", "--compute-scale", "-1",
                                "--out", "{out}"], "invalid compute scale -1"),
    ("run-missing", ["replay", "{tmp}/nope", "--network", "1/5", "--out", "{out}"], "does not exist"),
    ("run-no-meta", ["replay", "{run:no-meta}", "--network", "1/5", "--out", "{out}"], "run.json is missing"),
    ("run-bad-json", ["replay", "{run:bad-json}", "--network", "1/5", "--out", "{out}"], "not valid JSON"),
    ("run-newer-format", ["replay", "{run:newer}", "--network", "1/5", "--out", "{out}"], "newer than"),
    ("run-no-rounds", ["replay", "{run:no-rounds}", "--network", "1/5", "--out", "{out}"], "rounds.csv is missing"),
    ("rounds-missing-column", ["replay", "{run:columns}", "--network", "1/5", "--out", "{out}"],
     "missing columns uplink_bytes"),
    ("rounds-negative", ["replay", "{run:negative}", "--network", "1/5", "--out", "{out}"], "negative"),
    ("sweep-bad-network", ["sweep", "{run:good}", "--networks", "1/5,abc", "--out", "{out}"], "abc"),
    ("sweep-jobs-zero", ["sweep", "{run:good}", "--jobs", "0", "--out", "{out}"], "--jobs"),
    ("sweep-run-missing", ["sweep", "{run:good}", "{tmp}/nope", "--out", "{out}"], "does not exist"),
    ("plot-missing-columns", ["plot", "{badcsv}", "--out", "{out}/f.png"], "missing"),
    ("plot-no-file", ["plot", "{tmp}/none.csv", "--out", "{out}/f.png"], "none.csv"),
    ("plot-not-csv", ["plot", "{garbage}", "--out", "{out}/f.png"], "garbage.csv"),
    ("table-timing-without-target", ["table", "{run:good}", "--timing", "{badcsv}"], "--target"),
    ("blob-truncated", ["verify", "{run:truncated}"], "truncated"),
    # issue 15: unwritable outputs, checked before any work
    ("train-out-uncreatable", TRAIN + ["--out", "/proc/nope/run"], "/proc/nope/run: cannot be created"),
    ("replay-out-uncreatable", ["replay", "{run:good}", "--network", "1/5", "--out", "/proc/nope/run"],
     "/proc/nope/run: cannot be created"),
    ("sweep-out-uncreatable", ["sweep", "{run:good}", "--networks", "1/5", "--out", "/proc/nope"],
     "/proc/nope: cannot be created"),
    ("plot-out-uncreatable", ["plot", "{summary}", "--out", "/proc/nope/f.png"], "/proc/nope: cannot be created"),
    ("table-out-uncreatable", ["table", "{run:good}", "--out", "/proc/nope/t.csv"], "/proc/nope: cannot be created"),
    ("out-is-a-file", ["replay", "{run:good}", "--network", "1/5", "--out", "{summary}"], "is a file"),
    # issue 15: types and ranges of every column read from a file
    ("plot-text-in-numbers", ["plot", "{summary:text}", "--out", "{out}/f.png"],
     "column 'computation_s' line 3: 'slow' is not a number"),
    ("plot-negative-time", ["plot", "{summary:negative}", "--out", "{out}/f.png"],
     "column 'communication_s' line 2: -1.0 is negative"),
    ("plot-nan-time", ["plot", "{summary:nan}", "--out", "{out}/f.png"], "column 'computation_s' line 2"),
    ("table-target-nan", ["table", "{run:good}", "--timing", "{summary}", "--target", "nan"], "--target nan"),
    ("table-timing-text", ["table", "{run:good}", "--timing", "{summary:text}", "--target", "1"],
     "column 'computation_s' line 3"),
    ("rounds-fractional-bytes", ["replay", "{run:fractional}", "--network", "1/5", "--out", "{out}"],
     "column 'uplink_bytes' line 3: 28747.5 is not an integer"),
    ("rounds-text-bytes", ["verify", "{run:text-bytes}"], "column 'downlink_bytes' line 3: 'many' is not a number"),
    ("rounds-nan-compute", ["replay", "{run:nan-compute}", "--network", "1/5", "--out", "{out}"],
     "column 'compute_s' line 3"),
    # issue 15: hostile sizes are refused before simulating
    ("rounds-huge-message", ["replay", "{run:huge}", "--network", "1/5", "--out", "{out}"],
     "uplink_bytes 1000000000000 exceeds the 1073741824 bytes"),
    ("sweep-huge-message", ["sweep", "{run:huge}", "--networks", "1/5", "--out", "{out}"], "exceeds"),
    ("rate-below-ns3-range", ["replay", "{run:good}", "--network", "0.001/5", "--out", "{out}"],
     "between 0.01 and"),
    # issue 15: offline hub ids fail at once
    ("hub-id-offline", TRAIN + ["--model", "gpt2"], "this machine is offline (HF_HUB_OFFLINE is set)"),
    ("hub-id-invalid", TRAIN + ["--model", "not a/valid/id"], "neither a local folder nor"),
    # issue 15: JSON shapes
    ("dataset-pretty-object", TRAIN + ["--dataset", "{pretty}"], "one pretty-printed JSON object"),
    # issue 15: messages name the real problem
    ("network-negative", ["replay", "{run:good}", "--network", "-1/5", "--out", "{out}"], "uplink rate must be > 0"),
    ("network-nan", ["replay", "{run:good}", "--network", "nan/5", "--out", "{out}"], "'nan' is not a finite"),
    ("network-inf", ["replay", "{run:good}", "--network", "5/inf", "--out", "{out}"],
     "downlink rate 'inf' is not a finite"),
    ("network-overflow", ["replay", "{run:good}", "--network", "1e309/5", "--out", "{out}"], "'1e309' is not a finite"),
    ("network-three-rates", ["replay", "{run:good}", "--network", "1/5/10", "--out", "{out}"],
     "exactly two rates UP/DOWN in Mbps, got 3"),
    ("network-units", ["replay", "{run:good}", "--network", "1Mbps/5Mbps", "--out", "{out}"], "without units"),
    ("latency-huge", ["replay", "{run:good}", "--network", "1/5", "--latency", "1e12ms", "--out", "{out}"],
     "must be <= 10 s"),
    ("lr-inf", TRAIN + ["--lr", "inf"], "must be a finite number > 0"),
    ("fedbuff-only-options", TRAIN + ["--links", "1/5", "--concurrency", "4"],
     "--concurrency, --links only apply with --participation fedbuff"),
    ("blob-corrupted", ["verify", "{run:corrupted}"], "sha256"),
]


@pytest.mark.parametrize("case_id, argv, needle", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case_id, argv, needle, tmp_path, good_run, dolly_file):
    (tmp_path / "empty.jsonl").write_text("")
    good = {"instruction": "x", "context": "", "response": "y", "category": "a"}
    (tmp_path / "nofield.jsonl").write_text(
        json.dumps(good) + "\n" + json.dumps({k: v for k, v in good.items() if k != "response"}) + "\n")
    pd.DataFrame({"scenario": ["1/5"], "x": [1]}).to_csv(tmp_path / "bad.csv", index=False)
    (tmp_path / "garbage.csv").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "pretty.json").write_text(json.dumps(good, indent=2))
    summary = pd.DataFrame({"scenario": ["1/5", "1/5"], "method": ["fedit", "ffa-lora"], "up_mbps": [1, 1],
                            "down_mbps": [5, 5], "computation_s": [10.0, 12.0], "communication_s": [3.0, 2.0]})
    summary.to_csv(tmp_path / "summary.csv", index=False)
    for kind, row, column, value in (("text", 1, "computation_s", "slow"), ("negative", 0, "communication_s", -1.0),
                                     ("nan", 0, "computation_s", float("nan"))):
        damaged = summary.astype({column: object})
        damaged.loc[row, column] = value
        damaged.to_csv(tmp_path / f"summary-{kind}.csv", index=False)
    out = tmp_path / "out"
    subs = {"{tmp}": str(tmp_path), "{out}": str(out), "{empty}": str(tmp_path / "empty.jsonl"),
            "{nofield}": str(tmp_path / "nofield.jsonl"), "{badcsv}": str(tmp_path / "bad.csv"),
            "{garbage}": str(tmp_path / "garbage.csv"), "{pretty}": str(tmp_path / "pretty.json"),
            "{summary}": str(tmp_path / "summary.csv")}
    args = []
    for a in argv:
        if a.startswith("{run:"):
            kind = a[5:-1]
            a = str(good_run if kind == "good" else _variant(good_run, tmp_path, kind))
        elif a.startswith("{summary:"):
            a = str(tmp_path / f"summary-{a[9:-1]}.csv")
        for k, v in subs.items():
            a = a.replace(k, v)
        args.append(a)
    if args[0] == "train" and "--dataset" not in args and "--resume" not in args:
        args += ["--dataset", str(dolly_file)]
    if args[0] == "train" and "--out" not in args and "--resume" not in args:
        args += ["--out", str(out)]
    result = CliRunner(env={"HF_HUB_OFFLINE": "1"}).invoke(main, args)
    assert result.exit_code != 0, result.output
    assert needle in result.output, result.output
    assert "Traceback" not in result.output
    lines = [l for l in result.output.splitlines() if l.strip().lower().startswith("error")]
    assert len(lines) == 1, result.output
    assert not out.exists() or not any(out.rglob("*.csv")), "partial output left behind"
