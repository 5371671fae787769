"""`netbench train` refuses bad input with one clear line and a non-zero exit code."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from harness.cli import main


@pytest.mark.parametrize("args, needle", [
    (["--method", "fedavg"], "unknown method 'fedavg'"),
    (["--method", "fedit+zip"], "unknown method suffix"),
    (["--rank", "0"], "--rank"),
    (["--rank", "-3"], "--rank"),
    (["--model", "{tmp}"], "not a Hugging Face model folder"),
    (["--dataset", "{tmp}/missing.jsonl"], "does not exist"),
    (["--objective", "ppo"], "unknown objective"),
    (["--partition", "zipf"], "unknown partition"),
    (["--method", "fedit+ecolora", "--participants", "3", "--segments", "5"], "N_s=5 segments exceed"),
    (["--k-min-a", "1.5", "--ecolora"], "--k-min-a"),
    (["--fixed-k", "0", "--ecolora"], "--fixed-k"),
    (["--participants", "20", "--clients", "10"], "participants per round"),
])
def test_bad_train_input_is_one_clear_line(args, needle, tmp_path, dolly_file):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    base = ["train", "--model", "tiny-llama", "--dataset", str(dolly_file), "--out", str(tmp_path / "run"),
            "--clients", "6", "--participants", "3", "--no-progress"]
    result = CliRunner().invoke(main, base + args)
    assert result.exit_code != 0
    assert needle in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run" / "rounds.csv").exists()
