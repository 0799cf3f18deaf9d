"""The figures: staff import, staff list, content sync, pages over HTTP, quiz submissions;
each beside a baseline.

    python -m bench.run            full run (50,000 staff), writes bench/RESULTS.md
    python -m bench.run --smoke    tiny data, a few seconds, nothing written (CI)
"""

import argparse
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.certificates import certificate_figures
from bench.digests import digest_figures
from bench.generate import generate
from bench.http import http_figures
from bench.load import load_figures
from bench.loader import create_schema, floor_insert_staff, insert_units, make_app
from bench.progress import report_figures, seed_progress
from bench.quiz import quiz_figures
from bench.signin import sign_in_client
from bench.sync import sync_figures

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
IMPORT_TARGET = 3000  # rows/s
PAGE_TARGET = 50.0  # ms


@dataclass
class Figure:
    name: str
    value: str
    baseline: str
    ratio: str
    target: str = ""
    verdict: str = ""


def machine():
    """Cores, memory, CPU model, Python and SQLite versions."""
    memory, cpu = "?", platform.processor() or platform.machine()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory": memory, "cpu": cpu,
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "os": platform.platform(terse=True)}


def _flask(args, env, timeout=600):
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, check=False)
    return done, time.perf_counter() - start


def _last_line(text):
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:120] if lines else ""


def import_figures(data, workdir):
    """Time `lms import-units` + `lms import-staff` against a bare executemany (the floor)."""
    db_path = workdir / "import.sqlite3"
    env = dict(os.environ, LMS_INSTANCE_PATH=str(workdir / "instance"),
               LMS_DATABASE_URL=f"sqlite:///{db_path}", LMS_SECRET_KEY="bench",
               FLASK_DEBUG="0")
    floor_path = workdir / "list.sqlite3"
    create_schema(floor_path)
    unit_ids = insert_units(floor_path, data.units_csv)
    floor_seconds = floor_insert_staff(floor_path, data.staff_csv, unit_ids)
    floor = f"{data.staff / floor_seconds:,.0f} rows/s ({floor_seconds:.2f} s)"
    name = f"a) staff import, {data.staff:,} rows"
    target = f">= {IMPORT_TARGET:,} rows/s"

    helped, startup = _flask(["lms", "--help"], env)
    if "import-staff" not in helped.stdout or "import-units" not in helped.stdout:
        return [Figure(name, "not available (no `lms import-units/import-staff` yet)", floor,
                       "-", target, "not measured")], floor_path
    create_schema(db_path)
    units_run, units_seconds = _flask(["lms", "import-units", str(data.units_csv)], env)
    if units_run.returncode != 0:
        return [Figure(name, f"failed: import-units exit {units_run.returncode}: "
                       f"{_last_line(units_run.stderr or units_run.stdout)}", floor, "-",
                       target, "failed")], floor_path
    staff_run, staff_seconds = _flask(["lms", "import-staff", str(data.staff_csv)], env)
    if staff_run.returncode != 0:
        return [Figure(name, f"failed: import-staff exit {staff_run.returncode}: "
                       f"{_last_line(staff_run.stderr or staff_run.stdout)}", floor, "-",
                       target, "failed")], floor_path
    with sqlite3.connect(db_path) as conn:
        loaded = conn.execute("SELECT count(*) FROM users").fetchone()[0]
    again, again_seconds = _flask(["lms", "import-staff", str(data.staff_csv)], env)
    rate = data.staff / staff_seconds
    check = "" if loaded == data.staff else f" (but {loaded:,} rows in users!)"
    return [
        Figure(f"a) units import, {data.units} units", f"{units_seconds:.2f} s", "-", "-"),
        Figure(name, f"{rate:,.0f} rows/s ({staff_seconds:.2f} s){check}", floor,
               f"{staff_seconds / floor_seconds:.1f}x", target,
               "meets" if rate >= IMPORT_TARGET and not check else "misses"),
        Figure("a) same staff file again (no change)",
               f"{data.staff / again_seconds:,.0f} rows/s ({again_seconds:.2f} s)"
               if again.returncode == 0 else f"failed: exit {again.returncode}", "-", "-"),
        Figure("   CLI start-up (`flask lms --help`)", f"{startup:.2f} s", "-", "-"),
    ], floor_path


