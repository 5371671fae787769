"""Issue 15: one process per run directory, unwritable outputs, column checks, hostile sizes, offline
hub ids, JSON shapes, messages, Ctrl-C and the command list (the one-line refusals are rows of
tests/test_bad_input.py; this module tests what a matrix row cannot)."""
from __future__ import annotations

import errno
import json
import math
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from click.testing import CliRunner

from fl_core.rundir.columns import COUNT, RATIO, SECONDS, Column, check_frame
from fl_core.errors import DataError, ModelError, OutputError, RunDirError
from fl_core.rundir.lock import LOCK_NAME, folder_lock
from harness.cli import main

TINY = ["--model", "tiny-llama", "--clients", "4", "--participants", "2", "--local-steps", "1", "--batch-size", "2",
        "--max-len", "32", "--rank", "2", "--lora-alpha", "4", "--eval-examples", "4", "--arc-subset", "0",
        "--arc-final", "0", "--no-progress"]


# -- 1. one process per run directory ---------------------------------------------------------------
def _wait_for(predicate, timeout_s: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_second_train_into_the_same_out_is_refused_and_ctrl_c_says_how_to_resume(dolly_file, tmp_path):
    """Two real processes: the second is refused naming the holder; the first, interrupted, says how to resume."""
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, "-m", "harness", "train", *TINY, "--dataset", str(dolly_file), "--out", str(out)]
    first = subprocess.Popen([*argv, "--rounds", "100000"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: (out / LOCK_NAME).is_file(), 120, first)
        second = subprocess.run([*argv, "--rounds", "2"], env=env, capture_output=True, text=True, timeout=120)
        _wait_for(lambda: (out / "rounds.csv").is_file(), 120, first)  # a round is recorded: resumable
        assert second.returncode == 2, second.stderr
        assert second.stderr.strip() == (
            f"error: {out} is in use by netbench train (pid {first.pid} on host {os.uname().nodename}); "
            "wait for it to finish or choose another --out")
        first.send_signal(signal.SIGINT)
        _, stderr = first.communicate(timeout=60)
    finally:
        first.kill()
    assert first.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == f"interrupted; continue with: netbench train --resume {out}"
    assert not (out / LOCK_NAME).exists()
    meta = json.loads((out / "run.json").read_text())
    assert meta["config"]["rounds"] == 100000  # nothing of the refused run was written


@pytest.mark.parametrize("holder, argv", [
    ("train", ["sweep", "{run}", "--networks", "1/5", "--out", "{out}", "--no-progress"]),
    ("sweep", ["train", *TINY, "--rounds", "1", "--dataset", "{data}", "--out", "{out}"]),
    ("sweep", ["train", "--resume", "{out}", "--no-progress"]),
])
def test_a_held_folder_refuses_every_writer(holder, argv, tmp_path, dolly_file):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"format_version": 1, "status": "running", "config": {}}))
    args = [a.replace("{run}", str(tmp_path)).replace("{out}", str(out)).replace("{data}", str(dolly_file))
            for a in argv]
    with folder_lock(out, holder):
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert f"is in use by netbench {holder} (pid {os.getpid()} on host" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["run.json"]


def test_the_lock_leaves_nothing_behind(tmp_path):
    fresh = tmp_path / "a" / "b"
    with folder_lock(fresh, "train") as folder:
        assert (folder / LOCK_NAME).read_text().startswith(f"netbench train (pid {os.getpid()} on host")
        with pytest.raises(RunDirError, match=r"is in use by netbench train \(pid"):
            with folder_lock(fresh, "sweep"):
                pass
    assert not fresh.exists()  # created by the lock and left empty: removed
    kept = tmp_path / "kept"
    with folder_lock(kept, "train"):
        (kept / "rounds.csv").write_text("x\n")
    assert sorted(p.name for p in kept.iterdir()) == ["rounds.csv"]


# -- 2. unwritable outputs --------------------------------------------------------------------------
def test_an_os_error_while_writing_is_one_line(tmp_path, monkeypatch, dolly_file):
    """A write that fails after the early checks (disk full) still ends in one line, not a traceback."""
    from fl_core.rundir import atomic

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(atomic, "write_bytes", full)
    result = CliRunner().invoke(main, ["plot", str(_summary_csv(tmp_path)), "--out", str(tmp_path / "f.png")])
    assert result.exit_code == 2
    assert result.output == f"error: {tmp_path / 'f.png'}: No space left on device\n"


