"""National scale on PostgreSQL: a country of 2,000,000 staff in ~12,000 units, its training
progress loaded with COPY, and the report figures timed on it.

    python -m bench.national                    the country (make bench-national)
    python -m bench.national --staff 200000 --units 1200
    python -m bench.national --smoke            20,000 staff, 200 units, a few seconds (CI)
    python -m bench.national --explain          also EXPLAIN ANALYZE the main aggregate

A private PostgreSQL server (Debian's binaries, tests/pg.py) is started in a temporary folder
and deleted afterwards. The schema is the models' (`db.create_all()`, as bench/loader.py);
rows go in with COPY, secondary indexes dropped before and rebuilt after (the schema is
checked to be the same again). Progress is seeded like bench/progress.py (8 courses, the
programme assigned at the top: ~30% never started, ~25% part-way, ~45% every certificate;
1% of certificates revoked, 2% expired; one person in 53 deactivated), except that a started
course leaves one module read (its first module) instead of one per module read. The
programme records are then built by `lms.reports.records.rebuild()` (timed), the tables
vacuumed and analysed, and the top unit's figures checked against the generator's tallies.
"""

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from unittest import mock

from bench.generate import DEPARTMENTS, OFFICES, _split
from bench.progress import COURSES, MODULES, PROGRAMME
from bench.signin import sign_in_client
from lms.names import PLACE_WORDS, people
from lms.text import fold, sort_key

COUNTRY = ("VN", "Cả nước")
DOMAIN = "national.bench.civicskills.vn"
CENTRAL = (
    "Bộ Nội vụ", "Bộ Tài chính", "Bộ Tư pháp", "Bộ Công Thương", "Bộ Y tế",
    "Bộ Giáo dục và Đào tạo", "Bộ Xây dựng", "Bộ Nông nghiệp và Môi trường",
    "Bộ Khoa học và Công nghệ", "Bộ Văn hóa, Thể thao và Du lịch", "Bộ Ngoại giao",
    "Bộ Dân tộc và Tôn giáo", "Văn phòng Chính phủ", "Thanh tra Chính phủ",
    "Ngân hàng Nhà nước Việt Nam", "Bảo hiểm xã hội Việt Nam", "Thông tấn xã Việt Nam",
    "Đài Tiếng nói Việt Nam", "Học viện Chính trị quốc gia Hồ Chí Minh",
    "Viện Hàn lâm Khoa học xã hội Việt Nam",
)
CENTRAL_OFFICES = ("Vụ Tổ chức cán bộ", "Vụ Kế hoạch – Tài chính", "Vụ Pháp chế",
                   "Vụ Hợp tác quốc tế", "Văn phòng", "Thanh tra", "Cục Chuyển đổi số",
                   "Cục Quản lý chuyên ngành", "Trung tâm Thông tin", "Viện Chiến lược")
CATEGORIES = (("cadre", 0.12), ("civil_servant", 0.58), ("public_employee", 0.30))
# A server sized for the data rather than for the test suite's many small databases. The
# planner's cost settings are PostgreSQL's defaults; autovacuum stays off as in tests/pg.py,
# the load ends with an explicit VACUUM ANALYZE.
SERVER = {"shared_buffers": "'2GB'", "work_mem": "'32MB'", "maintenance_work_mem": "'1GB'",
          "max_wal_size": "'8GB'", "checkpoint_timeout": "'30min'"}
SMALL_SERVER = {**SERVER, "shared_buffers": "'128MB'", "maintenance_work_mem": "'128MB'"}
TOP_TARGET_MS = 1000.0
DEPARTMENT_TARGET_MS = 150.0
ADMIN_EMAIL = "admin@national.bench.local"
BIG_TABLES = ("users", "certificates", "module_reads")
CHUNK = 20_000  # rows per COPY write
NULL = "\\N"  # in COPY's text format


# The organisation ---------------------------------------------------------------------------

@dataclass
class UnitRow:
    id: int
    code: str
    name: str
    parent_id: int | None
    path: str
    depth: int
    staff: int = 0
    head: str | None = None


