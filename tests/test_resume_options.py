"""``train --resume`` refuses options that differ from the saved run, naming them (issue 15, item 7)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from harness.cli import main


@pytest.fixture(scope="module")
def saved_run(dolly_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("resume") / "run"
    args = ["train", "--model", "tiny-llama", "--dataset", str(dolly_file), "--clients", "4", "--participants", "2",
            "--rounds", "1", "--local-steps", "1", "--batch-size", "2", "--max-len", "32", "--rank", "2",
            "--lora-alpha", "4", "--eval-examples", "4", "--arc-subset", "0", "--arc-final", "0", "--no-progress",
            "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return out


CASES = [
    # (extra options, exit code, needles in the output)
    (["--rounds", "3", "--lr", "0.5", "--method", "flora"], 2,
     ["--rounds 3 (saved: 1)", "--lr 0.5 (saved: 0.0003)", "--method flora (saved: fedit)", "--threads"]),
    (["--method", "fedit+ecolora"], 2, ["--method fedit+ecolora (saved: fedit)"]),
    (["--segments", "2"], 2, ["--segments 2 (saved: None)"]),
    (["--links", "1/5"], 2, ["--links"]),
    (["--celora-tau", "0.3"], 2, ["--celora-tau 0.3 (saved: None)"]),
    (["--threads", "2"], 2, ["already complete"]),  # safe: passes the check, then the run is complete
    (["--rounds", "1", "--rank", "2"], 2, ["already complete"]),  # the saved values: accepted
]


@pytest.mark.parametrize("extra, code, needles", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_resume_refuses_conflicting_options(saved_run, extra, code, needles):
    result = CliRunner().invoke(main, ["train", "--resume", str(saved_run), "--no-progress", *extra])
    assert result.exit_code == code, result.output
    for needle in needles:
        assert needle in result.output, result.output
    assert len([l for l in result.output.splitlines() if l.startswith("error")]) == 1
