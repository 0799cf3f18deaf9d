"""The quiz-submission figures: graded submissions per second under gunicorn, checked in the
database afterwards.

    python -m bench.quiz              print the rows on their own
    python -m bench.quiz --smoke      a few seconds, no timing claims
    python -m bench.quiz --profile    the submit path in process (test client, cProfile)

A fresh SQLite instance as bench.http prepares it (`flask db upgrade`, `lms sync-content`,
`lms demo`). In process, on that instance's database, the bench creates its own learners
(every module of the 8 courses read) and, for each learner, one OPEN attempt per bank with
every answer saved: half of the attempts are right enough to pass (and so complete the
course), half fail. Sessions are forged with the app's own serializers (no scrypt sign-in
per learner); one forged session is tried on a real request first. `wrk` then POSTs
`/quiz/attempts/<id>/submit`, each request with the next attempt of its thread's own slice
(no attempt is ever sent twice), in rounds alternating with the baseline `GET /healthz` on
the same server. Afterwards every attempt is checked in the database: each one the server
answered for is submitted and graded exactly once with the expected score, credits and
completion; the others are untouched; no other row appeared.
"""

import argparse
import json
import math
import os
import random
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from bench.http import (
    USER_AGENT,
    Unavailable,
    _env,
    _latency,
    _median,
    _row,
    _spread,
    free_port,
    prepare,
    request,
    start_gunicorn,
    stop_gunicorn,
    worker_pids,
    wrk,
)

RATE_TARGET = 300  # graded submissions per second at 16 connections
WORKERS = 2  # as bench.http (gunicorn --workers 2, sync)
FULL = {"threads": 2, "connections": 16, "seconds": 5, "warmup": 2, "rounds": 3}
SMOKE = {"threads": 1, "connections": 4, "seconds": 1, "warmup": 1, "rounds": 1}
# Attempts prepared for a round: this many times the last measured rate times its seconds,
# so that wrk stops well before they run out (a thread that does run out says so).
HEADROOM = 2.5
PASS_SHARE = 0.85  # a passing attempt answers this share right (10 of 12), a failing one 2
SEED = 4

# Each wrk thread loads its own slice (quiz-items-<tid>.lua), sends each request once in
# order, and keeps the attempt id of each redirect to the result page it gets back; done()
# (main Lua state) collects every thread's counts and ids and writes them as JSON. wrk calls
# request() once more in thread 0 before the run (to check the script) and never sends that
# one: "issued" counts it, and the check finds that attempt open and untouched.
WRK_SCRIPT = """\
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local items = dofile("%(dir)s/quiz-items-" .. tid .. ".lua")
  reqs = {}
  for i, item in ipairs(items) do
    reqs[i] = wrk.format("POST", item[1], {
      ["Cookie"] = item[2],
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["User-Agent"] = "%(agent)s"}, item[3])
  end
  spare = wrk.format("GET", "/healthz", {["User-Agent"] = "%(agent)s"})
  issued, exhausted, graded = 0, 0, {}
  codes = {}
end

function request()
  if issued >= #reqs then
    exhausted = exhausted + 1
    return spare
  end
  issued = issued + 1
  return reqs[issued]
end

function response(status, headers, body)
  local key = tostring(status)
  local location = headers["Location"] or headers["location"]
  local id = location and string.match(location, "/quiz/attempts/(%%d+)/result")
  if status >= 300 and status < 400 and id then
    graded[#graded + 1] = id
  elseif status >= 300 and status < 400 then
    key = key .. " " .. (location or "?")
  end
  codes[key] = (codes[key] or 0) + 1
end

done = function(summary, latency, requests)
  local e = summary.errors
  local out = io.open("%(dir)s/quiz-result.json", "w")
  out:write(string.format(
    '{"requests": %%d, "duration_us": %%d, "bytes": %%d, ' ..
    '"p50_us": %%d, "p95_us": %%d, "p99_us": %%d, "max_us": %%d, ' ..
    '"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d, "threads": [',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
  for i, thread in ipairs(threads) do
    local parts = {}
    for code, count in pairs(thread:get("codes")) do
      parts[#parts + 1] = string.format("%%q: %%d", code, count)
    end
    out:write(string.format(
      '%%s{"tid": %%d, "issued": %%d, "exhausted": %%d, "codes": {%%s}, "graded": [%%s]}',
      i > 1 and ", " or "", thread:get("tid"), thread:get("issued"), thread:get("exhausted"),
      table.concat(parts, ", "), table.concat(thread:get("graded"), ", ")))
  end
  out:write("]}\\n")
  out:close()
end
"""


