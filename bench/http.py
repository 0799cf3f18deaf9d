"""The HTTP figures: the app served by gunicorn as deployed, loaded by `wrk` on loopback.

    python -m bench.http            print the rows on their own (run it as a module: the
    python -m bench.http --smoke    file name would shadow the standard library's `http`)

A fresh SQLite instance in a temporary folder gets `flask db upgrade`, `lms sync-content`
and `lms demo`; `gunicorn --workers 2` serves it on a free loopback port; the demo learner
signs in (real sign-in form, CSRF on) and `wrk` drives, with the learner's session cookie,
first the baseline `GET /healthz` (the same app and server doing no work) and then a module
page of the bundled programme. wrk reports its own percentiles through a Lua `done()`.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
LEARNER = ("learner@demo.civicskills.vn", "demo-learner-2026")
HEAD = ("head@demo.civicskills.vn", "demo-head-2026")  # heads the department AH.SKHCN
ADMIN = ("admin@demo.civicskills.vn", "demo-admin-2026")
HEAD_UNIT, PROVINCE = "AH.SKHCN", "AH"  # the demo head's department, the demo province
PROGRAMME = "basic-digital-skills"
WORKERS = 2
USER_AGENT = "civicskills-bench"  # the same for the sign-in and for wrk (session protection)
RATIO_TARGET = 0.15  # module page throughput / baseline throughput
P95_TARGET = 50.0  # ms, at the full connection count
# Rounds alternate the baseline and the page, and the median round of each is reported with
# the range of all rounds: a shared 2-core machine has noisy neighbours, and one unlucky
# window should neither pass nor fail a figure.
FULL = {"threads": 2, "connections": 16, "seconds": 8, "other_seconds": 5, "warmup": 2,
        "rounds": 3}
SMOKE = {"threads": 1, "connections": 4, "seconds": 1, "other_seconds": 1, "warmup": 1,
         "rounds": 1}

# wrk calls done() once, in its main Lua state, with the merged statistics of all threads.
WRK_SCRIPT = """\
wrk.method = "%(method)s"
%(cookie)s
%(body)s
wrk.headers["User-Agent"] = "%(agent)s"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, ' ..
    '"p50_us": %%d, "p95_us": %%d, "p99_us": %%d, "max_us": %%d, ' ..
    '"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}\\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


class Unavailable(Exception):
    """A figure cannot be measured yet (a command or page is missing): a row, not a crash."""


def _row(name, value, baseline="-", ratio="-", target="", verdict=""):
    return {"name": name, "value": value, "baseline": baseline, "ratio": ratio,
            "target": target, "verdict": verdict}


def _tail(text, size=160):
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][-size:] if lines else ""