def plan_country(rng, units):
    """~`units` units on four levels, parents first: the country; ministries and provinces
    (~1/190); their departments, agencies and districts (~1/12.5); offices and communes."""
    level1 = max(2, round(units / 190))
    level2 = max(level1, round(units / 12.5))
    level3 = max(0, units - 1 - level1 - level2)
    central = max(1, level1 * 2 // 5)
    rows = [UnitRow(1, COUNTRY[0], COUNTRY[1], None, "/1/", 0)]

    def add(code, name, parent):
        unit = UnitRow(len(rows) + 1, code, name, parent.id, "", parent.depth + 1)
        unit.path = f"{parent.path}{unit.id}/"
        rows.append(unit)
        return unit

    def place():
        first, second = rng.sample(PLACE_WORDS, 2)
        return f"{first} {second}"

    tops = []
    for i in range(level1):
        if i < central:
            name = CENTRAL[i % len(CENTRAL)] + (f" {i // len(CENTRAL) + 1}"
                                                if i >= len(CENTRAL) else "")
            tops.append(add(f"VN.B{i + 1:02d}", name, rows[0]))
        else:
            tops.append(add(f"VN.T{i - central + 1:02d}", f"Tỉnh {place()}", rows[0]))
    seconds = []
    for top, count in zip(tops, _split(rng, level2, level1), strict=True):
        for j in range(count):
            if top.code[3] == "B":
                name = CENTRAL_OFFICES[j % len(CENTRAL_OFFICES)] + (
                    f" {j // len(CENTRAL_OFFICES) + 1}" if j >= len(CENTRAL_OFFICES) else "")
                seconds.append((add(f"{top.code}.C{j + 1:03d}", name, top), "office"))
            elif j < len(DEPARTMENTS):
                seconds.append((add(f"{top.code}.S{j + 1:03d}", DEPARTMENTS[j], top), "office"))
            else:
                kind = "Thị xã" if j % 5 == 0 else "Huyện"
                seconds.append((add(f"{top.code}.H{j + 1:03d}", f"{kind} {place()}", top),
                                "commune"))
    if seconds and level3:
        spread = _split(rng, level3, len(seconds), minimum=1 if level3 >= len(seconds) else 0)
        for (second, kind), count in zip(seconds, spread, strict=True):
            for k in range(count):
                if kind == "office":
                    add(f"{second.code}.P{k + 1:03d}", OFFICES[k % len(OFFICES)]
                        + (f" {k // len(OFFICES) + 1}" if k >= len(OFFICES) else ""), second)
                else:
                    add(f"{second.code}.X{k + 1:03d}",
                        f"{'Phường' if k % 4 == 0 else 'Xã'} {place()}", second)
    return rows


# Loading ------------------------------------------------------------------------------------

def _copy(cur, table, columns, lines, total=None, label=None):
    """COPY text lines (tab-separated, \\N for NULL) into `table`; return the rows written."""
    bar = _bar(total, label)
    written, chunk = 0, []
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for line in lines:
            chunk.append(line)
            if len(chunk) >= CHUNK:
                copy.write("\n".join(chunk) + "\n")
                written += len(chunk)
                bar.update(len(chunk))
                chunk = []
        if chunk:
            copy.write("\n".join(chunk) + "\n")
            written += len(chunk)
            bar.update(len(chunk))
    bar.finish()
    return written


class _bar:
    """A progress line on stderr for the long COPYs (none for small ones)."""

    def __init__(self, total, label):
        self.total, self.label, self.done, self.shown = total, label, 0, -1
        self.started = time.perf_counter()

    def update(self, n):
        self.done += n
        if not self.total or self.total < 200_000 or not sys.stderr.isatty():
            return
        tenth = 10 * self.done // self.total
        if tenth != self.shown:
            self.shown = tenth
            print(f"\r  {self.label}: {self.done:,} rows ({10 * tenth}%), "
                  f"{time.perf_counter() - self.started:.0f} s", end="", file=sys.stderr,
                  flush=True)

    def finish(self):
        if self.shown >= 0:
            print(file=sys.stderr)


def _timestamps(today, days):
    """A fast `bench.progress._when`: tables of 'YYYY-MM-DD' (the last `days` days) and
    'HH:MM:SS' (every minute), to pick a random minute from."""
    base = datetime.combine(today, datetime.min.time())
    day_strings = [(base - timedelta(days=d + 1)).strftime("%Y-%m-%d") for d in range(days)]
    minutes = [f"{m // 60:02d}:{m % 60:02d}:00" for m in range(1440)]
    return day_strings, minutes


@dataclass
class Tally:
    """What the generator wrote, to check the reports' figures against."""

    staff: int = 0
    active: int = 0
    trained: int = 0
    in_progress: int = 0
    not_started: int = 0
    certificates: int = 0
    reads: int = 0


def load_staff(cur, units, staff, seed, now):
    """COPY the units and `staff` people (derived columns computed once per distinct name)
    into their tables; return (active by user id as a bytearray, distinct names)."""
    rng = random.Random(seed)  # noqa: S311  (reproducible fake data, not secrets)
    sizes = _split(rng, staff, len(units))
    crowd = people(seed, staff, prefix=COUNTRY[0], domain=DOMAIN)
    derived = {}
    categories, weights = zip(*CATEGORIES, strict=True)
    active = bytearray(staff + 1)
    checked = []

    def lines():
        number = 0
        for unit, size in zip(units, sizes, strict=True):
            unit.staff = size
            for i in range(size):
                person = next(crowd)
                number += 1
                name = person.full_name
                if name not in derived:
                    derived[name] = (fold(name), sort_key(name))
                folded, key = derived[name]
                search = f"{folded} | {person.employee_id.lower()} | {person.email}"
                if len(checked) < 200:
                    checked.append((name, person.employee_id, person.email, search, key))
                role = "head" if i == 0 else "hr" if i == 1 and unit.depth < 2 else "learner"
                if i == 0:
                    unit.head = person.employee_id
                is_active = number % 53 != 0
                active[number] = is_active
                yield (f"{number}\t{person.employee_id}\t{name}\t{person.email}\t{unit.id}\t"
                       f"{rng.choices(categories, weights)[0]}\t{role}\t"
                       f"{'t' if is_active else 'f'}\t1\t{search}\t{key}\t{now}\t{now}")

    _copy(cur, "users", ("id", "employee_id", "full_name", "email", "unit_id", "category",
                         "role", "active", "session_version", "search_text", "sort_key",
                         "created_at", "updated_at"), lines(), staff, "users")
    _check_derived(checked)
    _copy(cur, "units", ("id", "code", "name", "parent_id", "path", "depth",
                         "head_employee_id", "created_at", "updated_at"),
          (f"{u.id}\t{u.code}\t{u.name}\t{u.parent_id or NULL}\t{u.path}\t{u.depth}\t"
           f"{u.head or NULL}\t{now}\t{now}" for u in units))
    for table in ("units", "users"):
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                    f" (SELECT max(id) FROM {table}))")
    return active, len(derived)


