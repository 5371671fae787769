"""The EcoLoRA paper's reported numbers (Tables 1–4, 10, 11) and what they imply.

Everything here is arithmetic on the printed tables (``../shared/papers/ecolora-emnlp2025.md``);
docs/ECOLORA.md ("What the paper's tables imply") walks through it.

* **Counting.** "Param." columns are millions of values sent. A FedIT/FFA-LoRA row's total is
  exactly twice its upload (every participant downloads what one uploads), and a baseline's
  upload divided by one adapter's size is the number of uploads counted: 300–390 for
  Table 1, not the 400 of 40 rounds × 10 clients, so the paper counts to a stopping point.
* **Implied k.** Within one EcoLoRA row, upload and download cover the same client-rounds,
  so their ratio does not depend on where the row stopped counting. With a download of
  ``d`` adapter-sized vectors per client-round (1 for FedIT/FFA-LoRA, N_t for FLoRA's
  stack) sent dense, and an upload of one of N_s segments at keep ratio k with
  Golomb-coded positions counted in fp16-value units, ``upload / download =
  k_eff / (N_s d)`` with ``k_eff = k (16 + bits(k)) / 16``; for k >= 0.382 the Rice code is
  a bitmap, bits(k) = 1/k, so ``k_eff = k + 1/16``. Every QA row gives k ≈ 0.66–0.72 and
  the DPO row 0.9495, i.e. k_max = 0.95 (to 0.05 %), which also pins the download as dense:
  any sparser download would put the DPO row's upload above what k <= k_max can send.
"""
from __future__ import annotations

import math

import pandas as pd

from fl_core.codec.golomb import expected_bits_per_position, rice_parameter
from fl_core.codec.sparsify import k_trajectory
from fl_core.errors import ConfigError

N_SEGMENTS, PARTICIPANTS, ROUNDS = 5, 10, 40  # Appendix A, Section 4.1

# Values per adapter: q,v in every layer, r (in + out) per module (FFA-LoRA sends B only).
ADAPTER_M = {
    ("Llama2-7B", 16): 32 * 2 * 16 * (4096 + 4096) / 1e6,  # 8.388608
    ("Llama2-13B", 16): 40 * 2 * 16 * (5120 + 5120) / 1e6,  # 13.1072
    ("Vicuna-7B", 8): 32 * 2 * 8 * (4096 + 4096) / 1e6,  # 4.194304
}

TABLE1 = pd.DataFrame(
    [(model, method, dataset, arc, up, total)
     for model, rows in {
         "Llama2-7B": [("FedIT", 66.6, 2520.1, 5040.1, 66.5, 2772.1, 5544.2),
                       ("FedIT w/ EcoLoRA", 66.6, 346.5, 2675.7, 66.5, 481.1, 3765.6),
                       ("FLoRA", 67.0, 2856.1, 31416.9, 66.4, 2688.1, 29568.8),
                       ("FLoRA w/ EcoLoRA", 67.2, 350.9, 24165.7, 66.3, 321.6, 22023.9),
                       ("FFA-LoRA", 67.4, 1512.0, 3024.1, 66.7, 1260.0, 2520.1),
                       ("FFA-LoRA w/ EcoLoRA", 67.4, 160.1, 1265.2, 66.7, 173.9, 1346.1)],
         "Llama2-13B": [("FedIT", 70.3, 3674.1, 7348.2, 70.1, 2361.9, 4723.8),
                        ("FedIT w/ EcoLoRA", 70.4, 488.9, 3775.4, 70.0, 427.4, 3254.8),
                        ("FLoRA", 70.3, 4461.4, 49075.3, 69.8, 4067.7, 44745.1),
                        ("FLoRA w/ EcoLoRA", 70.5, 576.3, 39816.7, 70.1, 555.8, 38026.2),
                        ("FFA-LoRA", 70.2, 2099.5, 4199.0, 69.9, 2558.7, 5117.5),
                        ("FFA-LoRA w/ EcoLoRA", 70.2, 272.0, 2137.5, 69.9, 261.5, 1943.3)],
     }.items()
     for method, a_arc, a_up, a_tot, d_arc, d_up, d_tot in rows
     for dataset, arc, up, total in (("Alpaca", a_arc, a_up, a_tot), ("Dolly", d_arc, d_up, d_tot))],
    columns=["model", "method", "dataset", "arc", "upload_params_m", "total_params_m"],
)
"""Table 1: ARC and communication (millions of parameters), Llama2-7B/13B on Alpaca-GPT4 and Dolly."""

TABLE2 = pd.DataFrame(
    [("DPO", 3.26, 34.8, 1719.7, 3439.3), ("DPO w/ EcoLoRA", 3.28, 35.4, 348.8, 2072.1)],
    columns=["method", "mt_bench", "mmlu", "upload_params_m", "total_params_m"],
)
"""Table 2: federated DPO, Vicuna-7B (r = 8) on UltraFeedback."""

TABLE3 = pd.DataFrame(
    [("w/o R.R. Segment", 66.5, 72.6, 106.2), ("w/o Sparsification", 66.6, 25.6, 55.6),
     ("w/ Fixed Sparsification", 66.1, math.nan, math.nan), ("w/o Encoding", 66.5, 29.5, 68.9),
     ("Full", 66.5, 18.2, 42.6)],
    columns=["variant", "arc", "upload_time", "total_time"],
)
"""Table 3: ablations (FedIT w/ EcoLoRA, Llama2-7B, Dolly); time to ARC 66.5 at 1/5 Mbps ("-": not reached)."""