def _env(workdir, port):
    """A clean LMS_* environment: none of the caller's settings leak into the instance."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("LMS_")}
    env.update(LMS_INSTANCE_PATH=str(workdir / "instance"),
               LMS_DATABASE_URL=f"sqlite:///{workdir / 'http.sqlite3'}",
               LMS_SECRET_KEY="bench-http", LMS_CONTENT_DIR=str(ROOT),
               LMS_BASE_URL=f"http://127.0.0.1:{port}", FLASK_DEBUG="0",
               # The head and the administrator sign in with their password only: the
               # second factor is one more request at sign-in, not part of the pages measured.
               LMS_TWO_FACTOR_ROLES="[]")
    return env


def _flask(args, env):
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=300, check=False)
    if done.returncode != 0:
        message = _tail(done.stderr or done.stdout)
        if "No such command" in (done.stderr or ""):
            raise Unavailable(f"no `flask {' '.join(args)}` yet")
        raise RuntimeError(f"`flask {' '.join(args)}` exit {done.returncode}: {message}")
    return done


def prepare(workdir, env):
    """db upgrade, sync-content, demo; returns (course slug, module slug) of the programme's
    first module (None when the content or the programme is not there)."""
    _flask(["db", "upgrade"], env)
    _flask(["lms", "sync-content"], env)
    _flask(["lms", "demo"], env)
    with sqlite3.connect(workdir / "http.sqlite3") as conn:
        row = conn.execute(
            "SELECT c.slug, m.slug FROM programmes p"
            " JOIN programme_courses pc ON pc.programme_id = p.id"
            " JOIN courses c ON c.id = pc.course_id"
            " JOIN modules m ON m.course_id = c.id"
            " WHERE p.slug = ? AND c.published AND NOT m.draft"
            " ORDER BY pc.position, m.position LIMIT 1", (PROGRAMME,)).fetchone()
        assigned = conn.execute(
            "SELECT count(*) FROM programme_assignments pa JOIN programmes p"
            " ON p.id = pa.programme_id WHERE p.slug = ?", (PROGRAMME,)).fetchone()[0]
    if row is None:
        raise Unavailable(f"programme {PROGRAMME} has no module after sync-content")
    if not assigned:
        raise Unavailable(f"`lms demo` did not assign programme {PROGRAMME}")
    return row


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(workdir, env, port):
    """gunicorn as the README deploys it, in its own process group, logging to a file."""
    log = open(workdir / "gunicorn.log", "wb")  # noqa: SIM115  (closed by stop_gunicorn)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS),
         "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    process.log = log
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited {process.returncode}: "
                               f"{_tail((workdir / 'gunicorn.log').read_text(errors='replace'))}")
        try:
            status, _, _ = request(port, "GET", "/healthz")
            if status == 200 and len(worker_pids(process.pid)) >= WORKERS:
                return process
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def stop_gunicorn(process):
    """TERM the master (it stops its workers), then KILL the whole group if it lingers."""
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    process.log.close()


def worker_pids(master):
    """The master's children (the workers), from /proc."""
    children = Path(f"/proc/{master}/task/{master}/children")
    try:
        return [int(pid) for pid in children.read_text().split()]
    except OSError:
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == master:
                pids.append(int(stat.parent.name))
        return pids


def peak_rss_kib(pid):
    """VmHWM: the peak resident set size of a process, in KiB (None if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def request(port, method, path, headers=None, body=None):
    """One request on a fresh connection; returns (status, headers as a list, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body,
                     headers={"User-Agent": USER_AGENT, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def _cookies(headers, jar):
    for name, value in headers:
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, val = pair.partition("=")
            jar[key.strip()] = val.strip()
    return jar


def sign_in(port, account=LEARNER):
    """A demo account (the learner by default) signs in through the form; returns the
    Cookie header value."""
    cookie, form = login_form(port, account)
    jar = dict(pair.split("=", 1) for pair in cookie.split("; ") if pair)
    status, headers, _ = request(
        port, "POST", "/login", body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    location = dict((k.lower(), v) for k, v in headers).get("location", "")
    if status != 302 or "/login" in location:
        raise RuntimeError(f"sign-in as {account[0]} failed: POST /login -> {status} {location}")
    _cookies(headers, jar)
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def login_form(port, account=LEARNER):
    """(Cookie header, url-encoded body) of a sign-in form as a browser would send it: the
    session cookie and CSRF token from GET /login, the account's email and password."""
    status, headers, body = request(port, "GET", "/login")
    if status != 200:
        raise RuntimeError(f"GET /login -> {status}")
    jar = _cookies(headers, {})
    match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', body) or \
        re.search(rb'value="([^"]+)"[^>]*name="csrf_token"', body)
    if not match:
        raise RuntimeError("no csrf_token in the sign-in form")
    form = urlencode({"csrf_token": match.group(1).decode(), "login": account[0],
                      "password": account[1], "next": ""})
    return "; ".join(f"{k}={v}" for k, v in jar.items()), form


def wrk(port, path, cookie, workdir, threads, connections, seconds, form=None):
    """Run wrk against one path (GET, or POST of the url-encoded `form`); the dict its
    done() prints (times in microseconds)."""
    script = workdir / "bench.lua"
    cookie = f'wrk.headers["Cookie"] = [==[{cookie}]==]' if cookie else "-- no session cookie"
    body = (f'wrk.body = [==[{form}]==]\n'
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"'
            if form else "-- no body")
    script.write_text(WRK_SCRIPT % {"cookie": cookie, "agent": USER_AGENT, "body": body,
                                    "method": "POST" if form else "GET"}, encoding="utf-8")
    done = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
         "-s", str(script), f"http://127.0.0.1:{port}{path}"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=seconds + 60,
        check=False)
    for line in done.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            stats = json.loads(line[len("WRK_JSON "):])
            stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
            stats["errors"] = sum(stats[key] for key in
                                  ("connect", "read", "write", "status", "timeout"))
            return stats
    raise RuntimeError(f"wrk exit {done.returncode}: {_tail(done.stderr or done.stdout)}")