def _check_derived(rows):
    """The shortcut above gives exactly what the importer computes."""
    from lms.org.services import staff_search_text

    for name, employee_id, email, search, key in rows:
        if search != staff_search_text(name, employee_id, email) or key != sort_key(name):
            raise RuntimeError(f"derived columns differ from lms.org.services for {name!r}")


def seed_programme(cur, today, now):
    """The 8 courses (5 modules each), the programme, assigned at the top unit; returns
    (programme id, [(course id, first module id)])."""
    courses = []
    for n in range(1, COURSES + 1):
        cur.execute("INSERT INTO courses (slug, version, published, open, minutes, digcomp,"
                    " content_hash, synced_at) VALUES (%s, 1, true, false, 60, '[\"1.1\"]',"
                    " '', %s) RETURNING id", (f"course-{n}", now))
        course_id = cur.fetchone()[0]
        cur.execute("INSERT INTO course_texts (course_id, lang, title, summary, body,"
                    " body_hash) VALUES (%s, 'vi', %s, '', '', '')",
                    (course_id, f"Khóa học số {n}"))
        first = None
        for m in range(1, MODULES + 1):
            cur.execute("INSERT INTO modules (course_id, slug, position, minutes, digcomp,"
                        " draft, version, content_hash) VALUES (%s, %s, %s, 10, '[]', false,"
                        " 1, '') RETURNING id", (course_id, f"0{m}-m", m))
            module_id = cur.fetchone()[0]
            first = first or module_id
        courses.append((course_id, first))
    cur.execute("INSERT INTO programmes (slug, titles, summaries, target_ratio, deadline,"
                " validity_months, content_hash) VALUES (%s, %s, '{}', 0.8, %s, 24, '')"
                " RETURNING id", (PROGRAMME, '{"vi": "Kỹ năng số cơ bản"}',
                                  today + timedelta(days=60)))
    programme_id = cur.fetchone()[0]
    for position, (course_id, _) in enumerate(courses, start=1):
        cur.execute("INSERT INTO programme_courses (programme_id, course_id, position)"
                    " VALUES (%s, %s, %s)", (programme_id, course_id, position))
    cur.execute("INSERT INTO programme_assignments (programme_id, unit_id, deadline,"
                " assigned_at) VALUES (%s, 1, NULL, %s)", (programme_id, now))
    return programme_id, courses


