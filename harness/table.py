"""The paper's tables from run directories and timing CSVs (Tables 1–4 shapes).

* ``communication_table`` — Table 1/2/4: final accuracy or loss, upload and total
  parameters (values sent, in millions, as the paper counts them) and bytes.
* ``time_to_target`` — Table 3: the first evaluated round reaching a target metric, and
  the upload and total communication time (critical path, from replay) up to it.
"""
from __future__ import annotations

import math

import pandas as pd

from fl_core.errors import NetbenchError
from fl_core.rundir import RunRecord


def _final_metrics(run: RunRecord) -> dict:
    ev = run.evals
    if ev.empty:
        return {}
    final = ev.iloc[-1]
    return {k: final[k] for k in ("eval_loss", "arc", "arc_easy", "arc_challenge", "pref_accuracy") if k in ev}


def communication_table(runs: list[RunRecord]) -> pd.DataFrame:
    """One row per run: metrics and communication volume over the whole run."""
    rows = []
    for run in runs:
        r = run.rounds
        up_values = r["up_value_bytes"].sum() / 2 if "up_value_bytes" in r else math.nan
        down_values = r["down_value_bytes"].sum() / 2 if "down_value_bytes" in r else math.nan
        rows.append({
            "run": run.name, "method": run.method, "rounds": int(r["round"].nunique()), **_final_metrics(run),
            "upload_params_m": up_values / 1e6, "total_params_m": (up_values + down_values) / 1e6,
            "upload_mb": r["uplink_bytes"].sum() / 1e6,
            "total_mb": (r["uplink_bytes"].sum() + r["downlink_bytes"].sum()) / 1e6,
            "mean_k_a": r["k_a"].mean() if "k_a" in r else math.nan,
            "mean_k_b": r["k_b"].mean() if "k_b" in r else math.nan,
        })
    return pd.DataFrame(rows)


def _target_round(run: RunRecord, metric: str, target: float) -> int | None:
    ev = run.evals
    if ev.empty or metric not in ev:
        raise NetbenchError(f"run {run.name} has no {metric!r} in eval.csv")
    ev = ev[ev["round"] >= 0]
    better = ev[metric] <= target if metric.endswith("loss") else ev[metric] >= target
    hits = ev.loc[better, "round"]
    return int(hits.min()) if len(hits) else None


def time_to_target(runs: list[RunRecord], timing: pd.DataFrame, metric: str, target: float) -> pd.DataFrame:
    """Per (run, scenario): round reaching ``target`` and the communication time spent until then."""
    needed = {"run", "scenario", "round", "round_s", "critical_download_s", "critical_upload_s"}
    missing = needed - set(timing.columns)
    if missing:
        raise NetbenchError(f"timing table lacks columns {', '.join(sorted(missing))}")
    per_round = timing.drop_duplicates(["scenario", "run", "round"])
    rows = []
    for run in runs:
        hit = _target_round(run, metric, target)
        for scenario, t in per_round[per_round["run"] == run.name].groupby("scenario"):
            upto = t[t["round"] <= hit] if hit is not None else t.iloc[0:0]
            reached = hit is not None
            rows.append({
                "run": run.name, "method": run.method, "scenario": scenario, "target_round": hit,
                f"final_{metric}": _final_metrics(run).get(metric, math.nan),
                "upload_time_s": upto["critical_upload_s"].sum() if reached else math.nan,
                "communication_time_s": (upto["critical_download_s"] + upto["critical_upload_s"]).sum()
                if reached else math.nan,
                "total_time_s": upto["round_s"].sum() if reached else math.nan,
            })
    return pd.DataFrame(rows)