# --diagnose: gunicorn hooks (a config file given through GUNICORN_CMD_ARGS) that measure, in
# each worker, each request's wall and CPU time, the time spent in write statements and
# commits (waiting for SQLite's write lock happens there), and the busy retries of
# lms.quizzes.services with their sleeps; each worker writes them out when it exits.
DIAGNOSE_CONFIG = """\
import json, os, time
from types import SimpleNamespace

DIR = %(dir)r
stats = {"requests": 0, "wall": 0.0, "cpu": 0.0, "write_sql": 0.0, "commit": 0.0,
         "retries": {}, "retry_sleep": 0.0, "statements": 0}


def post_worker_init(worker):
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    import lms.quizzes.services as services

    busy = services._sqlite_busy

    def counted(error):
        result = busy(error)
        if result and stats.get("_on"):
            code = str(getattr(error.orig, "sqlite_errorcode", "?"))
            stats["retries"][code] = stats["retries"].get(code, 0) + 1
        return result

    def sleep(seconds):
        start = time.perf_counter()
        time.sleep(seconds)
        if stats.get("_on"):
            stats["retry_sleep"] += time.perf_counter() - start

    services._sqlite_busy = counted
    services.time = SimpleNamespace(sleep=sleep, monotonic=time.monotonic,
                                    perf_counter=time.perf_counter, time=time.time)
    started = {}

    @event.listens_for(Engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):
        started["sql"] = time.perf_counter()

    @event.listens_for(Engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        if not stats.get("_on"):
            return
        stats["statements"] += 1
        if not statement.lstrip().upper().startswith(("SELECT", "BEGIN")):
            stats["write_sql"] += time.perf_counter() - started["sql"]

    commit = Session.commit

    def timed_commit(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return commit(self, *args, **kwargs)
        finally:
            if stats.get("_on"):
                stats["commit"] += time.perf_counter() - start

    Session.commit = timed_commit


def pre_request(worker, req):
    stats["_on"] = req.path.endswith("/submit")
    stats["_t"], stats["_c"] = time.perf_counter(), time.process_time()


def post_request(worker, req, environ, resp):
    if stats.pop("_on", False):
        stats["requests"] += 1
        stats["wall"] += time.perf_counter() - stats["_t"]
        stats["cpu"] += time.process_time() - stats["_c"]


def worker_exit(server, worker):
    for key in ("_t", "_c", "_on"):
        stats.pop(key, None)
    with open(os.path.join(DIR, "diag-%%d.json" %% os.getpid()), "w") as out:
        json.dump(stats, out)
"""


@contextmanager
def _lms_environ(env):
    """os.environ's LMS_* (and FLASK_*) replaced by the instance's while the app is built."""
    saved = {key: value for key, value in os.environ.items()
             if key.startswith(("LMS_", "FLASK_"))}
    for key in saved:
        del os.environ[key]
    os.environ.update({key: value for key, value in env.items()
                       if key.startswith(("LMS_", "FLASK_"))})
    try:
        yield
    finally:
        for key in [key for key in os.environ if key.startswith(("LMS_", "FLASK_"))]:
            del os.environ[key]
        os.environ.update(saved)


def _right(entry):
    """A response that earns full credit on a paper entry."""
    kind, answer = entry["kind"], entry.get("answer")
    if kind == "short":
        accepted = [text for texts in (entry.get("accept") or {}).values() for text in texts]
        return accepted[0] if accepted else ""
    if kind in ("multiple", "ordering"):
        return list(answer or [])
    return answer


def _wrong(entry):
    """A response that earns nothing on a paper entry."""
    kind, answer, choices = entry["kind"], entry.get("answer"), entry.get("choices") or []
    if kind == "single":
        return next((c for c in choices if c != answer), "none")
    if kind == "multiple":
        return [c for c in choices if c not in (answer or [])]
    if kind == "true_false":
        return not answer
    if kind == "ordering":
        return list(reversed(answer or []))
    return "không biết"