def _timed_get(client, url, repeat):
    for _ in range(2):  # warm caches and the connection pool
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} -> {response.status_code}")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def list_figures(db_path, root_code, repeat):
    """Median server time of the staff list at several page positions, against /healthz."""
    from lms.auth.models import User
    from lms.extensions import db
    from lms.org.services import staff_page, unit_by_code

    app = make_app(db_path)
    figures = []
    with app.app_context():
        root = unit_by_code(root_code)
        viewer = db.session.scalar(db.select(User).where(User.unit_id == root.id,
                                                         User.role == "hr"))
        session_id = viewer.get_id()
        per_page = app.config["PER_PAGE"]
        pages = staff_page(root, per_page=per_page).pages
        search = "nguyen thi"
        search_pages = staff_page(root, query=search, per_page=per_page).pages
    client = app.test_client()
    sign_in_client(client, session_id)
    base = _timed_get(client, "/healthz", repeat)
    url = f"/org/staff?unit={root_code}"
    cases = [("page 1", f"{url}&page=1"), (f"middle page {pages // 2 + 1}",
                                            f"{url}&page={pages // 2 + 1}"),
             (f"last page {pages}", f"{url}&page={pages}"),
             (f"search '{search}', page 1", f"{url}&q={search.replace(' ', '+')}"),
             (f"search '{search}', last page {search_pages}",
              f"{url}&q={search.replace(' ', '+')}&page={search_pages}")]
    for label, case_url in cases:
        ms = _timed_get(client, case_url, repeat)
        figures.append(Figure(f"b) staff list, {label}", f"{ms:.1f} ms",
                              f"{base:.2f} ms (/healthz)", f"{ms / base:.0f}x",
                              f"< {PAGE_TARGET:.0f} ms",
                              "meets" if ms < PAGE_TARGET else "misses"))
    with app.app_context():
        db.engine.dispose()
    return figures


def progress_figures(db_path, repeat):
    """The g rows: the province's progress, dashboards and staff export (bench/progress.py)."""
    try:
        seed_progress(db_path)
        return [Figure(**row) for row in report_figures(db_path, repeat)]
    except Exception as e:  # noqa: BLE001  (a broken figure is a row, not a crashed bench)
        return [Figure("g) reports", f"failed: {e}"[:160], "-", "-", "", "failed")]


def digest_rows(db_path, count):
    """The h rows: digests rendered, queued and delivered (bench/digests.py)."""
    try:
        return [Figure(**row) for row in digest_figures(db_path, count)]
    except Exception as e:  # noqa: BLE001  (a broken figure is a row, not a crashed bench)
        return [Figure("h) digests", f"failed: {e}"[:160], "-", "-", "", "failed")]


def table(figures):
    """The figures as a Markdown table."""
    rows = [("figure", "measured", "baseline (same run)", "ratio", "target", "verdict")]
    rows += [(f.name, f.value, f.baseline, f.ratio, f.target, f.verdict) for f in figures]
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def report(figures, info, data, seconds, smoke):
    """The whole report: date, machine, data, the table."""
    head = [
        f"# CivicSkills benchmark{' (smoke)' if smoke else ''}",
        "",
        f"- date: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- machine: {info['cores']} cores, {info['memory']} RAM, {info['cpu']}, {info['os']}",
        f"- Python {info['python']}, SQLite {info['sqlite']}",
        f"- data: {data.staff:,} staff in {data.units} units (bench/generate.py, seed 1); "
        f"whole run {seconds:.0f} s",
        "",
    ]
    return "\n".join(head) + "\n" + table(figures) + "\n"


