"""Figure-3 x labels: rate presets get their unit, named scenarios stay as named."""
from __future__ import annotations

import pytest

from harness.plot import _scenario_label


@pytest.mark.parametrize("scenario, label", [
    ("1/5", "1/5 Mbps"),
    ("0.2/1 20ms", "0.2/1 Mbps\n20ms"),
    ("wifi-home", "wifi-home"),
    ("lte-cell", "lte-cell"),
    ("divergence/loss=0.01", "divergence/loss=0.01"),
])
def test_scenario_label(scenario: str, label: str) -> None:
    assert _scenario_label(scenario) == label