class Pool:
    """Bench learners and their open attempts, written straight to the instance's database
    in process (bulk inserts; one attempt per bank is started by start_attempt itself, and
    the papers built here are checked against it)."""

    def __init__(self, env, db_path):
        from lms import create_app

        with _lms_environ(env):
            self.app = create_app()
        self.db_path = db_path
        self.rng = random.Random(SEED)
        self.expected = {}  # attempt id -> {user, bank, course, n, score, passed}
        self.added = {"users": 0, "module_reads": 0, "quiz_attempts": 0, "quiz_answers": 0}
        self.learners = 0
        self.counts_before = table_counts(db_path)
        with self.app.app_context():
            self._load_catalogue()
            self._forge_setup()

    # The catalogue and the sessions -------------------------------------------------------

    def _load_catalogue(self):
        from sqlalchemy import select

        from lms.courses.models import Module
        from lms.extensions import db
        from lms.org.models import Unit
        from lms.quizzes import services
        from lms.quizzes.models import QuizBank, QuizQuestion

        self.banks = []
        for bank in db.session.scalars(select(QuizBank).where(QuizBank.course_id.is_not(None))
                                       .order_by(QuizBank.id)):
            questions = [{"id": q.id, "key": q.key, "kind": q.kind, "position": q.position,
                          "data": q.data or {}}
                         for q in db.session.scalars(
                             select(QuizQuestion).where(QuizQuestion.bank_id == bank.id,
                                                        QuizQuestion.active.is_(True))
                             .order_by(QuizQuestion.position, QuizQuestion.id))]
            if questions:
                self.banks.append({"id": bank.id, "slug": bank.slug, "course": bank.course_id,
                                   "version": bank.version, "questions": questions,
                                   "settings": services.settings_of(bank)})
        if not self.banks:
            raise Unavailable("no quiz bank with questions after sync-content")
        self.modules = db.session.execute(
            select(Module.id, Module.course_id, Module.version)
            .where(Module.course_id.in_([b["course"] for b in self.banks]),
                   Module.draft.is_(False))).all()
        from lms.courses.models import Course

        self.course_versions = dict(db.session.execute(select(Course.id, Course.version)).all())
        self.unit_id = db.session.scalar(select(Unit.id).where(Unit.parent_id.is_(None))
                                         .order_by(Unit.id).limit(1))

    def _forge_setup(self):
        from flask_login.utils import _create_identifier
        from itsdangerous import URLSafeTimedSerializer

        app = self.app
        with app.test_request_context("/", headers={"User-Agent": USER_AGENT},
                                      environ_base={"REMOTE_ADDR": "127.0.0.1"}):
            self.identifier = _create_identifier()  # what session protection compares
        self.session_serializer = app.session_interface.get_signing_serializer(app)
        self.csrf_serializer = URLSafeTimedSerializer(
            app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key, salt="wtf-csrf-token")
        self.cookie_name = app.config["SESSION_COOKIE_NAME"]

    def forge(self, user_id, session_version=1):
        """(Cookie header, signed CSRF token) of a signed-in session of this user, as
        Flask-Login and Flask-WTF would have left it."""
        raw = secrets.token_hex(20)
        now = time.time()
        value = self.session_serializer.dumps({
            "_user_id": f"{user_id}.{session_version}", "_fresh": True,
            "_id": self.identifier, "csrf_token": raw, "signed_in_at": now, "seen_at": now,
            "checked_at": now, "mfa": True})
        return f"{self.cookie_name}={value}", self.csrf_serializer.dumps(raw)

    # Learners and attempts ----------------------------------------------------------------

    def _paper(self, bank):
        """A paper as start_attempt draws it (see lms.quizzes.services._new_attempt)."""
        settings, rng = bank["settings"], self.rng
        questions = bank["questions"]
        draw = settings["draw"]
        chosen = rng.sample(questions, draw if 0 < draw < len(questions) else len(questions))
        if not settings["shuffle_questions"]:
            chosen.sort(key=lambda q: (q["position"], q["id"]))
        paper = []
        for question in chosen:
            data = question["data"]
            choices = [c["id"] for c in data.get("choices") or []
                       if isinstance(c, dict) and "id" in c]
            if question["kind"] == "ordering" and len(choices) > 1:
                rng.shuffle(choices)
                if choices == data.get("answer"):
                    choices = choices[1:] + choices[:1]
            elif settings["shuffle_choices"] and question["kind"] not in ("true_false", "short"):
                rng.shuffle(choices)
            paper.append({"key": question["key"], "kind": question["kind"], "choices": choices,
                          "answer": data.get("answer"), "accept": data.get("accept") or {},
                          "tolerant": bool(data.get("tolerant"))})
        return paper

    def _responses(self, paper, passing):
        right = math.ceil(len(paper) * PASS_SHARE) if passing else \
            len(paper) - math.ceil(len(paper) * PASS_SHARE)
        return {entry["key"]: _right(entry) if i < right else _wrong(entry)
                for i, entry in enumerate(paper)}

    def _new_learners(self, count):
        from sqlalchemy import insert, select

        from lms.auth.models import User
        from lms.courses.models import ModuleRead
        from lms.extensions import db
        from lms.org.models import utcnow
        from lms.org.services import staff_search_text
        from lms.text import sort_key

        now, rows = utcnow(), []
        for n in range(self.learners + 1, self.learners + count + 1):
            name, employee, email = (f"Học viên Bench {n}", f"BQ{n:06d}",
                                     f"bench.quiz.{n}@bench.invalid")
            rows.append({"employee_id": employee, "full_name": name, "email": email,
                         "unit_id": self.unit_id, "category": "civil_servant",
                         "role": "learner", "active": True, "password_hash": None,
                         "session_version": 1, "locale": None,
                         "search_text": staff_search_text(name, employee, email),
                         "sort_key": sort_key(name), "created_at": now, "updated_at": now})
        self.learners += count
        db.session.execute(insert(User), rows)
        emails = [row["email"] for row in rows]
        ids = db.session.scalars(select(User.id).where(User.email.in_(emails))
                                 .order_by(User.id)).all()
        reads = [{"user_id": uid, "module_id": module_id, "course_id": course_id,
                  "module_version": version, "course_version": self.course_versions[course_id],
                  "read_at": now}
                 for uid in ids for module_id, course_id, version in self.modules]
        db.session.execute(insert(ModuleRead), reads)
        self.added["users"] += len(ids)
        self.added["module_reads"] += len(reads)
        return list(ids)

    def make(self, count):
        """At least `count` new open attempts (new learners, one per bank each) with their
        answers saved and committed; [(attempt id, Cookie, signed CSRF token)] interleaved
        so that consecutive requests go to different learners and banks."""
        from sqlalchemy import func, insert, select

        from lms.extensions import db
        from lms.org.models import utcnow
        from lms.quizzes.grading import grade
        from lms.quizzes.models import QuizAnswer, QuizAttempt

        banks = self.banks
        with self.app.app_context():
            users = self._new_learners(max(1, math.ceil(count / len(banks))))
            next_id = (db.session.scalar(select(func.max(QuizAttempt.id))) or 0) + 1
            now = utcnow()
            attempts, answers, items = [], [], []
            for index, user_id in enumerate(users):
                cookie, token = self.forge(user_id)
                for b, bank in enumerate(banks):
                    paper = self._paper(bank)
                    passing = (index + b) % 2 == 0
                    responses = self._responses(paper, passing)
                    limit = bank["settings"]["time_limit_minutes"]
                    pass_mark = float(bank["settings"]["pass_mark"])
                    attempts.append({
                        "id": next_id, "user_id": user_id, "bank_id": bank["id"],
                        "course_id": bank["course"], "number": 1,
                        "bank_version": bank["version"], "status": "open", "started_at": now,
                        "deadline_at": now + timedelta(minutes=limit) if limit else None,
                        "submitted_at": None, "timed_out": False, "paper": paper,
                        "pass_mark": pass_mark, "score": None, "max_score": len(paper),
                        "passed": None})
                    answers += [{"attempt_id": next_id, "question_key": key, "response": value,
                                 "saved_at": now, "credit": None}
                                for key, value in responses.items()]
                    result = grade(paper, responses, pass_mark)
                    self.expected[next_id] = {"user": user_id, "bank": bank["id"],
                                              "course": bank["course"], "n": len(paper),
                                              "score": result.score, "passed": result.passed}
                    items.append((next_id, cookie, token))
                    next_id += 1
            db.session.execute(insert(QuizAttempt), attempts)
            db.session.execute(insert(QuizAnswer), answers)
            db.session.commit()
        self.added["quiz_attempts"] += len(attempts)
        self.added["quiz_answers"] += len(answers)
        # Learner-major order would send one learner's 8 attempts in a row: interleave.
        stride = len(banks)
        return [items[i] for b in range(stride) for i in range(b, len(items), stride)]

    def probe(self):
        """One attempt started and saved through the services themselves (start_attempt,
        save_answers), its paper compared with the ones built here; (id, Cookie, token)."""
        from lms.auth.models import User
        from lms.extensions import db
        from lms.quizzes import services
        from lms.quizzes.grading import grade
        from lms.quizzes.models import QuizAttempt, QuizBank

        with self.app.app_context():
            user_id = self._new_learners(1)[0]
            db.session.commit()
            user, bank = db.session.get(User, user_id), db.session.get(QuizBank,
                                                                       self.banks[0]["id"])
            attempt = services.start_attempt(user, bank)
            db.session.commit()
            ours = self._paper(self.banks[0])
            theirs = attempt.paper
            if len(ours) != len(theirs) or [sorted(e) for e in ours] != \
                    [sorted(e) for e in theirs]:
                raise RuntimeError("start_attempt's paper differs from the bench's: "
                                   f"{sorted(theirs[0])} vs {sorted(ours[0])}")
            by_key = {q["key"]: q for q in self.banks[0]["questions"]}
            for entry in theirs:
                data = by_key[entry["key"]]["data"]
                if entry["answer"] != data.get("answer") or \
                        sorted(entry["choices"]) != sorted(c["id"] for c in
                                                           data.get("choices") or []):
                    raise RuntimeError(f"start_attempt's entry {entry['key']} is not its "
                                       "question's as the bench reads it")
            responses = self._responses(theirs, passing=True)
            services.save_answers(attempt, responses)
            db.session.commit()
            result = grade(theirs, responses, attempt.pass_mark)
            self.expected[attempt.id] = {"user": user_id, "bank": bank.id,
                                         "course": bank.course_id, "n": len(theirs),
                                         "score": result.score, "passed": result.passed}
            self.added["quiz_attempts"] += db.session.query(QuizAttempt).filter_by(
                user_id=user_id).count()
            self.added["quiz_answers"] += len(theirs)
            return (attempt.id, *self.forge(user_id))

    def close(self):
        from lms.extensions import db

        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


