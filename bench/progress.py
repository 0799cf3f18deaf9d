"""Realistic training progress on top of a generated province, straight into SQLite, and the
report figures measured on it.

    python -m bench.progress [--staff 50000]     print the rows on their own

The spread (seeded): about 30% of staff never started, 25% part-read (some with a failed
quiz), 45% hold every course's certificate; among certificates, a few revoked and a few
expired; some staff deactivated. Rows are written with executemany, like the staff floor.
"""

import random
import sqlite3
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from bench.signin import sign_in_client

COURSES = 8
MODULES = 5
PROGRAMME = "basic-digital-skills"


def _row(name, value, baseline="-", ratio="-", target="", verdict=""):
    return {"name": name, "value": value, "baseline": baseline, "ratio": ratio,
            "target": target, "verdict": verdict}


def seed_progress(db_path, *, seed=1, today=None):
    """Courses, a programme assigned at the top unit, and progress for every active person:
    certificates, module reads and quiz attempts. Returns counts."""
    rng = random.Random(seed)
    today = today or date.today()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    now = datetime.now().strftime("%Y-%m-%d %H:%M:%S.000000")
    with conn:
        course_ids = []
        for n in range(1, COURSES + 1):
            cur = conn.execute(
                "INSERT INTO courses (slug, version, published, open, minutes, digcomp,"
                " content_hash, synced_at) VALUES (?, 1, 1, 0, 60, '[\"1.1\"]', '', ?)",
                (f"course-{n}", now))
            course_ids.append(cur.lastrowid)
            conn.execute("INSERT INTO course_texts (course_id, lang, title, summary, body,"
                         " body_hash) VALUES (?, 'vi', ?, '', '', '')",
                         (cur.lastrowid, f"Khóa học số {n}"))
            for m in range(1, MODULES + 1):
                conn.execute("INSERT INTO modules (course_id, slug, position, minutes, digcomp,"
                             " draft, version, content_hash) VALUES"
                             " (?, ?, ?, 10, '[]', 0, 1, '')", (cur.lastrowid, f"0{m}-m", m))
        programme_id = conn.execute(
            "INSERT INTO programmes (slug, titles, summaries, target_ratio, deadline,"
            " validity_months, content_hash) VALUES (?, ?, '{}', 0.8, ?, 24, '')",
            (PROGRAMME, '{"vi": "Kỹ năng số cơ bản"}',
             (today + timedelta(days=60)).isoformat())).lastrowid
        for position, course_id in enumerate(course_ids, start=1):
            conn.execute("INSERT INTO programme_courses (programme_id, course_id, position)"
                         " VALUES (?, ?, ?)", (programme_id, course_id, position))
        root = conn.execute("SELECT id FROM units WHERE parent_id IS NULL").fetchone()[0]
        conn.execute("INSERT INTO programme_assignments (programme_id, unit_id, deadline,"
                     " assigned_at) VALUES (?, ?, NULL, ?)", (programme_id, root, now))
        modules = conn.execute("SELECT id, course_id FROM modules ORDER BY course_id,"
                               " position").fetchall()
        users = [row[0] for row in conn.execute("SELECT id FROM users ORDER BY id")]
        conn.execute("UPDATE users SET active = 0 WHERE id % 53 = 0")
        certificates, reads, serial = [], [], 0
        for user_id in users:
            roll = rng.random()
            if roll < 0.30:
                continue
            held = COURSES if roll >= 0.55 else rng.randrange(0, COURSES)
            read_courses = course_ids[:held + (1 if held < COURSES else 0)]
            for module_id, course_id in modules:
                if course_id in read_courses:
                    reads.append((user_id, module_id, course_id, _when(rng, today, 200)))
            for course_id in course_ids[:held]:
                serial += 1
                issued = _when(rng, today, 300)
                revoked = issued if rng.random() < 0.01 else None
                expires = (today - timedelta(days=3)).isoformat() if rng.random() < 0.02 \
                    else (today + timedelta(days=400)).isoformat()
                certificates.append((
                    f"{today.year}-{serial:06d}", f"code{serial:09d}{rng.getrandbits(64):x}",
                    user_id, course_id, issued, expires, revoked))
        conn.executemany(
            "INSERT INTO module_reads (user_id, module_id, course_id, module_version,"
            " course_version, read_at) VALUES (?, ?, ?, 1, 1, ?)", reads)
        conn.executemany(
            "INSERT INTO certificates (serial, code, kind, user_id, course_id, course_version,"
            " issued_at, expires_on, name, title, issuer, signer, layout, lang, key_id,"
            " signature, revoked_at) VALUES (?, ?, 'course', ?, ?, 1, ?, ?, 'x', 'x', 'x',"
            " 'x', 'default', 'vi', 'k', 's', ?)", certificates)
    conn.close()
    return {"certificates": len(certificates), "reads": len(reads), "staff": len(users)}


def _when(rng, today, days):
    moment = datetime.combine(today, datetime.min.time()) - timedelta(
        minutes=rng.randrange(days * 24 * 60))
    return moment.strftime("%Y-%m-%d %H:%M:%S.000000")


