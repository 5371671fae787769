"""The demo's choices (issue 23.1): held-out loss only unless ARC is asked for, and its one-screen savings table."""
from __future__ import annotations

import pandas as pd
import pytest

from harness.commands.demo import _demo_config, savings_table


def test_the_demo_evaluates_held_out_loss_unless_arc_is_asked_for():
    plain, with_arc = _demo_config("fedit", "tiny-llama", 3, 1), _demo_config("fedit+ecolora", "tiny-llama", 3, 1, 20)
    assert (plain.evals, plain.arc_final, plain.arc_subset) == ((), 0, 0)
    assert (with_arc.evals, with_arc.arc_final, with_arc.ecolora is not None) == (("arc",), 20, True)


def test_savings_compare_each_ecolora_run_with_its_base_method_per_network():
    summary = pd.DataFrame({
        "scenario": ["1/5", "1/5", "1/5", "5/25", "5/25"],
        "method": ["fedit", "fedit+ecolora", "ffa-lora+ecolora", "fedit", "fedit+ecolora"],
        "communication_s": [100.0, 25.0, 10.0, 20.0, 10.0], "total_s": [200.0, 125.0, 50.0, 120.0, 110.0],
    })
    table = savings_table(summary)
    assert list(table["network"]) == ["1/5", "5/25"]  # ffa-lora+ecolora has no ffa-lora to compare with
    assert table["communication_saved_%"].tolist() == pytest.approx([75.0, 50.0])
    assert table["total_saved_%"].tolist() == pytest.approx([37.5, 100 * (1 - 110 / 120)])