TABLE4 = pd.DataFrame(
    [("N_s=3", 3, 66.6, 688.9, 3495.7), ("N_s=5", 5, 66.5, 481.1, 3765.6), ("N_s=10", 10, 66.0, math.nan, math.nan),
     ("N_s=5, k_min^B=0.25", 5, 66.5, 271.2, 2464.7), ("N_s=5, k_min^A=0.3", 5, 66.2, math.nan, math.nan)],
    columns=["variant", "n_segments", "arc", "upload_params_m", "total_params_m"],
)
"""Table 4: compression levels, parameters to ARC 66.5 (FedIT w/ EcoLoRA, Llama2-7B, Dolly)."""


def effective_k(k: float) -> float:
    """Values plus Golomb-coded positions per element of the covered slice, in fp16-value units."""
    return k * (16.0 + expected_bits_per_position(k, rice_parameter(k))) / 16.0


def implied_k(k_eff: float) -> float:
    """The keep ratio k whose :func:`effective_k` is ``k_eff`` (bisection; k in (0, 1])."""
    if not 0.0 < k_eff <= effective_k(1.0):
        raise ConfigError(f"effective ratio {k_eff} outside what top-k can send (0, {effective_k(1.0)}]")
    lo, hi = 1e-9, 1.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if effective_k(mid) < k_eff else (lo, mid)
    return (lo + hi) / 2


def _adapter_m(model: str, method: str) -> float:
    rank = 8 if model == "Vicuna-7B" else 16
    size = ADAPTER_M[(model, rank)]
    return size / 2 if method.startswith("FFA") else size


def implied_k_rows() -> pd.DataFrame:
    """Every EcoLoRA row of Tables 1, 2 and 4 with the k its upload/download ratio implies.

    Columns: ``k_eff`` (upload per client-round over one dense adapter-sized download, times
    N_s), ``implied_k`` (positions Golomb-coded and counted, the reading that makes the DPO
    row exactly k_max), ``implied_k_values_only`` (= k_eff), ``baseline_uploads`` (uploads
    the baseline row counts: its upload over one adapter) and ``counted_vs_baseline`` (the
    EcoLoRA row's download over the baseline's: the share of the baseline's client-rounds
    it counts, when both downloads are dense).
    """
    rows = []
    t1 = TABLE1.assign(table="1")
    t2 = TABLE2.assign(table="2", model="Vicuna-7B", dataset="UltraFeedback")
    t4 = TABLE4.rename(columns={"variant": "method"}).assign(table="4", model="Llama2-7B", dataset="Dolly")
    for frame in (t1, t2, t4):
        for _, row in frame.iterrows():
            eco = row["method"].endswith("w/ EcoLoRA") or row["table"] == "4"
            if not eco or math.isnan(row["upload_params_m"]):
                continue
            base_name = row["method"].removesuffix(" w/ EcoLoRA")
            n_s = int(row.get("n_segments", N_SEGMENTS)) if row["table"] == "4" else N_SEGMENTS
            stack = PARTICIPANTS if base_name == "FLoRA" else 1
            up, down = row["upload_params_m"], row["total_params_m"] - row["upload_params_m"]
            k_eff = n_s * stack * up / down
            if row["table"] == "4":
                base = TABLE1[(TABLE1.model == "Llama2-7B") & (TABLE1.method == "FedIT") & (TABLE1.dataset == "Dolly")]
            else:
                base = frame[(frame.model == row["model"]) & (frame.dataset == row["dataset"])
                             & (frame.method == base_name)]
            b_up, b_tot = float(base["upload_params_m"].iloc[0]), float(base["total_params_m"].iloc[0])
            rows.append({
                "table": row["table"], "model": row["model"], "dataset": row["dataset"], "method": row["method"],
                "upload_ratio": up / b_up, "k_eff": k_eff, "implied_k": implied_k(k_eff),
                "implied_k_values_only": k_eff,
                "baseline_uploads": b_up / _adapter_m(row["model"], base_name) if base_name != "FLoRA" else math.nan,
                "counted_vs_baseline": down / (b_tot - b_up),
            })
    return pd.DataFrame(rows)


def mean_k(losses: list[float], *, k_max: float = 0.95, k_min_a: float = 0.6, k_min_b: float = 0.5,
           gamma_a: float = 1.0, gamma_b: float = 2.0, share_a: float = 0.5) -> float:
    """Mean over rounds of the A/B-size-weighted k that Eq. 4 gives for a training-loss curve.

    ``share_a`` is A's share of the adapter (1/2 for Llama2's q,v; 0.6 for SmolLM2-135M's).
    """
    ka = k_trajectory(losses, k_max, k_min_a, gamma_a)
    kb = k_trajectory(losses, k_max, k_min_b, gamma_b)
    return sum(share_a * a + (1 - share_a) * b for a, b in zip(ka, kb)) / len(losses)


def calibrate_gamma(losses: list[float], target_k: float, *, ratio: float = 2.0, **schedule) -> float:
    """γ_A (with γ_B = ``ratio`` γ_A) at which :func:`mean_k` of ``losses`` equals ``target_k``.

    The mean falls monotonically in γ for a falling loss curve; ``ConfigError`` when the
    target lies outside what γ in [0, 1000] can reach (e.g. a flat curve stays at k_max).
    """
    def at(g: float) -> float:
        return mean_k(losses, gamma_a=g, gamma_b=ratio * g, **schedule)

    lo, hi = 0.0, 1000.0
    if not at(hi) <= target_k <= at(lo):
        raise ConfigError(f"mean k {target_k} is outside [{at(hi):.4f}, {at(lo):.4f}] for this loss curve")
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if at(mid) > target_k else (lo, mid)
    return (lo + hi) / 2