def _ms(us):
    return f"{us / 1000:.1f}" if us >= 1000 else f"{us / 1000:.2f}"


def _latency(stats):
    return f"p50 {_ms(stats['p50_us'])} ms, p95 {_ms(stats['p95_us'])} ms"


def _median(runs):
    """The run with the median throughput (its latencies come with it)."""
    return sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]


def _spread(runs, key="rps"):
    """' (rounds: low–high)' over several runs; nothing for a single run."""
    if len(runs) < 2:
        return ""
    values = sorted(run[key] for run in runs)
    if key == "rps":
        return f" (rounds: {values[0]:,.0f}–{values[-1]:,.0f})"
    return f" (rounds' p95: {_ms(values[0])}–{_ms(values[-1])} ms)"


def _errors(stats):
    text = f" ({stats['errors']:,} errors!)" if stats["errors"] else ""
    return text + (" (answers shorter than the page: signed out?)" if stats.get("short") else "")


def other_pages(port, learner_cookie):
    """(row name, path, Cookie, form or None) of the other pages measured, each answered as
    it should be first (a 200; the sign-in a 302 to the learner's home): the sign-in, the
    learner's "My training", a head's unit dashboard and the province dashboard."""
    head, admin = sign_in(port, HEAD), sign_in(port, ADMIN)
    login_cookie, form = login_form(port)
    # The sign-in last: wrk leaves its slow (scrypt) requests queued at the workers when it
    # stops, and they would be served before the next page's (see drain()).
    pages = [
        ("d) HTTP My training, signed-in learner", "/learn", learner_cookie, None),
        ("d) HTTP unit dashboard, the head of a department", f"/reports/units/{HEAD_UNIT}",
         head, None),
        ("d) HTTP province dashboard, an admin", f"/reports/units/{PROVINCE}", admin, None),
        ("d) HTTP sign-in, POST /login (scrypt by design)", "/login", login_cookie, form),
    ]
    for name, path, who, body in pages:
        status, headers, _ = request(port, "POST" if body else "GET", path, body=body, headers={
            "Cookie": who, **({"Content-Type": "application/x-www-form-urlencoded"}
                              if body else {})})
        location = dict((k.lower(), v) for k, v in headers).get("location", "")
        if status != (302 if body else 200) or "/login" in location:
            raise RuntimeError(f"{name}: {path} -> {status} {location}")
    return pages