def load_progress(cur, courses, active, seed, today, tally):
    """COPY certificates and module reads for every person (deactivated ones too), in the
    spread of bench/progress.py; count what a report must show into `tally`."""
    rng = random.Random(seed + 1)  # noqa: S311
    staff = len(active) - 1
    read_days, read_minutes = _timestamps(today, 200)
    issue_days, issue_minutes = _timestamps(today, 300)
    expired = (today - timedelta(days=3)).isoformat()
    valid = (today + timedelta(days=400)).isoformat()
    year = today.year
    reads = []  # COPY lines of the module reads, written after the certificates

    def certificates():
        serial = 0
        for user_id in range(1, staff + 1):
            roll = rng.random()
            is_active = active[user_id]
            tally.active += is_active
            if roll < 0.30:
                tally.not_started += is_active
                continue
            held = COURSES if roll >= 0.55 else rng.randrange(0, COURSES)
            for index in range(held + 1 if held < COURSES else COURSES):
                slot = rng.randrange(200 * 1440)
                reads.append(f"{user_id}\t{courses[index][1]}\t{courses[index][0]}\t1\t1\t"
                             f"{read_days[slot // 1440]} {read_minutes[slot % 1440]}")
            counts = held == COURSES
            for index in range(held):
                serial += 1
                slot = rng.randrange(300 * 1440)
                issued = f"{issue_days[slot // 1440]} {issue_minutes[slot % 1440]}"
                revoked = issued if rng.random() < 0.01 else NULL
                expires = expired if rng.random() < 0.02 else valid
                counts = counts and revoked == NULL and expires == valid
                yield (f"{serial}\t{year}-{serial:07d}\t{serial:08x}{rng.getrandbits(64):016x}"
                       f"\tcourse\t{user_id}\t{courses[index][0]}\t1\t{issued}\t{expires}\t"
                       f"x\tx\tx\tx\tdefault\tvi\tk\ts\t{revoked}")
            if counts:
                tally.trained += is_active
            else:
                tally.in_progress += is_active

    expected = int(staff * (0.45 * COURSES + 0.25 * (COURSES - 1) / 2))
    tally.certificates = _copy(
        cur, "certificates", ("id", "serial", "code", "kind", "user_id", "course_id",
                              "course_version", "issued_at", "expires_on", "name", "title",
                              "issuer", "signer", "layout", "lang", "key_id", "signature",
                              "revoked_at"), certificates(), expected, "certificates")
    tally.reads = _copy(cur, "module_reads", ("user_id", "module_id", "course_id",
                                              "module_version", "course_version", "read_at"),
                        iter(reads), len(reads), "module_reads")
    reads.clear()
    cur.execute("SELECT setval(pg_get_serial_sequence('certificates', 'id'),"
                " (SELECT max(id) FROM certificates))")
    tally.staff = staff


def secondary_indexes(cur):
    """[(table, name, create statement, drop statement)] of every index of the big tables
    but their primary keys (unique constraints as constraints)."""
    cur.execute(
        "SELECT t.relname, i.relname, pg_get_indexdef(i.oid), con.conname,"
        " pg_get_constraintdef(con.oid) FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
        " LEFT JOIN pg_constraint con ON con.conindid = i.oid AND con.conrelid = t.oid"
        "  AND con.contype = 'u'"
        " WHERE t.relname = ANY(%s) AND NOT x.indisprimary ORDER BY t.relname, i.relname",
        (list(BIG_TABLES),))
    found = []
    for table, name, indexdef, constraint, constraintdef in cur.fetchall():
        if constraint:
            alter = f'ALTER TABLE {table} %s CONSTRAINT "{constraint}"'
            found.append((table, name, alter % "ADD" + f" {constraintdef}", alter % "DROP"))
        else:
            found.append((table, name, indexdef, f'DROP INDEX "{name}"'))
    return found


# Timing -------------------------------------------------------------------------------------

