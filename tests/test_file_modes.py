"""Files the tool writes get the user's normal mode under the umask, the Figure-3 PNG too (issue 23.4):
``tempfile`` would leave them 0600, unreadable to whoever the results folder is shared with."""
from __future__ import annotations

import os
import stat
import tempfile

import pandas as pd
import pytest

from fl_core.rundir import atomic


@pytest.fixture(params=[0o022, 0o027, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_written_files_and_folders_follow_the_umask(umask, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from harness import plot

    summary = pd.DataFrame({"method": ["fedit"], "network": ["1/5"], "total_s": [1.0]})
    atomic.write_frame(tmp_path / "summary.csv", summary)
    atomic.write_json(tmp_path / "scenario.json", {"name": "x"})
    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    plot.save(fig, tmp_path / "figure3.png")
    folder = tempfile.mkdtemp(dir=tmp_path)  # as the model conversion makes its folder
    atomic.user_mode(folder)
    expected = 0o666 & ~umask
    assert {name: _mode(tmp_path / name) for name in ("summary.csv", "scenario.json", "figure3.png")} == {
        "summary.csv": expected, "scenario.json": expected, "figure3.png": expected}
    assert _mode(folder) == 0o777 & ~umask
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