def drain(port, limit_s=60):
    """Wait until the workers have served what wrk left queued (a /healthz answered in
    under 50 ms), so that the next measurement does not pay for the last one's backlog."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        started = time.perf_counter()
        request(port, "GET", "/healthz")
        if time.perf_counter() - started < 0.05:
            return
        time.sleep(0.2)


def http_figures(workdir, smoke=False):
    """Rows for bench.run: dicts with name, value, baseline, ratio, target, verdict."""
    load = SMOKE if smoke else FULL
    conns = load["connections"]
    where = f"gunicorn {WORKERS} workers, wrk {conns} conn"
    base_name = f"d) HTTP GET /healthz ({where})"
    page_name = "d) HTTP module page, signed-in learner"
    ratio_target = f">= {RATIO_TARGET:.0%} of baseline"
    p95_target = f"p95 < {P95_TARGET:.0f} ms"
    if shutil.which("wrk") is None:
        return [_row(base_name, "not available (no `wrk`: apt-get install wrk)",
                     target="", verdict="not measured")]
    workdir = Path(workdir) / "http"
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = _env(workdir, port)
    rows, page, reason, process = [], None, None, None
    try:
        started = time.perf_counter()
        try:
            course, module = prepare(workdir, env)
            page = f"/courses/{course}/{module}"
        except Unavailable as e:
            reason = str(e)
        setup = time.perf_counter() - started
        process = start_gunicorn(workdir, env, port)
        cookie = sign_in(port) if page else ""  # the baseline carries the same cookie
        if page:
            status, _, body = request(port, "GET", page, headers={"Cookie": cookie})
            page_bytes = len(body)
            if status != 200 or b'id="module"' not in body:
                reason = (f"GET {page} -> {status}" + ("" if status != 200 else
                          ", no article#module") + " (course pages not built yet?)")
                page = None
        others = other_pages(port, cookie) if page else []
        for path in ["/healthz"] + ([page] if page else []):  # warm every worker up
            wrk(port, path, cookie, workdir, load["threads"], conns, load["warmup"])
        for _name, path, who, form in others:
            wrk(port, path, who, workdir, load["threads"], conns, load["warmup"], form)
            drain(port)
        bases, pages, other_runs = [], [], {name: [] for name, *_ in others}
        for _round in range(load["rounds"]):
            bases.append(wrk(port, "/healthz", cookie, workdir, load["threads"], conns,
                             load["seconds"]))
            if page:
                pages.append(wrk(port, page, cookie, workdir, load["threads"], conns,
                                 load["seconds"]))
            for name, path, who, form in others:
                other_runs[name].append(wrk(port, path, who, workdir, load["threads"], conns,
                                            load["other_seconds"], form))
                drain(port)
        base = _median(bases)
        rows.append(_row(base_name, f"{base['rps']:,.0f} req/s, {_latency(base)}{_errors(base)}"
                         f"{_spread(bases)}"))
        if page:
            stats = _median(pages)
            stats["errors"] = sum(run["errors"] for run in pages)
            # wrk counts only statuses >= 400 as errors: a redirect to /login would not show.
            stats["short"] = any(run["bytes"] < run["requests"] * page_bytes for run in pages)
            ratio = stats["rps"] / base["rps"]
            p95 = stats["p95_us"] / 1000
            rows += [
                _row(f"{page_name}, throughput",
                     f"{stats['rps']:,.0f} req/s{_errors(stats)}{_spread(pages)}",
                     f"{base['rps']:,.0f} req/s (/healthz)", f"{ratio:.0%}", ratio_target,
                     "meets" if ratio >= RATIO_TARGET and not _errors(stats) else "misses"),
                _row(f"{page_name}, latency", _latency(stats) + _spread(pages, "p95_us"),
                     f"{_latency(base)} (/healthz)",
                     f"{stats['p95_us'] / base['p95_us']:.0f}x", p95_target,
                     "meets" if p95 < P95_TARGET else "misses"),
                _row("   the module page measured",
                     f"{page}, {sum(run['requests'] for run in pages):,} requests in "
                     f"{len(pages)} rounds of {load['seconds']} s, "
                     f"{stats['bytes'] // max(stats['requests'], 1):,} bytes each"),
            ]
        else:
            rows.append(_row(page_name, f"not available ({reason})", target=ratio_target,
                             verdict="not measured"))
        for name, runs in other_runs.items():
            stats = _median(runs)
            stats["errors"] = sum(run["errors"] for run in runs)
            rows.append(_row(name, f"{stats['rps']:,.0f} req/s, {_latency(stats)}"
                             f"{_errors(stats)}{_spread(runs)}",
                             f"{base['rps']:,.0f} req/s (/healthz)",
                             f"{stats['rps'] / base['rps']:.0%}"))
        peaks = [peak_rss_kib(pid) for pid in worker_pids(process.pid)]
        peaks = sorted((kib for kib in peaks if kib), reverse=True)
        rows.append(_row("   gunicorn worker peak RSS (VmHWM)",
                         " / ".join(f"{kib / 1024:.0f} MiB" for kib in peaks) or "?"))
        rows.append(_row("   instance set-up (db upgrade, sync-content, demo)", f"{setup:.1f} s"))
    except Exception as e:  # noqa: BLE001  (a broken server is a row, not a crashed bench)
        rows.append(_row("d) HTTP", f"failed: {e}"[:160], verdict="failed"))
    finally:
        stop_gunicorn(process)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no timing claims")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lms-bench-http-") as tmp:
        for row in http_figures(tmp, smoke=args.smoke):
            print(" | ".join(row.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
