"""`netbench table`: communication to the stopping point, the paper's table shapes."""
from pathlib import Path

import pandas as pd
import pytest

from fl_core.rundir.reader import RunRecord
from harness.table import MIB, communication_table, paper_shape


def _run(name: str, method: str, objective: str = "sft", eco: dict | None = None) -> RunRecord:
    rounds = pd.DataFrame({
        "round": [0, 0, 1, 1, 2, 2, 3, 3], "client": [0, 1] * 4,
        "uplink_bytes": [1100] * 8, "downlink_bytes": [2100] * 8,
        "up_value_bytes": [900] * 8, "up_position_bytes": [100] * 8,
        "down_value_bytes": [2000] * 8, "down_position_bytes": [0] * 8,
        "k_a": [0.9] * 8, "k_b": [0.8] * 8,
    })
    evals = pd.DataFrame({"round": [-1, 1, 3], "eval_loss": [3.0, 2.0, 1.5], "arc": [0.30, 0.35, 0.40],
                          "qa_accuracy": [0.3, 0.5, 0.6], "mmlu": [0.25, 0.26, 0.27]})
    meta = {"run_name": name, "method": method, "objective": objective,
            "config": {"ecolora": eco}}
    return RunRecord(Path(name), meta, rounds, evals)


def test_parameters_and_mib_are_counted_to_the_target_round():
    run = _run("eco", "fedit+ecolora", eco={"round_robin": True})
    whole = communication_table([run]).iloc[0]
    assert whole["upload_params_m"] == pytest.approx(8 * 1000 / 2 / 1e6)  # payload bytes / 2
    assert whole["total_params_m"] == pytest.approx(8 * 3000 / 2 / 1e6)
    assert whole["upload_mib"] == pytest.approx(8 * 1100 / MIB) and whole["total_mib"] == pytest.approx(8 * 3200 / MIB)
    hit = communication_table([run], "arc", 0.35).iloc[0]
    assert hit["target_round"] == 1  # first evaluated round at or above the target: rounds 0 and 1 count
    assert hit["upload_params_m_to_target"] == pytest.approx(4 * 1000 / 2 / 1e6)
    assert hit["total_mib_to_target"] == pytest.approx(4 * 3200 / MIB)
    loss = communication_table([run], "eval_loss", 1.5).iloc[0]
    assert loss["target_round"] == 3 and loss["upload_params_m_to_target"] == whole["upload_params_m"]
    never = communication_table([run], "arc", 0.9).iloc[0]
    assert pd.isna(never["target_round"]) and pd.isna(never["upload_params_m_to_target"])


def test_paper_shapes_have_every_column_of_the_paper():
    runs = [_run("a", "fedit"), _run("b", "fedit+ecolora", eco={"round_robin": True})]
    t1 = paper_shape(runs, "table1", communication_table(runs, "arc", 0.35))
    assert list(t1.columns[:4]) == ["Method", "ARC", "Upload Param.", "Total Param."]
    assert list(t1["Method"]) == ["FedIT", "FedIT w/ EcoLoRA"] and t1["ARC"].iloc[0] == pytest.approx(40.0)
    assert t1["Upload Param."].iloc[0] == pytest.approx(0.002)  # to the target round
    dpo = [_run("d", "fedit", "dpo"), _run("e", "fedit+ecolora", "dpo", {"round_robin": True})]
    t2 = paper_shape(dpo, "table2", communication_table(dpo))
    assert list(t2.columns[:5]) == ["Method", "MT-bench", "MMLU", "Upload P.", "Total P."]
    assert list(t2["Method"]) == ["DPO", "DPO w/ EcoLoRA"] and (t2["MT-bench"] == "n/a").all()
    assert t2["MMLU"].iloc[0] == pytest.approx(27.0)


def test_table_cli_prints_the_shapes_beside_the_paper(tiny_cfg, tmp_path):
    from click.testing import CliRunner

    from fl_core.run import loop
    from fl_core.run.config import EcoLoRAConfig
    from harness.cli import main

    out = loop.train(tiny_cfg(rounds=2, ecolora=EcoLoRAConfig(n_segments=3)), tmp_path / "eco", progress=False)
    result = CliRunner().invoke(main, ["table", str(out), "--shape", "table1", "--metric", "eval_loss",
                                       "--target", "100"])
    assert result.exit_code == 0, result.output
    assert "Upload Param." in result.output and "FedIT w/ EcoLoRA" in result.output
    assert "paper, Table 1" in result.output and "2675.7" in result.output
    result = CliRunner().invoke(main, ["table", str(out), "--shape", "table2", "--no-paper"])
    assert result.exit_code == 0 and "MT-bench" in result.output and "n/a" in result.output


def test_table3_shape_names_the_ablations_and_converts_times():
    runs = [_run("rr", "fedit+ecolora", eco={"round_robin": False}), _run("enc", "fedit+ecolora", eco={"encode": False}),
            _run("full", "fedit+ecolora", eco={"round_robin": True})]
    frame = pd.DataFrame({"run": ["rr", "enc", "full"], "scenario": "1/5", "target_round": 1,
                          "final_eval_loss": 1.5, "upload_time_s": [600.0, 120.0, 60.0],
                          "communication_time_s": [900.0, 300.0, 120.0]})
    t3 = paper_shape(runs, "table3", frame)
    assert list(t3["Method"]) == ["w/o R.R. Segment", "w/o Encoding", "Full"]
    assert list(t3["Upload Time (min)"]) == [10.0, 2.0, 1.0] and t3["ARC"].iloc[0] == pytest.approx(40.0)
