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
    assert "| e) " in out, "no quiz-submission row"
    certificate_rows = [row for row in out.splitlines() if row.startswith("| f)")]
    assert len(certificate_rows) == 3, out
    assert all("failed" not in row for row in certificate_rows), certificate_rows
    report_rows = [row for row in out.splitlines() if row.startswith("| g)")]
    # rebuild, 2 progress counted, figures kept, progress read, 2 dashboards, staff export
    assert len(report_rows) == 8, out
    assert all("failed" not in row for row in report_rows), report_rows
    digest_rows = [row for row in out.splitlines() if row.startswith("| h)")]
    assert len(digest_rows) == 3, out  # queued, delivered, in all
    assert all("failed" not in row.lower() for row in digest_rows), digest_rows
    assert "50 digests rendered and delivered, in all" in out, digest_rows
    load_rows = [row for row in out.splitlines() if row.startswith("| i)")]
    assert len(load_rows) == 2, out  # the requests, the check in the database
    assert ", 0 failed" in load_rows[0], load_rows
    assert "lost 0, doubled 0, wrong 0" in out
    for page in ("sign-in, POST /login", "My training", "unit dashboard, the head",
                 "province dashboard"):
        assert f"d) HTTP {page}" in out, page


@pytest.mark.slow
def test_smoke_quiz_benchmark_checks_every_attempt_in_the_database():
    """`bench.quiz --smoke`: forged sessions accepted, wrk submits, and afterwards no attempt
    lost, graded twice or graded wrong (that part is a real check even on tiny data)."""
    done = subprocess.run([sys.executable, "-m", "bench.quiz", "--smoke"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    if "no `wrk`" in out:
        pytest.skip("wrk is not installed (apt-get install wrk)")
    assert "failed" not in out, out
    for line in ("e) HTTP GET /healthz", "e) quiz submissions (4 learners at once",
                 "graded/s in the DB", "checked in the database afterwards",
                 "lost 0, doubled 0, wrong 0", "statuses 302: "):
        assert line in out, line
    assert "errors!" not in out, out
    assert "ran out of attempts" not in out, out
