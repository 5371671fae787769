"""--compute-profile: measured step times replace recorded compute, and every row and scenario.json say so."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from fl_core.errors import ConfigError
from fl_core.rundir.writer import RunWriter
from harness.cli import main
from harness.compute_profile import load_profile

PROFILE = """origin = "measured on a test GPU"
[[step]]
shape = "llama2-7b"
tokens = 64
device = "cuda NVIDIA H200"
seconds = 0.25
"""


def shape_run(path):
    """A llama2-7b shape run: 2 rounds x 2 clients, 3 local steps of 1 x 64 tokens, 40 s recorded compute."""
    writer = RunWriter(path, keep_blobs=False)
    writer.write_meta({"method": "fedit", "run_name": path.name,
                       "config": {"model": "shape:llama2-7b", "batch_size": 1, "max_len": 64},
                       "model": {"name": "shape:llama2-7b", "weights": "random-init (shape only)"},
                       "compute": {"device": "cpu", "device_name": "some CPU", "dtype": "bfloat16"}})
    for r in range(2):
        writer.add_round([{"round": r, "client": c, "local_steps": 3, "train_s": 39.0, "encode_s": 0.5,
                           "decode_s": 0.5, "compute_s": 40.0, "uplink_bytes": 100_000, "downlink_bytes": 100_000}
                          for c in range(2)])
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return shape_run(tmp_path_factory.mktemp("runs") / "fedit7b")


def test_replay_uses_the_profile_and_says_so(run, tmp_path):
    (tmp_path / "gpu.toml").write_text(PROFILE)
    out = tmp_path / "replay"
    result = CliRunner().invoke(main, ["replay", str(run), "--network", "1/5", "--compute-profile",
                                       str(tmp_path / "gpu.toml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    timing = pd.read_csv(out / "timing.csv", dtype={"scenario": str})
    assert timing["compute_s"].tolist() == pytest.approx([3 * 0.25 + 1.0] * 4)  # 3 steps + recorded codec
    (source,) = set(timing["compute_source"])
    assert source.startswith("profile gpu.toml (measured on a test GPU): cuda NVIDIA H200 0.25 s/step x 3 steps")
    assert "weights random-init (shape only)" in source and "some CPU" not in source
    spec = json.loads((out / "scenario.json").read_text())
    assert spec["compute_profile"]["origin"] == "measured on a test GPU"
    plain = tmp_path / "plain"
    assert CliRunner().invoke(main, ["replay", str(run), "--network", "1/5", "--out", str(plain)]).exit_code == 0
    recorded = json.loads((plain / "scenario.json").read_text())
    assert "compute_profile" not in recorded and recorded["hash"] != spec["hash"]  # a new sweep cell
    assert set(pd.read_csv(plain / "timing.csv")["compute_s"]) == {40.0}


@pytest.mark.parametrize("text, message", [
    ("origin = 'x'\n[[step]]\nshape = 'a'\ntokens = 64\ndevice = 'cpu'\n", "exactly the keys"),
    ("[[step]]\nshape = 'a'\ntokens = 64\ndevice = 'cpu'\nseconds = 1.0\n", "origin must say"),
    ("origin = 'x'\n[[step]]\nshape = 'a'\ntokens = 64\ndevice = 'cpu'\nseconds = -1\n", "finite number > 0"),
    ("origin = 'x'\n[[step]]\nshape = 'a'\ntokens = '64'\ndevice = 'cpu'\nseconds = 1\n", "tokens: expected int"),
    ("origin = 'x'\nstep = [{shape='a', tokens=1, device='c', seconds=1}, {shape='a', tokens=1, device='d', "
     "seconds=2}]\n", "appears twice"),
    ("origin = = 'x'", "not valid TOML"),
])
def test_malformed_profiles_get_one_line(tmp_path, text, message):
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_profile(path)
    assert "\n" not in str(err.value)


def test_missing_entry_and_bad_file_on_the_cli(run, tmp_path):
    (tmp_path / "other.toml").write_text(PROFILE.replace("tokens = 64", "tokens = 512"))
    for profile, message in ((tmp_path / "other.toml", "no step time for run 'fedit7b' (shape 'llama2-7b', 64 tokens)"),
                             (tmp_path / "missing.toml", "cannot read it")):
        result = CliRunner().invoke(main, ["sweep", str(run), "--networks", "1/5", "--compute-profile", str(profile),
                                           "--out", str(tmp_path / "sweep")])
        lines = [line for line in result.output.splitlines() if line.lower().startswith("error")]
        assert result.exit_code == 2 and len(lines) == 1 and message in lines[0], result.output


def test_figure3_subtitle_names_the_compute_source(run, tmp_path):
    from harness.plot import figure3_figure
    from harness.replay import replay
    from harness.timing import summarize
    from ns3_scenarios.network import PRESETS

    summary = summarize(replay(run, PRESETS["1/5"]))
    fig = figure3_figure(summary)
    assert "compute: recorded [cpu some CPU, bfloat16] [shape:llama2-7b, weights random-init (shape only)]" \
        == fig._suptitle.get_text()
