"""The paper's tables from run directories and timing CSVs (Tables 1–4 shapes).

* ``communication_table`` — one row per run: final metrics, communication over the whole
  run and, with a target, up to the first evaluated round that reaches it (the paper counts
  to a stopping point: Table 1's baselines count 180–410 uploads, not 400; ``harness.paper``).
  Parameters are counted as the paper counts them, payload bytes / 2 (fp16 values plus
  coded positions in value units; docs/ECOLORA.md derives that reading from Table 2), in
  millions; bytes as FlowerTune's communication budget counts them, whole serialised
  messages (frame header included), in MiB (2^20 bytes).
* ``time_to_target`` — Table 3: the first evaluated round reaching a target metric, and
  the upload and total communication time (critical path, from replay) up to it.
* ``paper_shape`` — one of the paper's table layouts (``table1``, ``table2``, ``table3``)
  with every column it has; what our runs cannot measure (MT-bench) is marked ``n/a``.
"""
from __future__ import annotations

import math

import pandas as pd

from fl_core.errors import NetbenchError
from fl_core.rundir.reader import RunRecord

MIB = 2**20
_METRICS = ("eval_loss", "arc", "arc_easy", "arc_challenge", "qa_accuracy", "arc_template", "mmlu", "pref_accuracy")


def _final_metrics(run: RunRecord) -> dict:
    ev = run.evals
    if ev.empty:
        return {}
    final = ev.iloc[-1]
    return {k: final[k] for k in _METRICS if k in ev}


def _volume(rounds: pd.DataFrame, suffix: str = "") -> dict:
    """Parameters (payload bytes / 2, millions) and serialised bytes (MiB) up and in total."""
    def payload(direction: str) -> float:
        cols = [f"{direction}_value_bytes", f"{direction}_position_bytes"]
        return rounds[cols].to_numpy().sum() if set(cols) <= set(rounds) else math.nan

    up_p, down_p = payload("up") / 2, payload("down") / 2
    up_b, down_b = rounds["uplink_bytes"].sum(), rounds["downlink_bytes"].sum()
    return {f"upload_params_m{suffix}": up_p / 1e6, f"total_params_m{suffix}": (up_p + down_p) / 1e6,
            f"upload_mib{suffix}": up_b / MIB, f"total_mib{suffix}": (up_b + down_b) / MIB}


def weights(run: RunRecord) -> str:
    """``pretrained``, or ``random-init (shape only)`` for a ``shape:`` run (its losses are not the named model's)."""
    return (run.meta.get("model") or {}).get("weights", "pretrained")


def communication_table(runs: list[RunRecord], metric: str | None = None, target: float | None = None) -> pd.DataFrame:
    """One row per run: metrics and communication over the whole run and, with ``metric`` and
    ``target``, up to and including the first evaluated round that reaches the target
    (``*_to_target`` columns, NaN when it is never reached)."""
    rows = []
    for run in runs:
        r = run.rounds
        row = {
            "run": run.name, "method": run.method, "weights": weights(run), "rounds": int(r["round"].nunique()),
            **_final_metrics(run),
            **_volume(r),
            "upload_mb": r["uplink_bytes"].sum() / 1e6,
            "total_mb": (r["uplink_bytes"].sum() + r["downlink_bytes"].sum()) / 1e6,
            "mean_k_a": r["k_a"].mean() if "k_a" in r else math.nan,
            "mean_k_b": r["k_b"].mean() if "k_b" in r else math.nan,
        }
        if target is not None:
            hit = _target_round(run, metric, target)
            row["target_round"] = hit
            upto = r[r["round"] <= hit] if hit is not None else None
            row.update({k: (v if upto is not None else math.nan) for k, v in _volume(
                upto if upto is not None else r, "_to_target").items()})
        rows.append(row)
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
        if not (per_round["run"] == run.name).any():
            held = ", ".join(sorted(map(str, per_round["run"].unique()))) or "none"
            raise NetbenchError(f"the timing table has no rows for run {run.name!r} (it holds runs: {held}); "
                                "give the timing CSV of a replay or sweep of this run")
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


