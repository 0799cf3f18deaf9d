"""The content-sync figures: the bundled catalogue synced cold (empty DB) and warm (no change).

    python -m bench.sync           print the rows on their own
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.loader import create_schema, make_app

ROOT = Path(__file__).resolve().parent.parent
COLD_TARGET = 2.0  # s
WARM_TARGET = 0.3  # s


def read_files(folder):
    """The no-op baseline: read every content file, nothing else."""
    size = 0
    for part in ("courses", "quizzes", "programmes"):
        for path in sorted((Path(folder) / part).rglob("*")):
            if path.is_file():
                size += len(path.read_bytes())
    return size


def _sync_once(force=False):
    """Sync the app's content folder as `lms sync-content [--force]` does, and commit; return
    the SyncResult."""
    from flask import current_app

    from lms.courses.sync import sync_folder
    from lms.extensions import db

    result = sync_folder(current_app.config["CONTENT_DIR"], force=force)
    if result.errors:
        raise RuntimeError(f"{len(result.errors)} content error(s): {result.errors[0]}")
    db.session.commit()
    return result


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _cli(workdir, db_path):
    """Seconds of `flask lms sync-content` as a process, cold then warm (start-up included)."""
    env = dict(os.environ, LMS_INSTANCE_PATH=str(workdir / "cli-instance"),
               LMS_DATABASE_URL=f"sqlite:///{db_path}", LMS_SECRET_KEY="bench",
               LMS_CONTENT_DIR=str(ROOT), FLASK_DEBUG="0")
    times = []
    for _ in range(2):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "lms",
                               "sync-content"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"sync-content exit {done.returncode}: "
                               f"{(done.stderr or done.stdout).strip()[-200:]}")
    return times


def sync_figures(workdir, repeat=5):
    """Rows for bench.run: dicts with name, value, baseline, ratio, target, verdict."""
    from lms.extensions import db

    workdir = Path(workdir)
    base = statistics.median(_timed(lambda: read_files(ROOT))[0] for _ in range(repeat))
    baseline = f"{base * 1000:.1f} ms (read the files)"
    colds, warms, forced = [], [], []
    try:
        for i in range(repeat):
            db_path = workdir / f"sync-{i}.sqlite3"
            create_schema(db_path)
            app = make_app(db_path)
            app.config["CONTENT_DIR"] = str(ROOT)
            with app.app_context():
                seconds, first = _timed(_sync_once)
                colds.append(seconds)
                plan = first.plan
                if len(plan.courses["added"]) != len(plan.catalogue.courses):
                    raise RuntimeError(f"the first sync did not add every course: {plan.counts()}")
                db.session.remove()
                seconds, again = _timed(_sync_once)
                warms.append(seconds)
                if again.identical_to is None:
                    raise RuntimeError("the second sync did not find the files unchanged")
                db.session.remove()
                seconds, full = _timed(lambda: _sync_once(force=True))
                forced.append(seconds)
                if full.plan is None or full.plan.changed:
                    raise RuntimeError(f"a forced sync changed something: {full.plan.counts()}")
                db.session.remove()
                db.engine.dispose()
        cli_db = workdir / "sync-cli.sqlite3"
        create_schema(cli_db)
        cli_cold, cli_warm = _cli(workdir, cli_db)
    except Exception as e:  # noqa: BLE001  (a broken sync is a row, not a crashed bench)
        return [_row("c) content sync", f"failed: {e}"[:160], baseline, "-", "", "failed")]
    cold, warm = statistics.median(colds), statistics.median(warms)
    full = statistics.median(forced)
    return [
        _row("c) content sync, cold (empty DB; 8 courses, 40 modules, 8 banks, 2 langs)",
             f"{cold:.3f} s (first {colds[0]:.3f} s)", baseline, f"{cold / base:.0f}x",
             f"< {COLD_TARGET:g} s", "meets" if max(colds) < COLD_TARGET else "misses"),
        _row("c) content sync, warm (nothing changed: files identical to the last sync)",
             f"{warm:.3f} s", baseline,
             f"{warm / base:.0f}x", f"< {WARM_TARGET:g} s",
             "meets" if max(warms) < WARM_TARGET else "misses"),
        _row("   warm with --force (every file checked and compared again)", f"{full:.3f} s",
             baseline, f"{full / base:.0f}x", "", ""),
        _row("   `lms sync-content` process, cold / warm", f"{cli_cold:.2f} s / {cli_warm:.2f} s",
             "-", "-", "", ""),
    ]


def _row(name, value, baseline, ratio, target, verdict):
    return {"name": name, "value": value, "baseline": baseline, "ratio": ratio,
            "target": target, "verdict": verdict}


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lms-bench-sync-") as tmp:
        for row in sync_figures(tmp):
            print(" | ".join(row.values()))
