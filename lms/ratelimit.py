"""Rate limits kept in the database, so that every worker and process shares the counts.

A rule of config RATE_LIMITS allows `hits` requests per `seconds` to one client (an address,
a token, a login) in a fixed window: the first request opens the window, the next ones count
in it, and once it is over the next request opens a new one. Each request is counted by one
atomic upsert, in a short transaction of its own committed at once."""

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps

from flask import current_app, jsonify, make_response, render_template
from flask_babel import ngettext
from sqlalchemy import String, case, delete, select
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.exceptions import TooManyRequests

from lms.extensions import db
from lms.org.models import utcnow
from lms.sql import begin_write, upsert
from lms.web import client_ip

# One hit in this many also deletes the windows long over: no job to schedule, and the
# table stays about as large as the set of clients seen within the longest window.
PRUNE_ONE_IN = 100
KEY_LENGTH = 200


class RateLimit(db.Model):
    """The current window of one client under one rule, and the requests counted in it."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(index=True)  # for prune()
    hits: Mapped[int]


@dataclass(frozen=True)
class Decision:
    """Whether the request may be served; if not, the seconds until it may (Retry-After)."""

    allowed: bool
    retry_after: int = 0


ALLOWED = Decision(True)


def hit(key, limit, per_seconds, now=None) -> Decision:
    """Count one request under `key`, allowing `limit` per `per_seconds`.

    Commits the session (call it before changing anything): the count must stay even when
    the request then fails, and a short transaction keeps the row locked (PostgreSQL) or the
    SQLite write lock held only for the one statement. A request that held the write lock
    (a POST) holds it again afterwards."""
    now = now or utcnow()
    session = db.session()
    if session.new or session.deleted or any(session.is_modified(o) for o in session.dirty):
        raise RuntimeError("count the request before changing anything: hit() commits")
    writer = session.in_transaction() and session.connection().get_execution_options().get(
        "sqlite_begin") == "IMMEDIATE"
    # What the request loaded stays loaded: the hit changes none of it.
    keep, session.expire_on_commit = session.expire_on_commit, False
    try:
        if session.in_transaction():
            session.commit()  # a read begun (the signed-in user): the hit starts afresh
        begin_write()  # on SQLite a GET would otherwise fail with "database is locked"
        start, hits = session.execute(_count(key[:KEY_LENGTH], now, per_seconds)).one()
        if secrets.randbelow(PRUNE_ONE_IN) == 0:
            prune(now, per_seconds)
        session.commit()
    finally:
        session.expire_on_commit = keep
    if writer:
        begin_write()
    return _decision(start, hits, limit, per_seconds, now)


def _count(key, now, per_seconds):
    """INSERT ... ON CONFLICT DO UPDATE ... RETURNING: a window opened, or one more hit."""
    table = RateLimit.__table__
    statement = upsert(table).values(key=key, window_start=now, hits=1)
    over = table.c.window_start <= now - timedelta(seconds=per_seconds)
    return statement.on_conflict_do_update(index_elements=[table.c.key], set_={
        "window_start": case((over, statement.excluded.window_start),
                             else_=table.c.window_start),
        "hits": case((over, 1), else_=table.c.hits + 1),
    }).returning(table.c.window_start, table.c.hits)


def _decision(start, hits, limit, per_seconds, now):
    if hits <= limit:
        return ALLOWED
    wait = (start + timedelta(seconds=per_seconds) - now).total_seconds()
    return Decision(False, max(1, math.ceil(wait)))


def peek(key, limit, per_seconds, now=None) -> Decision:
    """Whether the next hit under `key` would be refused, without counting it."""
    now = now or utcnow()
    row = db.session.execute(select(RateLimit.window_start, RateLimit.hits)
                             .where(RateLimit.key == key[:KEY_LENGTH])).first()
    if row is None or row.window_start <= now - timedelta(seconds=per_seconds):
        return ALLOWED
    return _decision(row.window_start, row.hits + 1, limit, per_seconds, now)


def prune(now=None, per_seconds=0):
    """Delete the windows over for every rule (the longest configured, or `per_seconds`)."""
    now = now or utcnow()
    longest = max([per_seconds, *(rule(name)[1] for name in current_app.config["RATE_LIMITS"])])
    db.session.execute(delete(RateLimit).where(
        RateLimit.window_start <= now - timedelta(seconds=longest)))


def rule(name):
    """(hits, seconds) of the rule `name` of config RATE_LIMITS: a pair, or "hits/seconds"
    as given in the environment (LMS_RATE_LIMITS__verify=120/60)."""
    value = current_app.config["RATE_LIMITS"][name]
    hits, seconds = (int(part) for part in (value.split("/") if isinstance(value, str)
                                            else value))
    return hits, seconds


def check(name, who, now=None) -> Decision:
    """Count one request of `who` (an address, a token, a login) under the rule `name`."""
    if not current_app.config["RATE_LIMITS_ENABLED"]:
        return ALLOWED
    return hit(f"{name}:{who}", *rule(name), now=now)


def check_without_counting(name, who, now=None) -> Decision:
    """Whether `who` has used up the rule `name` (refused already), without counting."""
    if not current_app.config["RATE_LIMITS_ENABLED"]:
        return ALLOWED
    return peek(f"{name}:{who}", *rule(name), now=now)


def login_key(text):
    """The client name of a login, for check(): a digest, so no login is stored."""
    return hashlib.sha256(text.strip().lower().encode()).hexdigest()[:32]


def wait_message(seconds):
    """"Too many requests. Try again in N seconds/minutes.", in the user's language."""
    if seconds <= 90:
        return ngettext("Too many requests. Try again in %(num)d second.",
                        "Too many requests. Try again in %(num)d seconds.", seconds)
    return ngettext("Too many requests. Try again in %(num)d minute.",
                    "Too many requests. Try again in %(num)d minutes.", math.ceil(seconds / 60))


def too_many(decision, as_json=False):
    """The 429 answer with its Retry-After: the error page, or JSON shaped like the API's
    errors (its message in English, as theirs)."""
    wait = decision.retry_after
    if as_json:
        response = jsonify({"error": "Too Many Requests", "status": 429, "retry_after": wait,
                            "message": f"Too many requests. Try again in {wait} seconds."})
    else:
        response = make_response(render_template("errors/error.html", error=TooManyRequests(),
                                                 message=wait_message(wait)))
    response.status_code = 429
    response.headers["Retry-After"] = str(wait)
    return response


def limited(name, who=client_ip, as_json=False):
    """Serve the view only while the client (by default its address) is within the rule
    `name`; a 429 otherwise, as JSON when `as_json` (a bool, or a function of the request)."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            decision = check(name, who())
            if not decision.allowed:
                return too_many(decision, as_json() if callable(as_json) else as_json)
            return view(*args, **kwargs)
        return wrapper
    return decorate
