"""Rebuild the shipped trace library (``ns3_scenarios/trace_data/``) from the upstream trace files.

Nothing is downloaded: give the upstream repository as a checkout folder or a bare git
directory (read with ``git show COMMIT:PATH``)::

    python benchmarks/build_trace_library.py --mahimahi /path/to/mahimahi[.git] [--commit ae477d4...]

Derivation (docs/DATA.md, "Measured traces"): a mahimahi file lists one millisecond
timestamp per 1500-byte delivery opportunity; :func:`ns3_scenarios.traces.read_trace` counts
them per 1 s window (rate = opportunities x 1500 x 8 bit / 1 s), the trailing partial
second is dropped, and the series is written as ``time_s,mbps`` with the rate to 1 kbit/s
(exact: one opportunity per second is 0.012 Mbit/s). A window without any opportunity is an
outage. Statistics (mean, p10/p50/p90, outage share) are over those 1 s windows.
Each file's git blob id is recorded, so a copy of the upstream can be checked against it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ns3_scenarios.traces import read_trace  # noqa: E402

OUT = ROOT / "ns3_scenarios" / "trace_data"
WINDOW_S = 1.0
MAHIMAHI = {
    "repository": "https://github.com/ravinet/mahimahi",
    "licence": "GPL-3.0-or-later",
    "licence_evidence": "COPYING (GNU GPL version 3) and debian/copyright ('Files: *', 'License: GPL-3+', "
                        "Copyright 2013 The Mahimahi Authors) of the upstream repository",
    "licence_file": "LICENSE-mahimahi-GPL-3.0.txt",
    "citation": "K. Winstein, A. Sivaraman, H. Balakrishnan, \"Stochastic Forecasts Achieve High Throughput and "
                "Low Delay over Cellular Networks\", USENIX NSDI 2013 (Saturator traces, mahimahi traces/README)",
    "method": "Saturator: a saturating flow records every 1500-byte delivery opportunity of the cellular link",
}
#: name -> (upstream file stem, operator, technology, mobility as stated by the upstream file name, note)
TRACES = {
    "att-lte-driving": ("ATT-LTE-driving", "AT&T", "LTE", "driving", "Sprout evaluation trace (2013)"),
    "att-lte-driving-2016": ("ATT-LTE-driving-2016", "AT&T", "LTE", "driving", "added to mahimahi in 2016"),
    "tmobile-lte-short": ("TMobile-LTE-short", "T-Mobile", "LTE", "unstated (a 140 s recording)",
                          "2016 T-Mobile LTE traces"),
    "tmobile-lte-driving": ("TMobile-LTE-driving", "T-Mobile", "LTE", "driving", "2016 T-Mobile LTE traces"),
    "tmobile-umts-driving": ("TMobile-UMTS-driving", "T-Mobile", "UMTS (3G)", "driving",
                             "Sprout evaluation trace (2013)"),
    "verizon-evdo-driving": ("Verizon-EVDO-driving", "Verizon", "1xEV-DO (3G)", "driving",
                             "Sprout evaluation trace (2013)"),
    "verizon-lte-short": ("Verizon-LTE-short", "Verizon", "LTE", "unstated (a 140 s recording)",
                          "Sprout evaluation trace (2013)"),
}
DIRECTIONS = {"up": "up", "down": "down"}


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Upstream:
    """Files of one upstream repository, from a checkout folder or a (bare) git directory at ``commit``."""

    def __init__(self, where: Path, commit: str | None) -> None:
        self.where = where
        self.is_git = not (where / "traces").is_dir()
        self.commit = commit or (self._git("rev-parse", "HEAD").decode().strip() if self.is_git else "unknown")

    def _git(self, *args: str) -> bytes:
        return subprocess.run(["git", f"--git-dir={self.where}", *args], check=True, capture_output=True).stdout

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or ``None`` where the upstream copy lacks it."""
        if not self.is_git:
            file = self.where / path
            return file.read_bytes() if file.is_file() else None
        try:
            return self._git("show", f"{self.commit}:{path}")
        except subprocess.CalledProcessError:
            return None


def _series(data: bytes) -> tuple[np.ndarray, float]:
    """Mbit/s per whole 1 s window of a mahimahi file (trailing partial second dropped), and the duration."""
    with tempfile.NamedTemporaryFile(suffix=".trace") as tmp:
        tmp.write(data)
        tmp.flush()
        trace = read_trace(tmp.name, bin_s=WINDOW_S)
    whole = int(trace.period_s // WINDOW_S)
    mbps = np.round(np.asarray(trace.bps[:whole]) / 1e6, 3)
    return mbps, whole * WINDOW_S


def stats(mbps: np.ndarray, duration_s: float) -> dict:
    """Duration, mean and p10/p50/p90 in Mbit/s, and the share of 1 s windows with no delivery (outage)."""
    p10, p50, p90 = np.percentile(mbps, [10, 50, 90])
    return {"duration_s": duration_s, "mean_mbps": round(float(mbps.mean()), 4), "p10_mbps": round(float(p10), 4),
            "p50_mbps": round(float(p50), 4), "p90_mbps": round(float(p90), 4),
            "outage_share": round(float(np.mean(mbps == 0)), 4)}


def build(upstream: Upstream, out: Path) -> dict:
    """Write every available trace's CSVs and return the index."""
    out.mkdir(parents=True, exist_ok=True)
    entries, missing = {}, []
    for name, (stem, operator, tech, mobility, note) in TRACES.items():
        directions = {}
        for direction in DIRECTIONS:
            path = f"traces/{stem}.{direction}"
            data = upstream.read(path)
            if data is None:
                missing.append(path)
                continue
            mbps, duration = _series(data)
            file = f"{name}.{direction}.csv"
            rows = ["time_s,mbps"] + [f"{i * WINDOW_S:g},{r:.3f}" for i, r in enumerate(mbps)]
            (out / file).write_text("\n".join(rows) + "\n")
            directions[direction] = {"file": file, "upstream_path": path, "upstream_blob": _git_blob_id(data),
                                     "opportunities": data.count(b"\n"), **stats(mbps, duration)}
        if directions:
            entries[name] = {"operator": operator, "technology": tech, "mobility": mobility, "note": note,
                             "measured": sorted(directions), "source": "mahimahi",
                             "directions": directions}
    licence = upstream.read("COPYING")
    if licence is not None:
        (out / MAHIMAHI["licence_file"]).write_bytes(licence)
    return {"format": "time_s,mbps per 1 s window (see benchmarks/build_trace_library.py)",
            "window_s": WINDOW_S,
            "sources": {"mahimahi": {**MAHIMAHI, "commit": upstream.commit}},
            "missing_upstream_files": missing, "traces": entries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mahimahi", type=Path, required=True, help="mahimahi checkout or git directory")
    parser.add_argument("--commit", default=None, help="commit to read from a git directory [default: HEAD]")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    index = build(Upstream(args.mahimahi, args.commit), args.out)
    (args.out / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(index['traces'])} traces to {args.out}; absent upstream: {', '.join(index['missing_upstream_files'])}")


if __name__ == "__main__":
    main()