def _times_ms(fn, repeat):
    """(median, p95, max) in ms of `repeat` calls after one warm-up (p95 as bench/progress.py
    takes it: the value below the top 5%, the second largest of 7)."""
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    ordered = sorted(times)
    return statistics.median(times), ordered[max(0, int(len(times) * 0.95) - 1)], ordered[-1]


def _fmt(ms, p95):
    return f"{ms:.0f} ms (p95 {p95:.0f})" if ms >= 10 else f"{ms:.1f} ms (p95 {p95:.1f})"


def make_app(url, instance):
    """A production-like app (not TESTING) on the PostgreSQL database `url`."""
    import os

    from lms import create_app

    os.environ["LMS_INSTANCE_PATH"] = str(instance)
    return create_app({"DATABASE_URL": url, "SQLALCHEMY_DATABASE_URI": None,
                       "SECRET_KEY": "bench"})


@contextlib.contextmanager
def server(tmpdir, settings):
    """tests/pg.py's private server, started with `settings` added to its own."""
    from tests import pg

    with mock.patch.dict(pg.SETTINGS, settings), pg.postgres_server(tmpdir) as url:
        yield url


def _row(name, value, baseline="-", ratio="-", target="", verdict=""):
    from bench.run import Figure

    return Figure(name, value, baseline, ratio, target, verdict)


@dataclass
class Loaded:
    """The country as loaded: units (with staff counts), what was written, the load rows."""

    country: list
    tally: Tally
    programme_id: int
    today: date
    rows: list
    facts: dict


def _phase(label, started):
    seconds = time.perf_counter() - started
    print(f"{label}: {seconds:.1f} s", file=sys.stderr)
    return seconds


def load(url, app, staff, units, *, seed=1):
    """Create the schema on the empty database `url` and load the country into it: units and
    staff, courses and the programme, certificates and reads (COPY, indexes rebuilt after),
    the programme records (rebuild()), VACUUM ANALYZE."""
    from sqlalchemy import text

    from lms.extensions import db
    from lms.reports.records import rebuild
    from tests import pg

    today = date.today()
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")  # stored as naive UTC
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    with pg.connect(url, autocommit=True) as conn:
        cur = conn.cursor()
        facts = {"postgresql": cur.execute("SHOW server_version").fetchone()[0]}
        indexes = secondary_indexes(cur)
        started = time.perf_counter()
        country = plan_country(random.Random(seed), units)  # noqa: S311
        conn.autocommit = False
        # Consistent by construction: no per-row foreign-key triggers during the COPYs.
        cur.execute("SET session_replication_role = replica")
        for _, _, _, drop in indexes:
            cur.execute(drop)
        active, names = load_staff(cur, country, staff, seed, now)
        conn.commit()
        t_staff = _phase(f"units and staff COPY ({len(country):,} units, {staff:,} staff, "
                         f"{names:,} distinct names)", started)
        started = time.perf_counter()
        programme_id, courses = seed_programme(cur, today, now)
        tally = Tally()
        load_progress(cur, courses, active, seed, today, tally)
        conn.commit()
        t_progress = _phase(f"certificates ({tally.certificates:,}) and module reads "
                            f"({tally.reads:,}) COPY", started)
        started = time.perf_counter()
        for _, _, create, _ in indexes:
            cur.execute(create)
        cur.execute("RESET session_replication_role")
        conn.commit()
        t_indexes = _phase(f"{len(indexes)} secondary indexes rebuilt", started)
        conn.autocommit = True
        if secondary_indexes(cur) != indexes:
            raise RuntimeError("the indexes rebuilt differ from the models' schema")
        cur.execute("ANALYZE")
    rows = [
        _row(f"n) load: {len(country):,} units, {staff:,} staff (COPY)", f"{t_staff:.1f} s"),
        _row(f"n) load: {tally.certificates:,} certificates, {tally.reads:,} module reads "
             "(COPY)", f"{t_progress:.1f} s"),
        _row(f"n) load: {len(indexes)} secondary indexes of users, certificates, module_reads "
             "built", f"{t_indexes:.1f} s"),
    ]
    with app.app_context():
        started = time.perf_counter()
        rebuild()
        db.session.commit()
        t_rebuild = _phase("programme records rebuilt (lms.reports.records.rebuild)", started)
        records = db.session.scalar(text("SELECT count(*) FROM programme_progress"))
        rows.append(_row(f"n) every person's programme record rebuilt ({records:,} rows, "
                         "lms.reports.records.rebuild)", f"{t_rebuild:.1f} s"))
        db.session.close()
        started = time.perf_counter()
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
            size = conn.scalar(text("SELECT pg_database_size(current_database())"))
        t_vacuum = _phase("VACUUM ANALYZE", started)
        rows.append(_row("n) VACUUM ANALYZE (visibility map, statistics)",
                         f"{t_vacuum:.1f} s; database {size / 2**30:.2f} GiB"))
        db.engine.dispose()
    return Loaded(country, tally, programme_id, today, rows, facts)


