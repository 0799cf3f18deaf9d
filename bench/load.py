"""The load test: 200 simulated learners for two minutes on the app served by gunicorn as
deployed (2 sync workers, SQLite), with a few heads on their dashboards; then a check in the
database that no attempt was lost or doubled, and a count of the requests that failed.

    python -m bench.load            print the rows on their own
    python -m bench.load --smoke    10 learners for 5 seconds

A fresh instance as bench.http prepares it (`db upgrade`, `sync-content`, `demo`). The demo
head and admin sign in through the form; the learners are bench.quiz's (every module read,
one open attempt per question bank with its answers saved, half of them good enough to
pass; sessions forged with the app's own serializers). Each learner is a thread of its
own: it reads a module page of its courses, thinks for 0.5–1.5 s, and after every second
page submits its next attempt (until its eight are submitted, then it only reads). Each
head thread opens the head's department dashboard or the province dashboard, then thinks
for 1–3 s. Every request is on a new connection (gunicorn's sync workers do not keep
connections alive), with a 10 s timeout. Afterwards bench.quiz.check() reads every attempt
in the database: each one the server redirected to its result is submitted and graded once
with the expected score, completion and certificate; those never sent are untouched; no
table holds a row more or less than it should.
"""

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

from bench.http import (
    ADMIN,
    HEAD,
    HEAD_UNIT,
    PROVINCE,
    Unavailable,
    _env,
    _row,
    free_port,
    prepare,
    request,
    sign_in,
    start_gunicorn,
    stop_gunicorn,
)
from bench.quiz import Pool, check

FULL = {"learners": 200, "heads": 4, "seconds": 120}
SMOKE = {"learners": 10, "heads": 2, "seconds": 5}
SEED = 7


