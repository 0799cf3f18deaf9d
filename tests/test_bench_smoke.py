"""The benchmark runs end to end on tiny data and reports every figure (no timing claims)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_smoke_benchmark_prints_every_figure():
    done = subprocess.run([sys.executable, "-m", "bench.run", "--smoke"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for line in ("machine:", "Python", "SQLite", "a) staff import, 400 rows",
                 "b) staff list, page 1", "b) staff list, middle page",
                 "b) staff list, last page", "b) staff list, search 'nguyen thi', page 1",
                 "b) staff list, search 'nguyen thi', last page"):
        assert line in out, line
    figure_rows = [row for row in out.splitlines() if row.startswith("| a)")
                   or row.startswith("| b)")]
    assert all("failed" not in row for row in figure_rows), out