def measure(app, loaded, *, repeat=7, explain=False):
    """The figures' rows: the data check, the baseline, progress() and the first page of
    untrained staff (top unit, a department of median size, the largest department), and the
    dashboards through the test client, signed in as an admin."""
    from sqlalchemy import func, select

    from lms.auth.models import User
    from lms.courses.models import Programme
    from lms.extensions import db
    from lms.org.models import Unit
    from lms.reports.progress import keep_figures, progress
    from lms.reports.services import untrained_staff

    country, tally, today, rows = loaded.country, loaded.tally, loaded.today, []
    with app.app_context():
        programme = db.session.get(Programme, loaded.programme_id)
        top = db.session.scalar(select(Unit).where(Unit.parent_id.is_(None)))
        departments = sorted((u for u in country if u.depth == 1),
                             key=lambda u: _subtree_staff(country, u))
        typical, largest = departments[len(departments) // 2], departments[-1]
        chosen = [("the top unit", top, TOP_TARGET_MS)]
        for label, unit in (("a department", typical), ("the largest department", largest)):
            found = db.session.scalar(select(Unit).where(Unit.code == unit.code))
            chosen.append((f"{label} ({unit.code}, {_subtree_staff(country, unit):,} "
                           "staff)", found, DEPARTMENT_TARGET_MS))
        if typical is largest:
            del chosen[-1]

        figures = progress(programme, top, today).figures
        expected = (tally.active, tally.trained, tally.in_progress, tally.not_started)
        got = (figures.active, figures.trained, figures.in_progress, figures.not_started)
        rows.append(_row("n) the top unit's figures = the generator's tallies (active, "
                         "trained, in progress, not started)",
                         f"{got[0]:,} / {got[1]:,} / {got[2]:,} / {got[3]:,}",
                         f"{expected[0]:,} / {expected[1]:,} / {expected[2]:,} / "
                         f"{expected[3]:,}", "-", "equal",
                         "meets" if got == expected else "FAILED"))

        floor, floor_p95, _ = _times_ms(lambda: db.session.scalar(
            select(func.count(User.id)).where(User.active.is_(True))), repeat)
        baseline = f"{floor:.{0 if floor >= 10 else 1}f} ms (count of active staff)"
        rows.append(_row("n) baseline: SELECT count(*) FROM users WHERE active",
                         _fmt(floor, floor_p95)))
        for label, unit, _ in chosen:
            ms, p95, _ = _times_ms(lambda u=unit: progress(programme, u, today, live=True),
                                   repeat)
            rows.append(_row(f"n) progress of {label}, counted (SQL aggregates)",
                             _fmt(ms, p95), baseline, f"{ms / floor:.1f}x"))
        started = time.perf_counter()
        keep_figures(programme, top, today)
        rows.append(_row("n) every unit's figures counted and kept (lms refresh-figures)",
                         f"{(time.perf_counter() - started) * 1000:,.0f} ms"))
        for label, unit, _ in chosen:
            ms, p95, _ = _times_ms(lambda u=unit: progress(programme, u, today), repeat)
            rows.append(_row(f"n) progress of {label} as the dashboard reads it",
                             _fmt(ms, p95), baseline, f"{ms / floor:.1f}x"))
        for label, unit, _ in chosen[:2]:
            report = progress(programme, unit, today)
            ms, p95, _ = _times_ms(lambda r=report: untrained_staff(r), repeat)
            rows.append(_row(f"n) untrained staff, first page: {label}", _fmt(ms, p95),
                             baseline, f"{ms / floor:.1f}x"))
        if explain:
            for label, unit, _ in chosen[:2]:
                print(f"EXPLAIN (ANALYZE, BUFFERS) of the aggregate for {label}:\n"
                      + explain_aggregate(programme, unit, today), file=sys.stderr)
        admin = db.session.scalar(select(User).where(User.email == ADMIN_EMAIL))
        if admin is None:
            admin = User(full_name="Quản trị", email=ADMIN_EMAIL, role="admin", active=True,
                         search_text="", sort_key="")
            db.session.add(admin)
            db.session.commit()
        session_id = admin.get_id()
        codes = [(label, unit.code, target) for label, unit, target in chosen]
        db.session.close()
    client = app.test_client()
    sign_in_client(client, session_id)
    for label, code, target in codes:
        url = f"/reports/units/{code}"
        status = client.get(url).status_code
        if status != 200:
            raise RuntimeError(f"GET {url} -> {status}")
        ms, p95, _ = _times_ms(lambda u=url: client.get(u), repeat)
        rows.append(_row(f"n) dashboard of {label}, server time", _fmt(ms, p95), baseline,
                         f"{p95 / floor:.1f}x", f"p95 < {target:.0f} ms",
                         "meets" if p95 < target else "misses"))
    with app.app_context():
        db.engine.dispose()
    return rows


def national(workdir, staff, units, *, seed=1, repeat=7, explain=False):
    """Start the server, load the country, time the figures: (rows, facts for the header)."""
    settings = SERVER if staff >= 500_000 else SMALL_SERVER
    started = time.perf_counter()
    with server(workdir, settings) as url:
        app = make_app(url, workdir / "instance")
        loaded = load(url, app, staff, units, seed=seed)
        load_seconds = time.perf_counter() - started
        rows = loaded.rows + measure(app, loaded, repeat=repeat, explain=explain)
    facts = dict(loaded.facts, staff=staff, units=len(loaded.country), repeat=repeat,
                 load=load_seconds, seconds=time.perf_counter() - started,
                 settings=", ".join(f"{k} {v.strip(chr(39))}" for k, v in settings.items()))
    return rows, facts


def _subtree_staff(country, unit):
    return sum(u.staff for u in country if u.path.startswith(unit.path))


def explain_aggregate(programme, unit, today):
    """EXPLAIN (ANALYZE, BUFFERS) of the grouped query of lms.reports.progress._own_figures
    for `unit`, captured as the app sends it, with the statement."""
    from sqlalchemy import event

    from lms.extensions import db
    from lms.reports.progress import progress

    seen = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "GROUP BY users.unit_id" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        progress(programme, unit, today)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    statement, parameters = seen[-1]
    with db.engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement,
                                    parameters).scalars().all()
    return f"{statement}\n{parameters}\n" + "\n".join(plan)


