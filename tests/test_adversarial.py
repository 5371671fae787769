"""Issue 24's classes of adversarial input, one table-driven test per class (the Ctrl-C class A is in
``test_interrupt.py``): every case is one clear line naming the problem, or the corrected behaviour."""
from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from click.testing import CliRunner

from fl_core.rundir.lock import folder_lock
from fl_core.rundir.writer import RunWriter
from harness.cli import main
from ns3_scenarios.errors import ScenarioError

TINY = ["train", "--model", "tiny-llama", "--clients", "6", "--participants", "3", "--rounds", "1",
        "--local-steps", "1", "--batch-size", "2", "--max-len", "32", "--rank", "2", "--eval-examples", "4",
        "--arc-subset", "0", "--arc-final", "0", "--no-progress"]
LINK = '[link]\nup = "1Mbps"\ndown = "5Mbps"\n'


def _run(path, uplink_bytes=150_000, rounds=1, clients=2):
    """A run directory of fixed message sizes, with an evaluation per round (loss 2.0, then 1.5)."""
    writer = RunWriter(path, keep_blobs=False)
    writer.write_meta({"method": "fedit", "run_name": path.name})
    writer.add_eval({"round": -1, "eval_loss": 2.0})
    for r in range(rounds):
        writer.add_round([{"round": r, "client": c, "compute_s": 1.0, "uplink_bytes": uplink_bytes,
                           "downlink_bytes": 1000} for c in range(clients)])
        writer.add_eval({"round": r, "eval_loss": 1.5})
    return path


def _invoke(args):
    return CliRunner(env={"HF_HUB_OFFLINE": "1"}).invoke(main, [str(a) for a in args])


def _one_error(result) -> str:
    errors = [line for line in result.output.splitlines() if line.lower().startswith("error")]
    assert result.exit_code == 2 and len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


def test_f_replay_writes_out_only_with_something_to_write_and_takes_the_lock(tmp_path):
    run, huge = _run(tmp_path / "run"), _run(tmp_path / "huge", uplink_bytes=10**12)
    (tmp_path / "bad.toml").write_text(LINK + 'trace = "missing.csv"\n')
    cases = [  # (id, arguments, needle of the one error line)
        ("huge-upload", [huge, "--network", "1/5"], "exceeds"),
        ("bad-scenario", [run, "--scenario", tmp_path / "bad.toml"], "missing.csv"),
        ("uncreatable", [run, "--network", "1/5"], "afile exists and is not a folder"),
    ]
    for case, args, needle in cases:
        out = (tmp_path / "afile" / "out") if case == "uncreatable" else tmp_path / case / "out"
        (tmp_path / "afile").write_text("x")
        line = _one_error(_invoke(["replay", *args, "--out", out]))
        assert needle in line, (case, line)
        assert not out.exists() and not out.parent.exists() or case == "uncreatable", case
    out = tmp_path / "held"
    with folder_lock(out, "replay"):
        assert "is in use by netbench replay" in _one_error(_invoke(["replay", run, "--network", "1/5", "--out", out]))
    assert not out.exists()