_PAPER_METHODS = {"fedit": "FedIT", "flora": "FLoRA", "ffa-lora": "FFA-LoRA", "hlora": "HLoRA", "celora": "CE-LoRA"}


def paper_method(run: RunRecord) -> str:
    """The paper's row label: ``FedIT w/ EcoLoRA``; DPO runs as Table 2 writes them."""
    base, _, eco = run.method.partition("+")
    if run.meta.get("objective") == "dpo":
        return "DPO w/ EcoLoRA" if eco else "DPO"
    return _PAPER_METHODS.get(base, base) + (" w/ EcoLoRA" if eco else "")


def ablation_variant(run: RunRecord) -> str:
    """Table 3's row label from the run's EcoLoRA settings."""
    eco = (run.meta.get("config") or {}).get("ecolora") or {}
    if not eco:
        return "no EcoLoRA"
    if not eco.get("round_robin", True):
        return "w/o R.R. Segment"
    if not eco.get("sparsify", True):
        return "w/o Sparsification"
    if eco.get("fixed_k") is not None:
        return "w/ Fixed Sparsification"
    if not eco.get("encode", True):
        return "w/o Encoding"
    return "Full"


def _to_target_or_run(frame: pd.DataFrame, name: str) -> pd.Series:
    to_target = f"{name}_to_target"
    return frame[to_target] if to_target in frame else frame[name]


def paper_shape(runs: list[RunRecord], which: str, frame: pd.DataFrame, timing: pd.DataFrame | None = None) -> pd.DataFrame:
    """``frame`` (from :func:`communication_table`, or :func:`time_to_target` for table3) in one
    of the paper's layouts, every column the paper has, plus MiB beside its parameter columns.

    Parameter and MiB columns count to the target when the frame has one, else the whole run.
    ARC and MMLU are percentages as the paper prints them.
    """
    by_name = {run.name: run for run in runs}
    def pct(col: str) -> pd.Series:
        return frame[col] * 100 if col in frame else pd.Series(math.nan, index=frame.index)

    if which == "table1":
        return pd.DataFrame({
            "Method": [paper_method(by_name[n]) for n in frame["run"]], "ARC": pct("arc"),
            "Upload Param.": _to_target_or_run(frame, "upload_params_m"),
            "Total Param.": _to_target_or_run(frame, "total_params_m"),
            "Upload MiB": _to_target_or_run(frame, "upload_mib"), "Total MiB": _to_target_or_run(frame, "total_mib"),
            "QA acc.": pct("qa_accuracy"), "run": frame["run"],
        })
    if which == "table2":
        return pd.DataFrame({
            "Method": [paper_method(by_name[n]) for n in frame["run"]], "MT-bench": "n/a", "MMLU": pct("mmlu"),
            "Upload P.": _to_target_or_run(frame, "upload_params_m"),
            "Total P.": _to_target_or_run(frame, "total_params_m"),
            "Upload MiB": _to_target_or_run(frame, "upload_mib"), "Total MiB": _to_target_or_run(frame, "total_mib"),
            "run": frame["run"],
        })
    if which == "table3":
        if "upload_time_s" not in frame:
            raise NetbenchError("table3 needs --timing and --target (communication time to reach the target)")
        metric = next((c for c in frame if c.startswith("final_")), None)
        arc = [_final_metrics(by_name[n]).get("arc", math.nan) * 100 for n in frame["run"]]
        out = pd.DataFrame({
            "Method": [ablation_variant(by_name[n]) for n in frame["run"]], "scenario": frame["scenario"],
            "ARC": arc, "Upload Time (min)": frame["upload_time_s"] / 60,
            "Total Time (min)": frame["communication_time_s"] / 60, "target_round": frame["target_round"],
            "run": frame["run"],
        })
        if metric is not None and metric != "final_arc":
            out.insert(3, metric, frame[metric])
        return out
    raise NetbenchError(f"unknown table shape {which!r}; choose table1, table2 or table3")
