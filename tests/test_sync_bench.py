"""bench/sync.py measures the bundled catalogue end to end (no timing claims here)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_sync_benchmark_rows_come_out():
    # Its own process: the benchmark builds apps of its own, away from the test session.
    done = subprocess.run([sys.executable, "-m", "bench.sync"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line.split(" | ") for line in done.stdout.splitlines()]
    assert [row[0][:18] for row in rows] == ["c) content sync, c", "c) content sync, w",
                                             "   warm with --for",
                                             "   `lms sync-conte"]
    assert [row[4] for row in rows[:2]] == ["< 2 s", "< 0.3 s"]
    assert all("failed" not in row[1] for row in rows), done.stdout
