"""A round's result does not depend on the order its transfers are listed in, and a deadline run's
recorded arrivals are what replay shows (the deadline schedule lists transfers in invitation
order, a seeded permutation; replay sorts them by client)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from fl_core.run.config import RunConfig
from fl_core.rundir.reader import read_run
from fl_core.schedules.deadline import DeadlineConfig, select_arrivals
from harness.cli import main
from harness.replay import replay
from harness.scenario import load_scenario
from harness.scenario.builtins import BUILTINS
from ns3_scenarios.engines import ENGINES
from ns3_scenarios.network import Network
from ns3_scenarios.transfers import ClientTransfer
from ns3_scenarios.worker import shared_worker

KB = 1000
TRANSFERS = [ClientTransfer(5, 40 * KB, 0.0, 60 * KB), ClientTransfer(1, 40 * KB, 0.0, 60 * KB),
             ClientTransfer(3, 40 * KB, 0.0, 60 * KB), ClientTransfer(0, 40 * KB, 0.0, 60 * KB)]
#: A shared 2 Mbps server link behind 1/5 Mbps access links with 1 % loss: the flows interact.
SHARED_STAR = '[link]\nup = "1Mbps"\ndown = "5Mbps"\nloss = 0.01\n[server]\nlink = "2Mbps"\n'


def _scenario(name: str):
    return load_scenario(name) if name in BUILTINS else _shared_star()


def _shared_star():
    from harness.scenario.toml import load_text

    return load_text(SHARED_STAR, name="shared-star", origin="test")


def _times(scenario, transfers, seed=7):
    engine = ENGINES[scenario.engine]
    timings = shared_worker().call(engine.simulate_round, scenario.network, scenario.prepare(transfers), seed=seed,
                                   settings=scenario.engine_settings, timeout_s=300)
    assert [t.client for t in timings] == [t.client for t in transfers]  # in the caller's order
    return {t.client: (t.download_done_s, t.upload_start_s, t.upload_done_s) for t in timings}


@pytest.mark.parametrize("name", ["wifi-home", "lte-cell", "shared-star", "dsl-lossy"])
def test_the_same_transfers_in_another_order_give_the_same_times(name):
    scenario = _scenario(name)
    assert scenario.engine == {"wifi-home": "wifi", "lte-cell": "lte", "shared-star": "star"}.get(name, "isolated")
    listed = _times(scenario, TRANSFERS)
    assert _times(scenario, TRANSFERS[::-1]) == listed
    assert _times(scenario, sorted(TRANSFERS, key=lambda t: t.client)) == listed


@pytest.mark.parametrize("name", ["wifi-home", "lte-cell", "shared-star"])
def test_a_deadline_runs_arrivals_are_what_replay_shows(dolly_file, tmp_path, name):
    """Training under the scenario with deadline rounds, then replaying the run through it: the same
    arrival time per (round, client), and the same aggregated clients in the same order."""
    body = SHARED_STAR if name == "shared-star" else BUILTINS[name]
    path = tmp_path / f"{name}.toml"
    path.write_text(body + '\n[round]\nschedule = "deadline"\ndeadline = "30s"\nover_selection = 2.0\n')
    out = tmp_path / "run"
    args = ["train", "--model", "tiny-llama", "--dataset", str(dolly_file), "--clients", "6", "--participants", "2",
            "--rounds", "2", "--local-steps", "1", "--batch-size", "2", "--max-len", "32", "--rank", "8",
            "--eval-examples", "4", "--eval-every", "2", "--arc-subset", "0", "--arc-final", "0", "--no-progress",
            "--scenario", str(path), "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    run = read_run(out)
    cfg = RunConfig.from_dict(run.meta["config"])
    deadline = cfg.settings_of("deadline", DeadlineConfig).deadline_s
    invited = run.rounds.sort_values(["round", "position"])
    assert any(list(r["client"]) != sorted(r["client"]) for _, r in invited.groupby("round"))  # not in id order
    table = replay(run, load_scenario(str(path))).set_index(["round", "client"])
    for t, rows in run.rounds.groupby("round"):
        replayed = table.loc[t].loc[rows["client"], "client_finish_s"]
        assert list(replayed) == pytest.approx(list(rows["arrival_s"]), abs=2e-9)
        timings = [type("T", (), {"client": c, "upload_done_s": s}) for c, s in replayed.items()]
        recorded = rows[rows["aggregated"] == 1].sort_values("arrival_s")["client"].tolist()
        assert select_arrivals(timings, cfg.participants, deadline) == recorded