def table_counts(db_path):
    with sqlite3.connect(db_path) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # noqa: S608
                for name in tables}


def graded_among(db_path, ids):
    """How many of these attempts are submitted with a score."""
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TEMP TABLE wanted (id INTEGER PRIMARY KEY)")
        conn.executemany("INSERT INTO wanted VALUES (?)", [(i,) for i in ids])
        return conn.execute(
            "SELECT count(*) FROM quiz_attempts JOIN wanted USING (id)"
            " WHERE status = 'submitted' AND score IS NOT NULL").fetchone()[0]


def check(pool, issued, acked):
    """Every attempt the bench made, as the database holds it now. `issued`: ids whose
    request wrk wrote; `acked`: ids of the redirects to their result (one per response)."""
    from collections import Counter

    acked_count = Counter(acked)
    with sqlite3.connect(pool.db_path) as conn:
        rows = {r[0]: r for r in conn.execute(
            "SELECT id, user_id, bank_id, status, score, max_score, passed, submitted_at"
            " FROM quiz_attempts")}
        answers = {r[0]: r for r in conn.execute(
            "SELECT attempt_id, count(*), count(credit), coalesce(sum(credit), 0)"
            " FROM quiz_answers GROUP BY attempt_id")}
        completions = {}
        for user, course, attempt_id in conn.execute(
                "SELECT user_id, course_id, attempt_id FROM course_completions"):
            completions.setdefault((user, course), []).append(attempt_id)
        per_learner_bank = Counter((r[1], r[2]) for r in rows.values())
    result = {"graded": 0, "lost": 0, "doubled": 0, "wrong": 0, "untouched": 0,
              "inflight_graded": 0, "inflight_open": 0, "acked": len(acked_count),
              "problems": []}

    def problem(kind, text):
        result[kind] += 1
        if len(result["problems"]) < 5:
            result["problems"].append(text)

    for attempt_id, want in pool.expected.items():
        row, ans = rows.get(attempt_id), answers.get(attempt_id, (attempt_id, 0, 0, 0))
        done = completions.get((want["user"], want["course"]), [])
        if row is None:
            problem("lost", f"attempt {attempt_id} is gone")
            continue
        if per_learner_bank[(want["user"], want["bank"])] != 1:
            problem("doubled", f"{per_learner_bank[(want['user'], want['bank'])]} attempts "
                               f"of learner {want['user']} on bank {want['bank']}")
        if acked_count[attempt_id] > 1:
            problem("doubled", f"attempt {attempt_id} answered {acked_count[attempt_id]} times")
        if len(done) > 1:
            problem("doubled", f"{len(done)} completions of learner {want['user']}")
        submitted = row[3] == "submitted" or row[4] is not None
        if submitted:
            result["graded"] += 1
            credits_ok = ans[1] == want["n"] and ans[2] == want["n"] and \
                abs(ans[3] - (row[4] or 0)) < 1e-6
            completion_ok = done == ([attempt_id] if want["passed"] else [])
            if row[3] != "submitted" or row[4] is None or row[7] is None:
                problem("lost", f"attempt {attempt_id} half submitted: {row[3:]}")
            elif abs(row[4] - want["score"]) > 1e-6 or bool(row[6]) != want["passed"] \
                    or not credits_ok or not completion_ok:
                problem("wrong", f"attempt {attempt_id}: score {row[4]} passed {row[6]} "
                                 f"answers {ans[1:]} completions {done}, expected "
                                 f"{want['score']} {want['passed']}")
            if attempt_id not in issued:
                problem("doubled", f"attempt {attempt_id} graded without a request")
            elif attempt_id not in acked_count:
                result["inflight_graded"] += 1
        else:
            untouched = ans[1] == want["n"] and ans[2] == 0 and not done and row[6] is None
            if attempt_id in acked_count:
                problem("lost", f"attempt {attempt_id} answered but still {row[3]}")
            elif not untouched:
                problem("wrong", f"open attempt {attempt_id} changed: answers {ans[1:]}, "
                                 f"completions {done}")
            elif attempt_id in issued:
                result["inflight_open"] += 1
            else:
                result["untouched"] += 1
    stray = set(acked_count) - set(pool.expected)
    if stray:
        problem("wrong", f"{len(stray)} redirects to attempts the bench did not make")
    # Nothing else changed: every table holds what it held plus what the bench inserted,
    # and one completion and one course certificate per passed attempt (the yearly serial
    # counter is one row however many certificates).
    passed = sum(1 for attempt_id, want in pool.expected.items() if want["passed"]
                 and rows.get(attempt_id) and rows[attempt_id][3] == "submitted")
    now = table_counts(pool.db_path)
    for table, before in pool.counts_before.items():
        if table in DERIVED_TABLES:
            continue
        per_pass = table in ("course_completions", "certificates")
        expect = before + pool.added.get(table, 0) + (passed if per_pass else 0)
        if table == "certificate_counters":
            expect = now.get(table) if now.get(table) in (before, before + 1) else before
        if now.get(table) != expect:
            problem("doubled" if now.get(table, 0) > expect else "lost",
                    f"table {table}: {now.get(table)} rows, expected {expect}")
    return result