def main(argv=None):
    """Load the country into a private PostgreSQL server and print the figures."""
    from bench.run import machine, table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=2_000_000)
    parser.add_argument("--units", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per figure")
    parser.add_argument("--smoke", action="store_true",
                        help="20,000 staff in 200 units, 3 runs: no timing claims")
    parser.add_argument("--explain", action="store_true",
                        help="print EXPLAIN ANALYZE of the aggregate (top unit, a department)"
                        " to stderr")
    args = parser.parse_args(argv)
    if args.smoke:
        args.staff, args.units, args.repeat = 20_000, 200, 3
    with tempfile.TemporaryDirectory(prefix="lms-bench-national-") as tmp:
        rows, facts = national(Path(tmp), args.staff, args.units, seed=args.seed,
                               repeat=args.repeat, explain=args.explain)
    if args.smoke:  # small data: the rows prove the pipeline works, the times mean nothing
        for row in rows:
            if row.target.startswith("p95"):
                row.verdict = "(smoke)"
    info = machine()
    print("\n".join([
        f"# CivicSkills national benchmark (PostgreSQL){' (smoke)' if args.smoke else ''}",
        "",
        f"- date: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- machine: {info['cores']} cores, {info['memory']} RAM, {info['cpu']}, {info['os']}",
        f"- PostgreSQL {facts['postgresql']} (private server: {facts['settings']}), "
        f"Python {info['python']}",
        f"- data: {facts['staff']:,} staff in {facts['units']:,} units (bench/national.py, "
        f"seed {args.seed}); load {facts['load']:.0f} s, whole run {facts['seconds']:.0f} s; "
        f"{facts['repeat']} timed runs per figure after a warm-up",
        "",
        table(rows),
    ]))
    failed = [row for row in rows if row.verdict == "FAILED"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