def _median_ms(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), sorted(times)[max(0, int(len(times) * 0.95) - 1)]


DASHBOARD_TARGET_MS = 150.0
EXPORT_TARGET_S = 10.0


def report_figures(db_path, repeat=15):
    """Rows: rebuilding every record; the top unit's and a department's figures (SQL) and
    dashboard pages (p95 server time) against the plain count of staff and /healthz."""
    from sqlalchemy import func, select

    from bench.loader import make_app
    from lms.auth.models import User
    from lms.courses.models import Programme
    from lms.extensions import db
    from lms.org.models import Unit
    from lms.reports.progress import keep_figures, progress
    from lms.reports.records import rebuild

    app = make_app(db_path)
    rows = []
    with app.app_context():
        started = time.perf_counter()
        rebuild()
        db.session.commit()
        rows.append(_row("g) every person's programme record rebuilt (reads, certificates)",
                         f"{time.perf_counter() - started:.2f} s"))
        today = date.today()
        programme = db.session.scalar(select(Programme).where(Programme.slug == PROGRAMME))
        top = db.session.scalar(select(Unit).where(Unit.parent_id.is_(None)))
        department = db.session.scalar(select(Unit).where(Unit.depth == 1).order_by(Unit.id))
        floor, _ = _median_ms(lambda: db.session.scalar(
            select(func.count(User.id)).where(User.active.is_(True))), repeat)
        for label, unit in (("top unit", top), ("a department", department)):
            ms, p95 = _median_ms(lambda u=unit: progress(programme, u, today, live=True),
                                 repeat)
            rows.append(_row(f"g) progress of {label}, counted (SQL aggregates)",
                             f"{ms:.1f} ms (p95 {p95:.1f})", f"{floor:.1f} ms (count of staff)",
                             f"{ms / floor:.1f}x"))
        started = time.perf_counter()
        keep_figures(programme, top, today)
        rows.append(_row("g) every unit's figures counted and kept (lms refresh-figures)",
                         f"{(time.perf_counter() - started) * 1000:.0f} ms"))
        ms, p95 = _median_ms(lambda: progress(programme, top, today), repeat)
        rows.append(_row("g) progress of the top unit as the dashboard reads it (kept "
                         "figures at 20,000 staff and more)", f"{ms:.1f} ms (p95 {p95:.1f})",
                         f"{floor:.1f} ms (count of staff)", f"{ms / floor:.1f}x"))
        admin = User(full_name="Quản trị", email="admin@bench.local", role="admin",
                     active=True, search_text="", sort_key="")
        db.session.add(admin)
        db.session.commit()
        session_id, codes = admin.get_id(), (top.code, department.code)
        db.engine.dispose()
    client = app.test_client()
    sign_in_client(client, session_id)
    base, _ = _median_ms(lambda: client.get("/healthz"), repeat)
    for label, code in zip(("top unit", "a department"), codes, strict=True):
        url = f"/reports/units/{code}"
        status = client.get(url).status_code
        if status != 200:
            raise RuntimeError(f"GET {url} -> {status}")
        ms, p95 = _median_ms(lambda u=url: client.get(u), repeat)
        rows.append(_row(f"g) dashboard of the {label}, server time", f"{ms:.0f} ms (p95 "
                         f"{p95:.0f})", f"{base:.2f} ms (/healthz)", f"{p95 / base:.0f}x",
                         f"p95 < {DASHBOARD_TARGET_MS:.0f} ms",
                         "meets" if p95 < DASHBOARD_TARGET_MS else "misses"))
    started = time.perf_counter()
    response = client.get(f"/reports/units/{codes[0]}/staff.csv")
    size = sum(len(chunk) for chunk in response.response)
    seconds = time.perf_counter() - started
    lines = response.get_data().count(b"\n") if not response.is_streamed else None
    rows.append(_row("g) staff-detail CSV export of the province (streamed)",
                     f"{seconds:.1f} s, {size / 1e6:.1f} MB" + (f", {lines} lines" if lines
                                                                  else ""),
                     target=f"< {EXPORT_TARGET_S:.0f} s",
                     verdict="meets" if seconds < EXPORT_TARGET_S else "misses"))
    return rows


if __name__ == "__main__":
    import tempfile

    from bench.generate import generate
    from bench.loader import create_schema, floor_insert_staff, insert_units

    staff = int(sys.argv[sys.argv.index("--staff") + 1]) if "--staff" in sys.argv else 50_000
    with tempfile.TemporaryDirectory(prefix="lms-bench-progress-") as tmp:
        data = generate(Path(tmp) / "data", staff=staff, units=max(20, staff // 125),
                        progress=False)
        db_path = Path(tmp) / "progress.sqlite3"
        create_schema(db_path)
        ids = insert_units(db_path, data.units_csv)
        floor_insert_staff(db_path, data.staff_csv, ids)
        started = time.perf_counter()
        counts = seed_progress(db_path)
        print(f"seeded {counts} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        for row in report_figures(db_path):
            print(" | ".join(row.values()))