def main(argv=None):
    """Generate the data, measure every figure, print the table (and keep it in RESULTS.md)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data, no timing claims")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    staff, units, repeat = (400, 20, 2) if args.smoke else (50_000, 400, 15)
    with tempfile.TemporaryDirectory(prefix="lms-bench-") as tmp:
        workdir = Path(tmp)
        out = workdir / "data" if args.smoke else Path(__file__).resolve().parent / "data"
        print(f"Generating {staff:,} staff in {units} units into {out} ...", file=sys.stderr)
        data = generate(out, staff=staff, units=units, progress=not args.smoke)
        print("Timing the import ...", file=sys.stderr)
        figures, list_db = import_figures(data, workdir)
        print("Timing the staff list ...", file=sys.stderr)
        figures += list_figures(list_db, data.root_code, repeat)
        print("Seeding training progress; timing the reports ...", file=sys.stderr)
        figures += progress_figures(list_db, repeat)
        print("Weekly digests rendered and delivered to a local SMTP server ...",
              file=sys.stderr)
        figures += digest_rows(list_db, 50 if args.smoke else 1_000)
        print("Timing the content sync ...", file=sys.stderr)
        figures += [Figure(**row) for row in sync_figures(workdir, 1 if args.smoke else 5)]
        print("Serving with gunicorn and loading with wrk ...", file=sys.stderr)
        figures += [Figure(**row) for row in http_figures(workdir, smoke=args.smoke)]
        print("Quiz submissions under gunicorn, checked in the database ...", file=sys.stderr)
        figures += [Figure(**row) for row in quiz_figures(workdir, smoke=args.smoke)]
        print("Load test: simulated learners and heads, checked in the database ...",
              file=sys.stderr)
        figures += [Figure(**row) for row in load_figures(workdir, smoke=args.smoke)]
        print("Certificates: PDFs and the public check ...", file=sys.stderr)
        figures += [Figure(**row) for row in certificate_figures(workdir, smoke=args.smoke)]
    if args.smoke:  # tiny data: the rows prove the pipeline works, the times mean nothing
        for figure in figures:
            figure.verdict = "(smoke)" if figure.target else ""
    text = report(figures, machine(), data, time.perf_counter() - started, args.smoke)
    print(text)
    if not args.smoke and not args.no_write:
        RESULTS.write_text(text + _NOTES, encoding="utf-8")
    return 0


_NOTES = """
Targets: import >= 3,000 rows/s; staff list < 50 ms at any page position. The import
baseline is a bare `executemany` INSERT of the same rows into an identical empty `users`
table (the floor any importer pays); the list baseline is `/healthz` through the same test
client (the cost of a request with no work). Content sync (bench/sync.py): the bundled
catalogue checked and written in-process, cold on an empty SQLite DB (< 2 s) and again with
nothing changed (< 0.3 s), against reading the same files (the floor). HTTP (bench/http.py):
the demo instance served by `gunicorn --workers 2` and loaded by `wrk -t2 -c16 -d10s` on
loopback (client and server share the 2 cores), signed in as the demo learner; a module page
must reach >= 15% of the throughput of `/healthz` on the same server and keep p95 < 50 ms.
Digests (bench/digests.py): on the province above, 1,000 unit heads (the units' heads, then
deputies) each get the week's digest rendered from their unit's figures, queued in the outbox
and delivered by the sender to aiosmtpd on 127.0.0.1 in the same process: < 20 s in all; the
baseline sends as many plain messages over one SMTP connection.
Quiz submissions (bench/quiz.py): the same server, 16 connections each POSTing the submit of
a prepared open attempt (answers saved, one request per attempt), >= 300 graded submissions
per second with no error, and afterwards in the database no attempt lost or graded twice.
Load test (bench/load.py): the same kind of server, 200 simulated learners (each reads a
module page, thinks 0.5-1.5 s, submits its next quiz attempt after every second page) and 4
heads on dashboards for 2 minutes; no request may fail, and afterwards the database must
hold every attempt submitted and graded exactly once (bench.quiz.check).
Method and the index notes: bench/README.md.

Where a figure misses its target. Quiz submissions (e): since certificates are issued in the
completing transaction (issue 5) the workers spend ~9 ms of CPU per graded submission
against ~5.7 ms before, and SQLite takes one writer at a time; bench/README.md ("Quiz
submissions after certificates") says where it goes and what was recovered (80-120 -> ~180
graded/s); the load test (i) shows the same cost as the wait of a submission under 200
learners, with no request failing and nothing lost. The staff search (b) and the module
page's p95 (d) sit near their limits and move with the load of this shared 2-core machine
(their history is in bench/README.md); a miss in one run and a pass in the next is that
noise, not a change in the code.
National scale (PostgreSQL, 2,000,000 staff): `make bench-national`; its figures are in
bench/README.md ("National scale").
"""

if __name__ == "__main__":
    sys.exit(main())