# Kept in step with the tables above, one row per person and programme (upserted, so never
# doubled): what each learner holds is recounted when a certificate is issued.
DERIVED_TABLES = ("programme_progress",)


def _write_items(workdir, items, threads):
    """One Lua file per wrk thread: its slice of (path, Cookie, body); the slices."""
    slices = [items[t::threads] for t in range(threads)]
    for tid, part in enumerate(slices):
        lines = ["return {"]
        for attempt_id, cookie, token in part:
            body = "csrf_token=" + quote(token, safe="")
            for text in (cookie, body):
                if any(c in text for c in '"\\\n'):
                    raise RuntimeError(f"cannot quote {text[:40]} for Lua")
            lines.append(f'{{"/quiz/attempts/{attempt_id}/submit", "{cookie}", "{body}"}},')
        lines.append("}")
        (workdir / f"quiz-items-{tid}.lua").write_text("\n".join(lines), encoding="utf-8")
    return slices


def wrk_submit(port, workdir, items, threads, connections, seconds):
    """wrk POSTing each item's submit once; the stats (times in microseconds) with the ids
    issued (written to a connection) and acked (redirected to their result)."""
    slices = _write_items(workdir, items, threads)
    script = workdir / "quiz.lua"
    script.write_text(WRK_SCRIPT % {"dir": workdir, "agent": USER_AGENT}, encoding="utf-8")
    out = workdir / "quiz-result.json"
    out.unlink(missing_ok=True)
    done = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
         "-s", str(script), f"http://127.0.0.1:{port}/"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=seconds + 120,
        check=False)
    if not out.exists():
        raise RuntimeError(f"wrk exit {done.returncode}: {(done.stderr or done.stdout)[-200:]}")
    stats = json.loads(out.read_text(encoding="utf-8"))
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    issued, acked, codes, exhausted = set(), [], {}, 0
    for thread in stats["threads"]:
        issued.update(item[0] for item in slices[thread["tid"]][:thread["issued"]])
        acked += [int(i) for i in thread["graded"]]
        exhausted += thread["exhausted"]
        for code, count in thread["codes"].items():
            codes[code] = codes.get(code, 0) + count
    bad = sum(count for code, count in codes.items() if not code.startswith("3")
              or " " in code)
    stats.update(issued=issued, acked=acked, codes=codes, exhausted=exhausted,
                 sent=len(items), errors=bad + sum(
                     stats[k] for k in ("connect", "read", "write", "timeout")))
    return stats