def test_g_messages_name_the_real_problem(tmp_path):
    run = good_run = _run(tmp_path / "good")
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf" + LINK.encode())
    (tmp_path / "uplink.toml").write_text(LINK + "uplink = 0.01\n")
    (tmp_path / "loss.toml").write_text(LINK + 'loss = "1%"\n')
    (tmp_path / "fast.csv").write_text("time_s,mbps\n0,1e9\n1,5\n")
    (tmp_path / "fast.toml").write_text(LINK + 'trace = "fast.csv"\n')
    cases = [  # (id, arguments, exit code, needle in the output)
        ("bom-accepted", ["scenarios", "--check", tmp_path / "bom.toml"], 0, "ok: "),
        ("table-short-form", ["scenarios", "--check", tmp_path / "uplink.toml"], 2,
         "link.uplink: expected a table such as {loss = 0.01} (or loss = 0.01 directly under the link"),
        ("loss-short-form", ["scenarios", "--check", tmp_path / "loss.toml"], 2, "expected a rate such as 0.01"),
        ("loss-one", ["replay", run, "--network", "1/5", "--loss", "1", "--out", tmp_path / "o"], 2,
         "expected a probability in [0, 1)"),
        ("trace-too-fast", ["scenarios", "--check", tmp_path / "fast.toml"], 2,
         "rate 1e+09 Mbps exceeds 100,000 Mbps"),
        ("table-other-timing", ["table", good_run, "--timing", tmp_path / "timing.csv", "--target", "0.1"], 2,
         "has no rows for run 'good'"),
    ]
    pd.DataFrame({"run": ["other"], "scenario": ["1/5"], "round": [0], "round_s": [1.0], "critical_download_s": [0.1],
                  "critical_upload_s": [0.2]}).to_csv(tmp_path / "timing.csv", index=False)
    for case, args, code, needle in cases:
        result = _invoke(args)
        assert result.exit_code == code and needle in result.output, (case, result.output)
        assert "Traceback" not in result.output and "Empty DataFrame" not in result.output
    both = _invoke(["scenarios", "--check", tmp_path / "uplink.toml", "--check", tmp_path / "loss.toml",
                    "--check", tmp_path / "bom.toml"])
    assert both.exit_code == 2 and both.output.count("error: ") == 2 and "ok: " in both.output, both.output
    unreached = _invoke(["table", good_run, "--target", "0.0"])
    assert unreached.exit_code == 0 and "note: no run reaches eval_loss <= 0" in unreached.output


def test_d_work_is_bounded_and_says_so(tmp_path):
    good_run = _run(tmp_path / "good")
    (tmp_path / "fine.toml").write_text(LINK + "trace = {generate = {mean_bps = 1e6, step_s = 1e-6, "
                                               "duration_s = 300}}\n")
    (tmp_path / "long.toml").write_text(LINK + "trace = {generate = {mean_bps = 1e6, step_s = 0.001, "
                                               "duration_s = 3000}}\n")
    (tmp_path / "huge.csv").write_text("time_s,mbps\n" + "".join(f"{i * 0.01:.2f},5\n" for i in range(300_000)))
    (tmp_path / "huge.toml").write_text(LINK + 'trace = "huge.csv"\n')
    cases = [  # (id, scenario file, needle); each refused at once, with its numbers
        ("step-below-1ms", "fine.toml", "the finest step is 1 ms"),
        ("too-many-generated", "long.toml", "3,000,000 points; at most 100,000 (use step_s >= 0.03)"),
        ("too-many-lines", "huge.toml", "300,001 lines; a time/rate trace has at most 100,000 points"),
    ]
    for case, name, needle in cases:
        started = time.monotonic()
        line = _one_error(_invoke(["scenarios", "--check", tmp_path / name]))
        assert needle in line and time.monotonic() - started < 10, (case, line)
    points = "time_s,mbps\n" + "".join(f"{i},{1 + i % 5}\n" for i in range(2000))
    (tmp_path / "trace.csv").write_text(points)
    (tmp_path / "trace.toml").write_text(LINK + 'trace = "trace.csv"\n')
    out = tmp_path / "replay"
    result = _invoke(["replay", good_run, "--scenario", tmp_path / "trace.toml", "--out", out])
    assert result.exit_code == 0, result.output
    recorded = json.loads((out / "scenario.json").read_text())["network"]["up"]["trace"]
    assert set(recorded) == {"source", "period_s", "points", "mean_bps", "sha256"} and recorded["points"] == 2000
    capped = _invoke(["sweep", good_run, "--networks", "1/5", "--jobs", "1000", "--out", tmp_path / "sweep",
                      "--no-progress"])
    assert capped.exit_code == 0 and "--jobs 1000: this machine has" in capped.output, capped.output


