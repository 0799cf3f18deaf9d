"""The national benchmark (bench/national.py) runs end to end on small data against its own
PostgreSQL server and prints every row (no timing claims)."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg import PostgresError, find_bindir

ROOT = Path(__file__).resolve().parent.parent


def _postgres_missing():
    try:
        find_bindir()
    except PostgresError:
        return True
    return False


@pytest.mark.slow
@pytest.mark.skipif(_postgres_missing(), reason="no PostgreSQL server binaries "
                    "(apt-get install postgresql)")
def test_smoke_national_benchmark_prints_every_row():
    done = subprocess.run([sys.executable, "-m", "bench.national", "--smoke"], cwd=ROOT,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for line in ("machine:", "PostgreSQL", "20,000 staff in 200 units",
                 "n) load: 200 units, 20,000 staff (COPY)", "certificates", "module reads",
                 "secondary indexes", "lms.reports.records.rebuild", "VACUUM ANALYZE",
                 "n) baseline: SELECT count(*) FROM users WHERE active",
                 "n) progress of the top unit", "n) progress of a department",
                 "n) untrained staff, first page: the top unit",
                 "n) dashboard of the top unit, server time",
                 "n) dashboard of a department", "p95 < 1000 ms", "p95 < 150 ms"):
        assert line in out, line
    rows = [row for row in out.splitlines() if row.startswith("| n)")]
    assert len(rows) >= 13, out
    assert all("failed" not in row.lower() for row in rows), out
    # The report's figures of the whole country are exactly what the generator wrote.
    check = next(row for row in rows if "the generator's tallies" in row)
    assert "| meets" in check, check