def test_out_checks_raise_output_error(tmp_path):
    from fl_core.rundir.atomic import check_out_dir, check_out_file

    with pytest.raises(OutputError, match="--out /proc/nope/x: cannot be created or written"):
        check_out_dir("/proc/nope/x")
    with pytest.raises(OutputError, match="is a folder"):
        check_out_file(tmp_path)
    assert check_out_file(tmp_path / "new" / "t.csv").parent.is_dir()


# -- 3. column types and ranges ---------------------------------------------------------------------
def _summary_csv(tmp_path):
    path = tmp_path / "summary.csv"
    pd.DataFrame({"scenario": ["1/5"], "method": ["fedit"], "up_mbps": [1], "down_mbps": [5],
                  "computation_s": [1.0], "communication_s": [2.0]}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("rule, values, message", [
    (COUNT, [1, 2.5], "column 'c' line 3: 2.5 is not an integer; expected an integer >= 0"),
    (COUNT, [1, -1], "column 'c' line 3: -1 is negative"),
    (COUNT, ["7", "x"], "column 'c' line 3: 'x' is not a number"),
    (SECONDS, [math.nan, 1.0], "column 'c' line 2: nan is empty or NaN"),
    (SECONDS, [1.0, math.inf], "column 'c' line 3: inf is infinite"),
    (RATIO, [0.5, 1.5], "column 'c' line 3: 1.5 is above 1"),
    (Column(integer=True, low=-1), [0, -2], "column 'c' line 3: -2 is below -1"),
    (SECONDS, ["abc", -1.0], "column 'c' line 2: 'abc' is not a number"),  # the first bad line wins
])
def test_check_frame_names_column_line_and_value(rule, values, message):
    with pytest.raises(DataError) as info:
        check_frame(pd.DataFrame({"c": values}), {"c": rule}, "t.csv")
    assert str(info.value).startswith(f"t.csv: {message}")


@pytest.mark.parametrize("rule, values, dtype", [
    (COUNT, [1.0, 2.0], "int64"), (SECONDS, ["1.5", "2"], "float64"), (RATIO, [0.5, math.nan], "float64"),
])
def test_check_frame_converts_good_columns(rule, values, dtype):
    frame = check_frame(pd.DataFrame({"c": values, "other": ["x", "y"]}), {"c": rule, "absent": COUNT}, "t.csv")
    assert str(frame["c"].dtype) == dtype and list(frame["other"]) == ["x", "y"]


# -- 4. hostile sizes and the accepted rate range ---------------------------------------------------
@pytest.mark.parametrize("up, down, fragment", [
    (2**30 + 1, 10, "uplink_bytes 1073741825 exceeds the 1073741824 bytes"),
    (10, 10**15, "downlink_bytes 1000000000000000 exceeds"),
])
def test_messages_beyond_the_bound_are_refused_before_simulating(up, down, fragment):
    from ns3_scenarios.errors import ScenarioError
    from ns3_scenarios.network import parse_network
    from ns3_scenarios.transfers import MAX_MESSAGE_BYTES, ClientTransfer, check_round

    check_round(parse_network("1/5"), [ClientTransfer(0, MAX_MESSAGE_BYTES, 1.0, MAX_MESSAGE_BYTES)])
    with pytest.raises(ScenarioError, match=fragment):
        check_round(parse_network("1/5"), [ClientTransfer(0, down, 1.0, up)])


# -- 5. offline hub ids -----------------------------------------------------------------------------
@pytest.mark.parametrize("env, probe, fragment", [
    ({"HF_HUB_OFFLINE": "1"}, None, "offline (HF_HUB_OFFLINE is set)"),
    ({"TRANSFORMERS_OFFLINE": "yes"}, None, "offline (TRANSFORMERS_OFFLINE is set)"),
    ({}, "huggingface.co:443 is unreachable (Name or service not known)", "unreachable (Name or service not known)"),
])
def test_an_uncached_hub_id_fails_at_once_when_offline(env, probe, fragment, monkeypatch, tmp_path):
    from fl_core.model import base as model

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # nothing cached
    if probe is not None:
        monkeypatch.setattr(model, "_hub_offline_reason", lambda: probe)
    start = time.monotonic()
    with pytest.raises(ModelError) as info:
        model.resolve_model_source("some-org/some-model")
    assert time.monotonic() - start < 5
    assert fragment in str(info.value) and "pass a local Hugging Face model folder" in str(info.value)


# -- 6. JSON shapes ---------------------------------------------------------------------------------
GOOD = {"instruction": "Say\u2028hi", "context": "", "response": "hi\u2029", "category": "a"}


@pytest.mark.parametrize("text, outcome", [
    (json.dumps(GOOD, ensure_ascii=False) + "\n" + json.dumps(GOOD, ensure_ascii=False), 2),  # raw U+2028 in JSONL
    (json.dumps(GOOD, ensure_ascii=False) + "\r\n" + json.dumps(GOOD) + "\r\n", 2),  # CRLF line ends
    (json.dumps([GOOD, GOOD], indent=2, ensure_ascii=False), 2),  # pretty-printed array of records
    (json.dumps(GOOD, indent=2), "one pretty-printed JSON object spanning several lines; expected JSON Lines"),
    (json.dumps({"data": [GOOD]}, indent=1), "one pretty-printed JSON object"),
    (json.dumps(GOOD) + "\n{\n", "line 2: invalid JSON"),
])
def test_jsonl_splits_on_newlines_only_and_names_the_expected_shape(text, outcome, tmp_path):
    from fl_core.data.loaders import load_instruction_data

    path = tmp_path / "data.jsonl"
    path.write_text(text, encoding="utf-8")
    if isinstance(outcome, int):
        examples = load_instruction_data(path)
        assert len(examples) == outcome and examples[0].instruction == "Say\u2028hi"
    else:
        with pytest.raises(DataError, match=outcome):
            load_instruction_data(path)


# -- 8. messages ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, seconds", [("5e1ms", 0.05), ("1e-3s", 0.001), ("500us", 0.0005)])
def test_latencies_in_scientific_notation_are_accepted(text, seconds):
    from ns3_scenarios.network import parse_latency

    assert parse_latency(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text, up", [("1e3/5e3", 1e9), ("0.01/1", 1e4), ("+2/10", 2e6)])
def test_rates_in_any_plain_notation_are_accepted(text, up):
    from ns3_scenarios.network import parse_network

    assert parse_network(text).up_bps == up


# -- 9. newcomer friction ---------------------------------------------------------------------------
def test_netbench_help_lists_every_command_whole():
    result = CliRunner().invoke(main, ["--help"], terminal_width=80)
    assert result.exit_code == 0 and "..." not in result.output.partition("Commands:")[2]
    flat = " ".join(result.output.split())
    for name, command in main.commands.items():
        assert f"{name} {' '.join(command.get_short_help_str(1000).split())}" in flat


# -- 9. the base model's evaluations are cached per (model, evaluation set, scoring version) ---------
@pytest.fixture
def cached_base(tmp_path, monkeypatch):
    """A base model whose weights are a local folder (so cacheable), with the cache in ``tmp_path``."""
    import torch

    from fl_core.model.base import BaseModel

    monkeypatch.setenv("FEDLORA_NETBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("FEDLORA_NETBENCH_NO_EVAL_CACHE", raising=False)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    return BaseModel(torch.nn.Linear(2, 2), None, str(folder)), folder


def test_base_evaluations_are_cached_per_model_questions_and_scoring(cached_base, monkeypatch):
    import torch

    from fl_core.evaluation import cache as eval_cache
    from fl_core.data.records import MCQuestion
    from fl_core.model.base import BaseModel

    base, folder = cached_base
    questions = [MCQuestion("q?", ["a", "b"], 0, "arc")]
    calls = []

    def score(value):
        return lambda: calls.append(value) or value

    cases = [  # (what changes, expected accuracy, computed again?)
        ("first run", 0.25, True),
        ("same model, questions and scoring", 0.25, False),
        ("other questions", 0.5, True),
        ("other scoring version", 0.75, True),
        ("weights rewritten", 1.0, True),
    ]
    for what, expected, computed in cases:
        if what == "other questions":
            questions = [MCQuestion("q2?", ["a", "b"], 1, "arc")]
        elif what == "other scoring version":
            monkeypatch.setattr(eval_cache, "SCORING_VERSION", eval_cache.SCORING_VERSION + 1)
        elif what == "weights rewritten":
            (folder / "model.safetensors").write_bytes(b"new weights")
        before = len(calls)
        assert eval_cache.cached_accuracy(base, "arc_easy", questions, score(expected)) == expected, what
        assert (len(calls) > before) == computed, what
    tiny = BaseModel(torch.nn.Linear(2, 2), None, "tiny-llama")
    assert eval_cache.model_key(tiny) is None  # random weights: never cached


def test_the_base_heldout_loss_is_cached_per_model_items_and_batch(cached_base):
    from fl_core.evaluation import cache as eval_cache
    from fl_core.objectives.sft import TokenizedExample

    base, _ = cached_base
    items = [TokenizedExample([1, 2, 3], [-100, 2, 3])]
    calls = []

    def loss(value):
        return lambda: calls.append(value) or value

    cases = [  # (what changes, items, batch, expected loss, computed again?)
        ("first run", items, 8, 2.5, True),
        ("same items", [TokenizedExample([1, 2, 3], [-100, 2, 3])], 8, 2.5, False),
        ("other labels", [TokenizedExample([1, 2, 3], [-100, -100, 3])], 8, 3.5, True),
        ("other batch size", items, 4, 4.5, True),
    ]
    for what, these, batch, expected, computed in cases:
        before = len(calls)
        assert eval_cache.cached_heldout_loss(base, "sft", these, batch, loss(expected)) == expected, what
        assert (len(calls) > before) == computed, what


@pytest.mark.parametrize("method", ["fedit", "ffa-lora", "flora", "hlora", "celora"])
def test_every_method_starts_from_an_adapter_that_leaves_the_base_unchanged(method, tiny_cfg, tmp_path):
    """What lets the base row's held-out loss be cached once for every method's round -1."""
    from fl_core.evaluation.metrics import heldout_loss
    from fl_core.model.base import adapters_disabled
    from fl_core.run.context import RunContext

    ctx = RunContext(tiny_cfg(method=method, seed=3), tmp_path / "run", progress=False)
    ctx.method.load_global()
    with_adapter = heldout_loss(ctx.method.model, ctx.objective, ctx.heldout)
    with adapters_disabled(ctx.method.model):
        base = heldout_loss(ctx.method.model, ctx.objective, ctx.heldout)
    assert with_adapter == base


@pytest.mark.parametrize("argv, arc_final", [([], 100), (["--arc-final", "20"], 20), (["--full-arc"], None),
                                             (["--arc-final", "20", "--full-arc"], None)])
def test_the_final_arc_evaluation_is_a_subset_unless_the_full_paper_metric_is_asked(argv, arc_final, dolly_file):
    from harness.commands.train import build_config, train

    ctx = train.make_context("train", ["--dataset", str(dolly_file), "--model", "tiny-llama", *argv])
    assert build_config(ctx.params).arc_final == arc_final


def test_scoring_passes_the_cache_under_the_name_transformers_expects():
    """No ``past_key_values ... deprecated`` FutureWarning from the ARC scorer or the DPO scorer."""
    import warnings

    from fl_core.data.records import MCQuestion
    from fl_core.evaluation.metrics import mc_accuracy
    from fl_core.model.base import load_base_model

    base = load_base_model("tiny-llama")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*past_key_values.*")
        accuracies = [mc_accuracy(base.model, base.tokenizer, [MCQuestion("Which?", ["a", "bb", "ccc"], k, "t")])
                      for k in range(3)]
    assert sorted(accuracies) == [0.0, 0.0, 1.0]  # exactly one choice scores highest, whichever is gold


def test_the_default_model_conversion_parses_the_gguf_once_and_restores_gguf(tmp_path):
    import gguf

    from fl_core.model.base import _GGUF_NAME, _gguf_parsed_once, _smollm2_gguf_dir

    path = _smollm2_gguf_dir() / _GGUF_NAME
    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    with _gguf_parsed_once():
        first = gguf.GGUFReader(path)
        assert gguf.GGUFReader(path) is first  # the tokenizer, config and weights share one parse
        assert gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 30) is gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 30)
        assert "token_embd.weight" in {t.name for t in first.tensors}
    assert (gguf.GGUFReader, gguf.get_tensor_name_map) == (reader, name_map)