def test_e_options_given_but_read_by_nothing_are_refused(tmp_path, dolly_file):
    (tmp_path / "avail.csv").write_text("client,on\n0,1\n99,1\n")
    (tmp_path / "far.toml").write_text(LINK + '[[clients]]\nids = [50]\nup = "2Mbps"\ndown = "10Mbps"\n')
    deadline = ["--schedule", "deadline", "--deadline", "30", "--links", "1/5"]
    cases = [  # (id, extra arguments, needle of the one error line)
        ("staleness-without-fedbuff", ["--staleness-exponent", "0.3"], "--staleness-exponent only applies to fedbuff"),
        ("fixed-k-without-ecolora", ["--fixed-k", "0.1"], "--fixed-k only apply with EcoLoRA"),
        ("segments-without-ecolora", ["--segments", "2"], "--segments only apply with EcoLoRA"),
        ("ranks-single-rank", ["--ranks", "8,4"], "--ranks only applies to flora, hlora"),
        ("availability-outside", [*deadline, "--availability-trace", tmp_path / "avail.csv"],
         "client(s) 99 lie outside the federation (--clients 6: ids 0-5)"),
        ("scenario-outside", ["--schedule", "deadline", "--deadline", "30", "--scenario", tmp_path / "far.toml"],
         "overrides for client(s) 50 lie outside the federation"),
    ]
    for case, extra, needle in cases:
        out = tmp_path / case
        line = _one_error(_invoke([*TINY, "--dataset", dolly_file, *extra, "--out", out]))
        assert needle in line, (case, line)
        assert not out.exists(), case
    ok = _invoke([*TINY, "--dataset", dolly_file, "--method", "flora", "--ranks", "4,2", "--out", tmp_path / "ok"])
    assert ok.exit_code == 0, ok.output  # the option where its component reads it


def test_c_impossible_availability_is_refused_up_front(tmp_path, dolly_file):
    (tmp_path / "never.toml").write_text(LINK + "[round]\nschedule = \"deadline\"\ndeadline = \"30s\"\n"
                                                "availability = 0\n")
    (tmp_path / "zeros.csv").write_text("client,on\n0,000\n")
    deadline = [*TINY, "--dataset", dolly_file, "--schedule", "deadline", "--deadline", "30", "--links", "1/5"]
    cases = [  # (id, arguments, needle of the one error line)
        ("train-availability-0", [*deadline, "--availability", "0"], "availability 0: no invited client"),
        ("train-trace-of-zeros", [*deadline, "--availability", "0", "--availability-trace", tmp_path / "zeros.csv"],
         "availability 0: no invited client"),
        ("scenario-availability-0", ["scenarios", "--check", tmp_path / "never.toml"],
         "round.availability: 0 means no invited client"),
    ]
    for case, args, needle in cases:
        out = tmp_path / case
        result = _invoke([*args, "--out", out] if args[0] == "train" else args)
        assert needle in _one_error(result), (case, result.output)
        assert not out.exists(), case


class _FailingArrivals:
    """The network side of a deadline run failing in its first round (what an ns-3 refusal does)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def round(self, *args, **kwargs):
        raise self.exc

    def __getattr__(self, name):
        raise self.exc


def test_b_a_run_that_fails_before_its_first_round_leaves_nothing(tiny_cfg, tmp_path):
    from fl_core.run import loop

    cases = [  # (id, what the first round raises, a folder the user made first)
        ("ns3-refuses", ScenarioError("ns-3 refused the scenario"), False),
        ("ctrl-c", KeyboardInterrupt(), False),
        ("into-a-user-folder", ScenarioError("ns-3 refused the scenario"), True),
    ]
    for case, exc, premade in cases:
        out = tmp_path / case / "run"
        if premade:
            out.mkdir(parents=True)
            (out / "notes.txt").write_text("mine")
        cfg = tiny_cfg(participation="deadline", links=("1/5",), settings={"deadline": {"deadline_s": 30.0}})
        with pytest.raises(type(exc)):
            loop.train(cfg, out, progress=False, arrivals=_FailingArrivals(exc))
        left = sorted(p.name for p in out.iterdir()) if out.exists() else []
        assert left == (["notes.txt"] if premade else []), (case, left)
