"""``sweep --executor ray``: the same tables as the local pool, resumable, a failed cell recorded as with the pool."""
from __future__ import annotations

import pandas as pd
import pytest

from fl_core.rundir.writer import RunWriter
from harness.replay import replay_record
from harness.sweep import run_sweep
from ns3_scenarios.errors import ScenarioError
from ns3_scenarios.network import PRESETS

pytest.importorskip("ray")


def refuse_2_10(record, scenario):
    """Sweep-cell hook: the 2/10 cell fails as a refused scenario does (an ns-3 abort takes the same path, as
    the local pool's test shows, at the price of a second import of ns-3)."""
    if scenario.network.name == "2/10":
        raise ScenarioError("2/10 refused by the test")
    return replay_record(record, scenario)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "fedit"
    writer = RunWriter(path, keep_blobs=False)
    writer.write_meta({"method": "fedit", "run_name": "fedit"})
    for r in range(2):
        writer.add_round([{"round": r, "client": c, "compute_s": 2.0 + 0.25 * c, "uplink_bytes": 150_000 + 97 * c,
                           "downlink_bytes": 150_000} for c in range(3)])
    return path


def test_ray_sweep_matches_local_records_a_failed_cell_and_resumes(ray_local, run, tmp_path):
    networks = [PRESETS["0.2/1"], PRESETS["2/10"], PRESETS["5/25"]]
    local = run_sweep([run], networks, tmp_path / "local", progress=False)
    out = tmp_path / "ray"
    first = run_sweep([run], networks, out, cell_fn=refuse_2_10, executor="ray", progress=False)
    assert (first.ran, first.skipped) == (3, 0)
    assert first.failures.to_dict("records") == [{"scenario": "2/10", "run": "fedit", "network": "2/10",
                                                  "error": "2/10 refused by the test"}]
    assert pd.read_csv(out / "failures.csv").shape[0] == 1

    resumed = run_sweep([run], networks, out, executor="ray", progress=False)
    assert (resumed.ran, resumed.skipped) == (1, 2) and resumed.failures.empty
    key = ["scenario", "round", "client"]
    pd.testing.assert_frame_equal(resumed.timing.sort_values(key).reset_index(drop=True),
                                  local.timing.sort_values(key).reset_index(drop=True))
