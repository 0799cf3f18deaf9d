"""Schema and bulk loading for the benchmarks, with no import code in the way (the floor)."""

import csv
import os
import sqlite3
import time
from pathlib import Path

from lms.org.services import staff_search_text
from lms.text import nfc, sort_key


def make_app(db_path):
    """A production-like app (not TESTING) on the SQLite file `db_path`."""
    from lms import create_app

    os.environ["LMS_INSTANCE_PATH"] = str(Path(db_path).parent / "instance")
    return create_app({"DATABASE_URL": f"sqlite:///{db_path}", "SQLALCHEMY_DATABASE_URI": None,
                       "SECRET_KEY": "bench"})


def create_schema(db_path):
    """Create every table and index the models declare (what the next migration will hold)."""
    from lms.extensions import db

    app = make_app(db_path)
    with app.app_context():
        db.create_all()
        db.engine.dispose()


def _connect(db_path):
    conn = sqlite3.connect(db_path)
    # The same pragmas as lms.web._sqlite_on_connect.
    for pragma in ("journal_mode=WAL", "busy_timeout=10000", "foreign_keys=ON",
                   "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def _now():
    return time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime())


def insert_units(db_path, units_csv):
    """Insert the units of units.csv (parents first) with paths; return code -> id."""
    with open(units_csv, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    ids, paths, now = {}, {}, _now()
    values = []
    for number, row in enumerate(rows, start=1):
        parent = row["parent_code"] or None
        ids[row["code"]] = number
        paths[row["code"]] = (paths[parent] if parent else "/") + f"{number}/"
        values.append((number, row["code"], nfc(row["name"]), ids.get(parent),
                       paths[row["code"]], paths[row["code"]].count("/") - 2,
                       row["head_employee_id"] or None, now, now))
    conn = _connect(db_path)
    with conn:
        conn.executemany(
            "INSERT INTO units (id, code, name, parent_id, path, depth, head_employee_id,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
    conn.close()
    return ids


def floor_insert_staff(db_path, staff_csv, unit_ids):
    """Insert the staff rows, derived columns precomputed; return the seconds the INSERT took."""
    now = _now()
    with open(staff_csv, encoding="utf-8", newline="") as f:
        values = [
            (row["employee_id"], nfc(row["full_name"]), row["email"], unit_ids[row["unit_code"]],
             row["category"], row["role"] or "learner", True, 1,
             staff_search_text(nfc(row["full_name"]), row["employee_id"], row["email"]),
             sort_key(row["full_name"]), now, now)
            for row in csv.DictReader(f)
        ]
    conn = _connect(db_path)
    start = time.perf_counter()
    with conn:
        conn.executemany(
            "INSERT INTO users (employee_id, full_name, email, unit_id, category, role, active,"
            " session_version, search_text, sort_key, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
    seconds = time.perf_counter() - start
    conn.close()
    return seconds