def cpu_seconds(pids):
    """User + system CPU time of these processes so far, in seconds (from /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def verify_session(port, attempt_id, cookie, token):
    """The forged session on real requests: the attempt page as its learner, then its
    submit (CSRF checked) redirected to the result."""
    status, headers, body = request(port, "GET", f"/quiz/attempts/{attempt_id}",
                                    headers={"Cookie": cookie})
    location = dict((k.lower(), v) for k, v in headers).get("location", "")
    if status != 200:
        raise RuntimeError(f"forged session refused: GET /quiz/attempts/{attempt_id} -> "
                           f"{status} {location}")
    if any(k.lower() == "set-cookie" for k, _ in headers):
        raise RuntimeError("the forged session was rewritten (session protection?)")
    status, headers, _ = request(
        port, "POST", f"/quiz/attempts/{attempt_id}/submit",
        body="csrf_token=" + quote(token, safe=""),
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    location = dict((k.lower(), v) for k, v in headers).get("location", "")
    if status != 302 or f"/quiz/attempts/{attempt_id}/result" not in location:
        raise RuntimeError(f"forged submit refused: -> {status} {location}")


def diagnosis(workdir):
    """Rows from the workers' --diagnose measurements: per submit, where the wall time went."""
    merged = {"requests": 0, "wall": 0.0, "cpu": 0.0, "write_sql": 0.0, "commit": 0.0,
              "retry_sleep": 0.0, "statements": 0, "retries": {}}
    for path in sorted(workdir.glob("diag-*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for key, value in data.items():
            if key == "retries":
                for code, count in value.items():
                    merged["retries"][code] = merged["retries"].get(code, 0) + count
            else:
                merged[key] += value
    n = merged["requests"]
    if not n:
        return [_row("   diagnosis", "no worker wrote its measurements")]
    ms = {key: merged[key] * 1000 / n for key in ("wall", "cpu", "write_sql", "commit",
                                                  "retry_sleep")}
    retries = sum(merged["retries"].values())
    codes = ", ".join(f"{count:,} x code {code}" for code, count in
                      sorted(merged["retries"].items())) or "none"
    return [_row("   diagnosis: per submit in the workers",
                 f"{n:,} submits: wall {ms['wall']:.1f} ms = CPU {ms['cpu']:.1f} ms + waiting "
                 f"{ms['wall'] - ms['cpu']:.1f} ms; in write statements {ms['write_sql']:.1f} ms,"
                 f" in commit {ms['commit']:.1f} ms, retry sleeps {ms['retry_sleep']:.1f} ms; "
                 f"{merged['statements'] / n:.1f} statements; busy retries {retries:,} "
                 f"({retries / n:.2f} per submit: {codes})")]


def quiz_figures(workdir, smoke=False, diagnose=False):
    """Rows for bench.run: dicts with name, value, baseline, ratio, target, verdict.
    `diagnose`: the workers also measure where each submit's time goes (it costs a little:
    not for the figures of record)."""
    load = SMOKE if smoke else FULL
    conns, threads = load["connections"], load["threads"]
    name = f"e) quiz submissions ({conns} learners at once, gunicorn {WORKERS} workers)"
    target = f">= {RATE_TARGET} graded/s, 0 errors/lost/doubled"
    if shutil.which("wrk") is None:
        return [_row(name, "not available (no `wrk`: apt-get install wrk)", target=target,
                     verdict="not measured")]
    workdir = Path(workdir) / "quiz"
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = _env(workdir, port)
    if diagnose:
        config = workdir / "gunicorn_diagnose.py"
        config.write_text(DIAGNOSE_CONFIG % {"dir": str(workdir)}, encoding="utf-8")
        env["GUNICORN_CMD_ARGS"] = f"--config {config}"
    db_path = workdir / "http.sqlite3"
    rows, process, pool = [], None, None
    try:
        started = time.perf_counter()
        try:
            prepare(workdir, env)
            pool = Pool(env, db_path)
        except Unavailable as e:
            return [_row(name, f"not available ({e})", target=target, verdict="not measured")]
        probe = pool.probe()
        setup = time.perf_counter() - started
        process = start_gunicorn(workdir, env, port)
        verify_session(port, *probe)
        issued_all, acked_all = {probe[0]}, [probe[0]]
        cookie = probe[1]
        # Warm-up: /healthz, then submissions on attempts of their own, sized by /healthz
        # (a submission is never faster than a request that does nothing).
        warm_base = wrk(port, "/healthz", cookie, workdir, threads, conns, load["warmup"])
        making = time.perf_counter()
        items = pool.make(int(warm_base["rps"] * load["warmup"]))
        making = time.perf_counter() - making
        warm = wrk_submit(port, workdir, items, threads, conns, load["warmup"])
        issued_all |= warm["issued"]
        acked_all += warm["acked"]
        rate = warm["rps"]
        bases, runs = [], []
        for _round in range(load["rounds"]):
            bases.append(wrk(port, "/healthz", cookie, workdir, threads, conns,
                             load["seconds"]))
            items = pool.make(int(HEADROOM * max(rate, RATE_TARGET) * load["seconds"]))
            pids = worker_pids(process.pid)
            cpu = cpu_seconds(pids)
            run = wrk_submit(port, workdir, items, threads, conns, load["seconds"])
            time.sleep(0.3)  # requests in flight when wrk stopped finish on the server
            run["cpu"] = cpu_seconds(pids) - cpu
            run["graded_db"] = graded_among(db_path, [item[0] for item in items])
            run["graded_rps"] = run["graded_db"] / (run["duration_us"] / 1e6)
            rate = max(rate, run["rps"])
            issued_all |= run["issued"]
            acked_all += run["acked"]
            runs.append(run)
        time.sleep(0.5)
        result = check(pool, issued_all, acked_all)
        base = _median(bases)
        stats = sorted(runs, key=lambda r: r["graded_rps"])[len(runs) // 2]
        errors = sum(r["errors"] for r in runs) + warm["errors"]
        exhausted = sum(r["exhausted"] for r in runs) + warm["exhausted"]
        codes = {}
        for r in [warm, *runs]:
            for code, count in r["codes"].items():
                codes[code] = codes.get(code, 0) + count
        ok = errors == 0 and not exhausted and result["lost"] == 0 and \
            result["doubled"] == 0 and result["wrong"] == 0
        spread = ""
        if len(runs) > 1:
            values = sorted(r["graded_rps"] for r in runs)
            spread = f" (rounds: {values[0]:,.0f}–{values[-1]:,.0f})"
        flags = (f" ({errors:,} errors!)" if errors else "") + \
            (f" (a thread ran out of attempts {exhausted:,} times: invalid)" if exhausted else "")
        graded = sum(r["graded_db"] for r in runs)
        cpu_ms = sum(r["cpu"] for r in runs) * 1000 / max(graded, 1)
        busy = sum(r["cpu"] for r in runs) / (WORKERS * sum(r["duration_us"] / 1e6 for r in runs))
        rows += [
            _row(f"e) HTTP GET /healthz (gunicorn {WORKERS} workers, wrk {conns} conn)",
                 f"{base['rps']:,.0f} req/s, {_latency(base)}{_spread(bases)}"),
            _row(f"{name}, throughput",
                 f"{stats['graded_rps']:,.0f} graded/s in the DB, wrk {stats['rps']:,.0f} "
                 f"req/s{flags}{spread}",
                 f"{base['rps']:,.0f} req/s (/healthz)",
                 f"{stats['graded_rps'] / base['rps']:.0%}", target,
                 "meets" if stats["graded_rps"] >= RATE_TARGET and ok else "misses"),
            _row(f"{name}, latency", _latency(stats) + _spread(runs, "p95_us"),
                 f"{_latency(base)} (/healthz)", f"{stats['p95_us'] / base['p95_us']:.0f}x"),
            _row("   checked in the database afterwards",
                 f"lost {result['lost']}, doubled {result['doubled']}, wrong {result['wrong']}"
                 f"; {result['acked']:,} answered and graded once, "
                 f"{result['inflight_graded'] + result['inflight_open']} in flight at the stop "
                 f"({result['inflight_graded']} graded), {result['untouched']:,} never sent "
                 f"and untouched" + (f"; {'; '.join(result['problems'])}"
                                      if result["problems"] else ""),
                 target="0 lost, 0 doubled", verdict="meets" if result["lost"] == 0 and
                 result["doubled"] == 0 and result["wrong"] == 0 else "misses"),
            _row("   the submissions measured",
                 f"{sum(r['requests'] for r in runs):,} in {len(runs)} rounds of "
                 f"{load['seconds']} s (+{warm['requests']:,} warm-up), "
                 f"{len(pool.expected):,} attempts of "
                 f"{pool.learners:,} learners × {len(pool.banks)} banks prepared; statuses "
                 + ", ".join(f"{c}: {n:,}" for c, n in sorted(codes.items()))),
            _row("   gunicorn workers' CPU per graded submission",
                 f"{cpu_ms:.1f} ms (the workers busy {busy:.0%} of the rounds' time)"),
            _row("   instance set-up (db upgrade, sync-content, demo; learners, attempts)",
                 f"{setup:.1f} s; {len(items):,} attempts made in {making:.1f} s"),
        ]
    except Exception as e:  # noqa: BLE001  (a broken server is a row, not a crashed bench)
        rows.append(_row("e) quiz submissions", f"failed: {e}"[:200], verdict="failed"))
    finally:
        stop_gunicorn(process)
        if pool is not None:
            pool.close()
    if diagnose and process is not None:
        rows += diagnosis(workdir)
    return rows


# Profile: the submit path in process ---------------------------------------------------------

def profile(workdir, count=300, top=30):
    """Submit `count` attempts through the Flask test client (production config, same
    instance as the figures), timing /healthz and the submit, then under cProfile."""
    import cProfile
    import pstats

    workdir = Path(workdir) / "quiz"
    workdir.mkdir(parents=True, exist_ok=True)
    env = _env(workdir, free_port())
    prepare(workdir, env)
    pool = Pool(env, workdir / "http.sqlite3")
    items = pool.make(count * 2 + 20)
    app = pool.app
    client = app.test_client()

    def submit(item):
        attempt_id, cookie, token = item
        client.set_cookie(pool.cookie_name, cookie.split("=", 1)[1])
        response = client.post(f"/quiz/attempts/{attempt_id}/submit",
                               data={"csrf_token": token},
                               headers={"User-Agent": USER_AGENT},
                               environ_base={"REMOTE_ADDR": "127.0.0.1"})
        if response.status_code != 302:
            raise RuntimeError(f"submit -> {response.status_code}")

    def healthz():
        client.get("/healthz", headers={"User-Agent": USER_AGENT})

    for item in items[:20]:
        submit(item)
    times = {"healthz": [], "submit": []}
    for item in items[20:20 + count]:
        start = time.perf_counter()
        healthz()
        times["healthz"].append(time.perf_counter() - start)
        start = time.perf_counter()
        submit(item)
        times["submit"].append(time.perf_counter() - start)
    for key, values in times.items():
        print(f"{key}: median {statistics.median(values) * 1000:.2f} ms over {len(values)}")
    profiler = cProfile.Profile()
    profiler.enable()
    for item in items[20 + count:]:
        submit(item)
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs().sort_stats("cumulative")
    stats.print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    # Where the submit's own time goes, one level down.
    stats.sort_stats("cumulative").print_callees(
        r"views.py:\d+\(submit\)|services.py:\d+\(_submit\)|grade_attempt|complete_course"
        r"|decorated_view|full_dispatch_request")
    pool.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no timing claims")
    parser.add_argument("--diagnose", action="store_true",
                        help="the workers also measure where each submit's time goes")
    parser.add_argument("--profile", action="store_true",
                        help="the submit path in process, with cProfile (no server)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lms-bench-quiz-") as tmp:
        if args.profile:
            profile(tmp)
            return 0
        for row in quiz_figures(tmp, smoke=args.smoke, diagnose=args.diagnose):
            print(" | ".join(row.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