class Tally:
    """What the simulated people saw, shared by their threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = {"page": [], "submit": [], "dashboard": []}
        self.failures = []  # (what, detail) of requests that failed
        self.issued, self.acked = set(), []

    def record(self, kind, seconds):
        with self.lock:
            self.latencies[kind].append(seconds)

    def fail(self, what, detail):
        with self.lock:
            self.failures.append((what, detail))


def _get(port, path, cookie, tally, kind, marker):
    """GET a page as a signed-in person; its time, or a failure unless a 200 with
    `marker` in the body."""
    started = time.perf_counter()
    try:
        status, _, body = request(port, "GET", path, headers={"Cookie": cookie})
    except OSError as e:
        tally.fail(path, repr(e))
        return
    tally.record(kind, time.perf_counter() - started)
    if status != 200 or marker not in body:
        tally.fail(path, f"status {status}")


def learner(port, cookie, token, attempts, pages, until, tally, rng):
    """Read, think, and submit the next attempt after every second page."""
    done = 0
    while time.monotonic() < until:
        for _ in range(2):
            _get(port, rng.choice(pages), cookie, tally, "page", b'id="module"')
            time.sleep(rng.uniform(0.5, 1.5))
            if time.monotonic() >= until:
                return
        if done < len(attempts):
            attempt_id = attempts[done]
            done += 1
            with tally.lock:
                tally.issued.add(attempt_id)
            started = time.perf_counter()
            try:
                status, headers, _ = request(
                    port, "POST", f"/quiz/attempts/{attempt_id}/submit",
                    body=f"csrf_token={token}",
                    headers={"Cookie": cookie,
                             "Content-Type": "application/x-www-form-urlencoded"})
            except OSError as e:
                tally.fail(f"submit {attempt_id}", repr(e))
                continue
            tally.record("submit", time.perf_counter() - started)
            location = dict((k.lower(), v) for k, v in headers).get("location", "")
            if status == 302 and f"/quiz/attempts/{attempt_id}" in location:
                with tally.lock:
                    tally.acked.append(attempt_id)
            else:
                tally.fail(f"submit {attempt_id}", f"status {status} {location}")


def head(port, cookies, until, tally, rng):
    """Open a dashboard, think, again."""
    while time.monotonic() < until:
        cookie, path = rng.choice(cookies)
        _get(port, path, cookie, tally, "dashboard", b"</html>")
        time.sleep(rng.uniform(1.0, 3.0))


def _module_pages(db_path):
    import sqlite3

    with sqlite3.connect(db_path) as conn:
        return [f"/courses/{course}/{module}" for course, module in conn.execute(
            "SELECT c.slug, m.slug FROM modules m JOIN courses c ON c.id = m.course_id"
            " WHERE c.published AND NOT m.draft AND c.quiz_slug IS NOT NULL")]


def _ms(values, share):
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000:.0f}"


def load_figures(workdir, smoke=False):
    """The i rows (see the module's docstring)."""
    load = SMOKE if smoke else FULL
    name = (f"i) load test: {load['learners']} learners and {load['heads']} heads for "
            f"{load['seconds']} s (gunicorn 2 workers)")
    workdir = Path(workdir) / "load"
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = _env(workdir, port)
    db_path = workdir / "http.sqlite3"
    process, pool, rows = None, None, []
    try:
        try:
            prepare(workdir, env)
        except Unavailable as e:
            return [_row(name, f"not available ({e})", verdict="not measured")]
        process = start_gunicorn(workdir, env, port)
        dashboards = [(sign_in(port, HEAD), f"/reports/units/{HEAD_UNIT}"),
                      (sign_in(port, ADMIN), f"/reports/units/{PROVINCE}")]
        pool = Pool(env, db_path)  # counts every table from here on
        items = pool.make(load["learners"] * len(pool.banks))
        by_learner = {}
        for attempt_id, cookie, token in items:
            by_learner.setdefault((cookie, token), []).append(attempt_id)
        pages = _module_pages(db_path)
        rng = random.Random(SEED)
        tally = Tally()
        until = time.monotonic() + load["seconds"]
        threads = [threading.Thread(target=learner, args=(
            port, cookie, quote(token, safe=""), sorted(ids), pages, until, tally,
            random.Random(rng.random()))) for (cookie, token), ids in by_learner.items()]
        threads += [threading.Thread(target=head, args=(
            port, dashboards, until, tally, random.Random(rng.random())))
            for _ in range(load["heads"])]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=load["seconds"] + 60)
        seconds = time.perf_counter() - started
        time.sleep(0.5)
        result = check(pool, tally.issued, tally.acked)
        requests = sum(len(v) for v in tally.latencies.values()) + len(tally.failures)
        lat = tally.latencies
        ok = not tally.failures and not (result["lost"] or result["doubled"] or
                                         result["wrong"])
        rows += [
            _row(name, f"{requests:,} requests in {seconds:.0f} s ({requests / seconds:,.0f}/s), "
                 f"{len(tally.failures)} failed" + (f": {tally.failures[0]}"[:80]
                                                    if tally.failures else ""),
                 target="0 failed", verdict="meets" if not tally.failures else "misses"),
            _row("   module pages / submissions / dashboards, p50 and p95 (ms)",
                 " / ".join(f"{_ms(lat[k], 0.5)} and {_ms(lat[k], 0.95)}"
                            for k in ("page", "submit", "dashboard")),
                 f"{len(lat['page']):,} / {len(lat['submit']):,} / "
                 f"{len(lat['dashboard']):,} requests"),
            _row("i) load test checked in the database afterwards",
                 f"{len(tally.issued):,} submitted, {result['graded']:,} graded, "
                 f"lost {result['lost']}, doubled {result['doubled']}, wrong {result['wrong']}"
                 + (f" ({result['problems'][0]})"[:100] if result["problems"] else ""),
                 target="none lost, doubled or wrong",
                 verdict="meets" if ok else "FAILED"),
        ]
        if lat["page"]:
            rows[1]["value"] += f"; median page {statistics.median(lat['page']) * 1000:.0f} ms"
    except Exception as e:  # noqa: BLE001  (a broken run is a row, not a crashed bench)
        rows.append(_row(name, f"failed: {e}"[:160], verdict="failed"))
    finally:
        stop_gunicorn(process)
        if pool is not None:
            pool.close()
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="10 learners for 5 seconds")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lms-bench-load-") as tmp:
        for row in load_figures(tmp, smoke=args.smoke):
            print(" | ".join(str(value) for value in row.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
