"""notebooks/figure3_analysis.ipynb runs top to bottom on a small timing CSV made here (no ns-3)."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

from harness.scenario import Scenario
from harness.timing import timing_frame, round_rows, write_table
from ns3_scenarios.network import PRESETS
from ns3_scenarios.transfers import ClientTiming, ClientTransfer

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "figure3_analysis.ipynb"


def small_timing_csv(folder: Path) -> Path:
    """Two methods x two networks x two rounds x two clients, with made-up (but consistent) flow times."""
    rows = []
    for method, up_bytes in (("fedit", 400_000), ("fedit+ecolora", 60_000)):
        for network in (PRESETS["0.2/1"], PRESETS["1/5"]):
            for round_idx in range(2):
                transfers = [ClientTransfer(c, 400_000, 3.0 + c, up_bytes + c) for c in range(2)]
                timings = []
                for t in transfers:
                    down = t.downlink_bytes * 8 / network.down_bps * 1.05
                    up = t.uplink_bytes * 8 / network.up_bps * 1.05
                    timings.append(ClientTiming(t.client, down, down + t.compute_s, down + t.compute_s + up))
                rows += round_rows(scenario=Scenario.from_network(network), run=f"{method}-run", method=method,
                                   round_idx=round_idx, transfers=transfers, timings=timings)
    return write_table(timing_frame(rows), folder / "timing")[0]


def test_figure3_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    monkeypatch.setenv("NETBENCH_TIMING_CSV", str(small_timing_csv(tmp_path)))
    monkeypatch.setenv("NETBENCH_ROUND", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2  # Figure 3 and the round timeline
