"""The tidy timing table (one row per scenario, run, round, client) and its per-run summary.

A client's finish time is ``download_s + compute_s + upload_s`` (its upload starts once it
has the whole download and has computed); the round ends with the last finisher, the
*critical client*. Summed over rounds, the critical client's compute is the run's
computation time and its download + upload the communication time, so
``total_s = computation_s + communication_s`` exactly (Figure 3's stacked bars).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fl_core.rundir import atomic
from fl_core.rundir.columns import COUNT, RATIO, SECONDS, Column, check_frame
from fl_core.errors import DataError
from harness import analytic
from harness.scenario import Scenario
from ns3_scenarios.seeds import trace_offset
from ns3_scenarios.transfers import ClientTiming, ClientTransfer, link_of

TIMING_COLUMNS = [
    "scenario", "scenario_hash", "run", "method", "up_mbps", "down_mbps", "latency_ms", "tcp", "engine", "round", "client",
    "downlink_bytes", "uplink_bytes", "download_s", "compute_s", "upload_s", "client_finish_s", "round_s",
    "critical_client", "critical_download_s", "critical_compute_s", "critical_upload_s", "compute_source",
    "analytic_download_s", "analytic_upload_s", "plain_download_s", "plain_upload_s",
    "theory_download_s", "theory_upload_s",
]
#: The columns a timing table had before scenarios (enough to summarise and plot an old table).
CORE_TIMING_COLUMNS = [c for c in TIMING_COLUMNS if c not in (
    "scenario_hash", "plain_download_s", "plain_upload_s", "theory_download_s", "theory_upload_s")]
SUMMARY_COLUMNS = [
    "scenario", "scenario_hash", "run", "method", "up_mbps", "down_mbps", "latency_ms", "tcp", "engine",
    "compute_source", "rounds", "total_s", "computation_s", "communication_s", "communication_share",
    "goodput_up_mbps", "goodput_down_mbps", "analytic_communication_s", "plain_communication_s",
    "theory_communication_s", "ns3_over_analytic", "ns3_over_plain", "ns3_over_theory",
]
_TEXT_COLUMNS = ("scenario", "scenario_hash", "run", "method", "tcp", "engine", "compute_source")
#: What the numeric columns of timing and summary tables may hold (checked when a CSV is read back).
NUMERIC_TYPES: dict[str, Column] = {
    **dict.fromkeys(["round", "client", "critical_client", "downlink_bytes", "uplink_bytes", "rounds"], COUNT),
    **dict.fromkeys(["up_mbps", "down_mbps", "latency_ms", "download_s", "compute_s", "upload_s", "client_finish_s",
                     "round_s", "critical_download_s", "critical_compute_s", "critical_upload_s",
                     "analytic_download_s", "analytic_upload_s", "total_s", "computation_s", "communication_s",
                     "analytic_communication_s"], SECONDS),
    **dict.fromkeys(["plain_download_s", "plain_upload_s", "plain_communication_s"], SECONDS),
    **dict.fromkeys(["theory_download_s", "theory_upload_s", "theory_communication_s"], Column(nan_ok=True)),
    **dict.fromkeys(["goodput_up_mbps", "goodput_down_mbps", "ns3_over_analytic", "ns3_over_plain",
                     "ns3_over_theory"], Column(nan_ok=True)),
    "communication_share": RATIO,
}


def _trace_clock(link, direction: str, offset: float, at_s: float) -> float:
    """Where in its capacity trace a client's ``direction`` is ``at_s`` into the round: its seeded offset
    (a share of the period, ``seeds.trace_offset(round seed, client)``) plus ``at_s``, as the engines run it."""
    trace = getattr(link, direction).trace
    return 0.0 if trace is None else offset * trace.period_s + at_s


def round_rows(
    *,
    scenario: Scenario,
    run: str,
    method: str,
    round_idx: int,
    transfers: Sequence[ClientTransfer],
    timings: Sequence[ClientTiming],
) -> list[dict]:
    """The timing rows of one simulated round (``timings`` in the order of ``transfers``).

    ``transfers`` are as the engine got them (each client's own link set, compute scaled).
    Beside ns-3's times each row keeps three references for the same bytes on the same link:
    ``analytic_*`` (closed-form TCP on an idle, lossless link), ``plain_*`` (size / rate) and
    ``theory_*`` (the closed form stretched by the link's loss and capacity trace: Mathis /
    PFTK throughput, trace integral; equal to ``analytic_*`` on a plain link).
    """
    network, tcp = scenario.network, scenario.network.tcp
    timings = [ClientTiming(t.client, *(round(v, 9) for v in (t.download_done_s, t.upload_start_s, t.upload_done_s)))
               for t in timings]  # whole nanoseconds, ns-3's resolution
    finish = [t.upload_done_s for t in timings]
    critical = max(range(len(timings)), key=lambda i: (finish[i], -timings[i].client))
    crit = timings[critical]
    digest = scenario.hash
    seed = scenario.round_seed(run, round_idx)
    rows = []
    for transfer, timing in zip(transfers, timings):
        link = link_of(network, transfer)
        offset = trace_offset(seed, int(transfer.client))

        down_bytes, up_bytes = int(transfer.downlink_bytes), int(transfer.uplink_bytes)
        rows.append({
            "scenario": scenario.name, "scenario_hash": digest, "run": run, "method": method,
            "up_mbps": link.up_mbps, "down_mbps": link.down_mbps, "latency_ms": link.latency_ms,
            "tcp": tcp, "engine": scenario.engine, "round": int(round_idx), "client": timing.client,
            "downlink_bytes": down_bytes, "uplink_bytes": up_bytes,
            "download_s": timing.download_s, "compute_s": round(timing.compute_s, 9),
            "upload_s": round(timing.upload_s, 9),
            "client_finish_s": timing.upload_done_s, "round_s": crit.upload_done_s,
            "critical_client": crit.client, "critical_download_s": crit.download_s,
            "critical_compute_s": round(crit.compute_s, 9), "critical_upload_s": round(crit.upload_s, 9),
            "compute_source": scenario.compute_source,
            "analytic_download_s": analytic.transfer_s(down_bytes, link.down_bps, link.latency_s, tcp),
            "analytic_upload_s": analytic.transfer_s(up_bytes, link.up_bps, link.latency_s, tcp),
            "plain_download_s": down_bytes * 8 / link.down_bps,
            "plain_upload_s": up_bytes * 8 / link.up_bps,
            "theory_download_s": analytic.theory_s(down_bytes, link, "down", _trace_clock(link, "down", offset, 0.0)),
            "theory_upload_s": analytic.theory_s(up_bytes, link, "up",
                                                 _trace_clock(link, "up", offset, timing.upload_start_s)),
        })
    return rows


def timing_frame(rows: Iterable[dict]) -> pd.DataFrame:
    """Rows as a timing table with the columns in their documented order."""
    return pd.DataFrame(list(rows), columns=TIMING_COLUMNS)


def check_columns(frame: pd.DataFrame, required: Iterable[str], what: str) -> None:
    """``DataError`` naming every column of ``required`` that ``frame`` lacks."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"{what} lacks columns: {', '.join(missing)}")


def _unique_or_nan(values: pd.Series) -> object:
    unique = values.unique()
    return unique[0] if len(unique) == 1 else np.nan


def _goodput_mbps(nbytes: pd.Series, seconds: pd.Series) -> float:
    used = nbytes > 0
    total_s = seconds[used].sum()
    return float(nbytes[used].sum() * 8 / total_s / 1e6) if total_s > 0 else np.nan


def summarize(timing: pd.DataFrame) -> pd.DataFrame:
    """One row per (scenario, run): total, computation and communication time, goodputs, references.

    ``ns3_over_analytic`` (``_plain``, ``_theory``) is the communication time ns-3 gives over
    what the closed form (size / rate, the loss- and trace-aware theory) predicts for the
    same critical transfers: how much the packet-level simulation adds. Tables written
    before these columns existed summarise with them left empty.
    """
    check_columns(timing, CORE_TIMING_COLUMNS, "timing table")
    timing = timing.copy()
    for column in TIMING_COLUMNS:
        if column not in timing.columns:
            timing[column] = np.nan
    keys = ["scenario", "scenario_hash", "run"]
    rows = []
    for _, t in timing.groupby(keys, sort=False, dropna=False):
        per_round = t.drop_duplicates("round")
        critical = t[t["client"] == t["critical_client"]]
        total = per_round["round_s"].sum()
        communication = (per_round["critical_download_s"] + per_round["critical_upload_s"]).sum()
        references = {kind: (critical[f"{kind}_download_s"] + critical[f"{kind}_upload_s"]).sum(min_count=1)
                      for kind in ("analytic", "plain", "theory")}
        rows.append({
            **{c: _unique_or_nan(t[c]) for c in ("scenario", "scenario_hash", "run", "method", "up_mbps",
                                                 "down_mbps", "latency_ms", "tcp", "engine", "compute_source")},
            "rounds": len(per_round), "total_s": total,
            "computation_s": per_round["critical_compute_s"].sum(), "communication_s": communication,
            "communication_share": communication / total if total > 0 else np.nan,
            "goodput_up_mbps": _goodput_mbps(t["uplink_bytes"], t["upload_s"]),
            "goodput_down_mbps": _goodput_mbps(t["downlink_bytes"], t["download_s"]),
            **{f"{kind}_communication_s": value for kind, value in references.items()},
            **{f"ns3_over_{kind}": communication / value if value and value > 0 else np.nan
               for kind, value in references.items()},
        })
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def read_timing(path: str | Path) -> pd.DataFrame:
    """Read a timing (or summary) CSV, keeping name columns as text (a run called ``001`` stays ``"001"``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"timing table {str(path)!r} does not exist")
    try:
        frame = pd.read_csv(path, dtype={c: str for c in _TEXT_COLUMNS})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    return check_frame(frame, NUMERIC_TYPES, str(path))


def write_table(frame: pd.DataFrame, path: str | Path) -> list[Path]:
    """Write ``frame`` atomically as ``<path>.csv`` and ``<path>.parquet``; returns both paths."""
    base = Path(path)
    stem = base.stem if base.suffix in (".csv", ".parquet") else base.name
    written = [base.parent / f"{stem}.csv", base.parent / f"{stem}.parquet"]
    for target in written:
        atomic.write_frame(target, frame)
    return written
