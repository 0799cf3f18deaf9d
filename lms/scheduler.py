"""The scheduler: `flask lms scheduler` runs the periodic jobs (weekly snapshot, digest and
reminders, expiry reminders, the outbox sender, the large units' figures) as one process of
its own, never inside a web worker; `flask lms run-job JOB` runs one of them now.

Each job has an id, a crontab schedule in the app's time zone (SCHEDULE, TIMEZONE) and a grace
period (SCHEDULE_GRACE). APScheduler keeps its jobs in memory, so it cannot know what was missed
while no scheduler ran: each successful run is recorded in `scheduler-state.json` in the
instance folder. On start, a job whose latest time since its recorded run is at most its grace
period old runs once, at once (missed_run); older times are not made up for. Runs are
coalesced (late runs of a job make one) and a job never runs twice at the same time.

Two schedulers at once double nothing: every job that sends something queues it in the
outbox under a unique (kind, period, recipient) key, senders claim different rows, and the
snapshot records a week once (lms.notify.outbox, lms.reports.services)."""

import json
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import current_app
from flask.cli import with_appcontext

from lms.audit.services import record_event
from lms.config import Defaults
from lms.extensions import db
from lms.reports.services import record_snapshots, refresh_figures, week_of

STATE_FILE = "scheduler-state.json"
log = logging.getLogger(__name__)  # a child of the app logger ("lms")
_state_lock = threading.Lock()  # the jobs of one process record their runs one at a time


# The jobs: each takes the local date of the run it serves, commits its work and says what it
# did. The notification modules are imported when a job runs.

def snapshot_job(today):
    """Record this week's figures of every unit (a second run in the week adds nothing)."""
    week = week_of(today).isoformat()
    recorded = record_snapshots(today)
    record_event("snapshot_recorded", object_type="snapshots", week=week, recorded=recorded,
                 rebuilt=0, via="scheduler")
    db.session.commit()
    return f"week of {week}: {recorded} unit figures recorded"


def refresh_figures_job(_today):
    """Count the units' figures for the large subtrees' dashboards (for the real today, which
    is what readers look them up by; refresh_figures commits them)."""
    return f"{refresh_figures(datetime.now(local_zone()).date())} unit figures counted and kept"


def digest_job(today):
    """Queue the weekly digest of the week of `today` to every unit head."""
    from lms.notify.digests import queue_digests

    run = queue_digests(week_of(today), today=today)
    db.session.commit()
    return (f"digests for {run.period}: {run.queued} queued, {run.skipped_already} already "
            f"queued, {run.without_email} heads without an email")


def reminders_job(today):
    """Queue this week's reminders to learners whose deadline is near or past."""
    from lms.notify.reminders import queue_reminders

    count = queue_reminders(today)
    db.session.commit()
    return f"{count} training reminders queued"


def expiry_job(today):
    """Queue a reminder for each certificate about to expire."""
    from lms.notify.reminders import queue_expiry_reminders

    count = queue_expiry_reminders(today)
    db.session.commit()
    return f"{count} expiry reminders queued"


def refreshers_job(_today):
    """Queue the invitations to a refresher of holders whose certificate expired or whose
    course asks to retrain (each certificate once)."""
    from lms.certificates.refreshers import invite_refreshers

    people, certificates = invite_refreshers()
    return f"{people} people invited to a refresher ({certificates} certificates)"


def outbox_job(_today):
    """Send the due emails of the outbox, a batch at a time until none is due (send_due
    commits each outcome)."""
    from lms.notify.outbox_commands import send_all

    result = send_all()
    return (f"{result.sent} sent, {result.retried} to retry later, {result.failed} failed, "
            f"{result.cancelled} cancelled")


@dataclass(frozen=True)
class Job:
    id: str
    run: Callable[[date], str]
    title: str


JOBS = {job.id: job for job in (
    Job("snapshot", snapshot_job, "record the weekly snapshot of every unit"),
    Job("digest", digest_job, "queue the weekly digest to unit heads"),
    Job("reminders", reminders_job, "queue the weekly reminders to learners"),
    Job("expiry", expiry_job, "queue the certificate expiry reminders"),
    Job("refreshers", refreshers_job, "queue the refresher invitations"),
    Job("outbox", outbox_job, "send the due emails of the outbox"),
    Job("refresh_figures", refresh_figures_job, "count the figures of the large units"),
)}
_running = {job_id: threading.Lock() for job_id in JOBS}  # held while the job runs here


# Configuration -----------------------------------------------------------------------------

class ScheduleError(ValueError):
    """A schedule setting that cannot be used."""


def local_zone(config=None):
    """The configured time zone (TIMEZONE)."""
    name = (config or current_app.config)["TIMEZONE"]
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"TIMEZONE: unknown time zone {name!r}") from None


def _settings(config, key):
    """The defaults of a per-job setting with the configured values over them."""
    merged = {**getattr(Defaults, key), **(config.get(key) or {})}
    unknown = sorted(set(merged) - set(JOBS))
    if unknown:
        raise ScheduleError(f"{key}: no job called {', '.join(unknown)} "
                            f"(the jobs: {', '.join(JOBS)})")
    return merged


def schedules(config):
    """{job id: crontab line, or None when switched off} of every job."""
    return {job_id: (line or "").strip() or None
            for job_id, line in _settings(config, "SCHEDULE").items()}


def grace_seconds(config, job_id):
    """How late (in seconds) a run of the job may still start."""
    value = _settings(config, "SCHEDULE_GRACE")[job_id]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 1:
        raise ScheduleError(f"SCHEDULE_GRACE[{job_id!r}]: expected seconds, got {value!r}")
    return int(value)


def triggers(config):
    """{job id: CronTrigger} of the jobs switched on."""
    zone = local_zone(config)
    found = {}
    for job_id, line in schedules(config).items():
        if line is None:
            continue
        fields = line.split()
        if len(fields) == 5 and any(c.isdigit() for c in fields[4]):
            raise ScheduleError(f"SCHEDULE[{job_id!r}]: name the days of the week (mon ... "
                                f"sun) in {line!r}")
        try:
            found[job_id] = CronTrigger.from_crontab(line, timezone=zone)
        except ValueError as exc:
            raise ScheduleError(f"SCHEDULE[{job_id!r}]: {line!r}: {exc}") from None
    return found


# Missed runs -------------------------------------------------------------------------------

def missed_run(trigger, last_run, now, grace):
    """The latest time of the trigger after `last_run` and before `now` if it is at most
    `grace` seconds old: the one run to make up for (None: nothing to make up for, because
    the job never ran here, ran since, or its time is too long past)."""
    if last_run is None:
        return None
    start = max(last_run + timedelta(microseconds=1), now - timedelta(seconds=grace))
    latest = None
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire < now:
        latest = fire
        fire = trigger.get_next_fire_time(None, fire + timedelta(microseconds=1))
    return latest


def state_path(app):
    """The file that keeps each job's last run (instance/scheduler-state.json)."""
    return Path(app.instance_path) / STATE_FILE


def read_state(path):
    """{job id: when it last ran} as kept in the file (empty when there is none)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError:
        log.warning("%s is not valid JSON: every job counts as never run", path)
        return {}
    state = {}
    for job_id, text in raw.items() if isinstance(raw, dict) else ():
        with suppress(TypeError, ValueError):
            when = datetime.fromisoformat(text)
            if when.tzinfo is not None:  # a time edited in by hand without its offset: unknown
                state[job_id] = when
    return state


def write_state(path, state):
    """Replace the file with `state` in one step (a reader sees the old or the new one)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({job_id: when.isoformat() for job_id, when in sorted(state.items())},
                      f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)


def record_run(path, job_id, when):
    """Keep `when` as the job's last run."""
    with _state_lock:
        state = read_state(path)
        state[job_id] = when
        write_state(path, state)


# Running -----------------------------------------------------------------------------------

def run_job(app, job_id, fire_time=None):
    """Run a job once, now, in an app context of its own, for the run due at `fire_time`
    (default: now); log its start and end or its exception, which goes no further. Returns
    what it did, or None when it failed or was still running."""
    # APScheduler keeps a job's own runs apart; this also keeps a made-up run apart from them.
    if not _running[job_id].acquire(blocking=False):
        app.logger.warning("job %s is still running: this run is skipped", job_id)
        return None
    try:
        return _run(app, job_id, fire_time)
    finally:
        _running[job_id].release()


def _run(app, job_id, fire_time):
    started = time.perf_counter()
    app.logger.info("job %s started", job_id)
    try:
        now = datetime.now(local_zone(app.config))
        today = (fire_time or now).astimezone(now.tzinfo).date()
        with app.app_context():
            summary = JOBS[job_id].run(today)
        record_run(state_path(app), job_id, now)
    except Exception:
        app.logger.exception("job %s failed after %.1f s", job_id, time.perf_counter() - started)
        return None
    app.logger.info("job %s done in %.1f s: %s", job_id, time.perf_counter() - started, summary)
    return summary


def build_scheduler(app, scheduler_class=BlockingScheduler, now=None):
    """A scheduler with every job switched on, plus a run at once of each job that missed
    its latest time within its grace period."""
    zone = local_zone(app.config)
    now = now or datetime.now(zone)
    scheduler = scheduler_class(timezone=zone,
                                job_defaults={"coalesce": True, "max_instances": 1})
    state = read_state(state_path(app))
    for job_id, trigger in triggers(app.config).items():
        grace = grace_seconds(app.config, job_id)
        scheduler.add_job(run_job, trigger, args=(app, job_id), id=job_id,
                          name=JOBS[job_id].title, misfire_grace_time=grace)
        missed = missed_run(trigger, state.get(job_id), now, grace)
        if missed is not None:
            app.logger.info("job %s missed its run of %s: running it now", job_id,
                            missed.isoformat(timespec="minutes"))
            scheduler.add_job(run_job, "date", run_date=now, args=(app, job_id, missed),
                              id=f"{job_id}:missed", name=JOBS[job_id].title,
                              misfire_grace_time=grace)
    return scheduler


def describe_jobs(app, now=None):
    """One line per job: id, schedule, next run in the app's time zone, grace, last run."""
    zone = local_zone(app.config)
    now = now or datetime.now(zone)
    on = triggers(app.config)
    last = read_state(state_path(app))
    lines = [f"time zone {zone.key}"]
    for job_id, line in schedules(app.config).items():
        if job_id not in on:
            lines.append(f"{job_id:<16} {'off':<14} {JOBS[job_id].title}")
            continue
        upcoming = on[job_id].get_next_fire_time(None, now)
        ran = f"{last[job_id].astimezone(zone):%Y-%m-%d %H:%M}" if job_id in last else "never"
        lines.append(f"{job_id:<16} {line:<14} next {upcoming:%a %Y-%m-%d %H:%M}  "
                     f"grace {grace_seconds(app.config, job_id):>5} s  last {ran:<16}  "
                     f"{JOBS[job_id].title}")
    return lines


# Commands ----------------------------------------------------------------------------------

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stop(Exception):
    """Raised in the main thread by SIGTERM or SIGINT to leave the scheduler's loop."""


def _stop(signum, _frame):
    # Only raise here: shutting down inside a signal handler can deadlock on a lock the
    # interrupted main thread holds. Once is enough (Ctrl-C, then `make run` stopping us).
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    raise Stop(signal.Signals(signum).name)


@click.command("scheduler")
@click.option("--list", "list_jobs", is_flag=True,
              help="Print each job, its schedule and its next run, and exit.")
@with_appcontext
def scheduler_command(list_jobs):
    """Run the scheduled jobs until stopped (one process; never inside the web server)."""
    app = current_app._get_current_object()
    try:
        if list_jobs:
            click.echo("\n".join(describe_jobs(app)))
            return
        scheduler = build_scheduler(app)
    except ScheduleError as exc:
        raise click.ClickException(str(exc)) from None
    if app.logger.level == logging.NOTSET:  # the scheduler's log says what it does
        app.logger.setLevel(logging.INFO)
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop)
    app.logger.info("scheduler started (%s): %s", scheduler.timezone,
                    ", ".join(job.id for job in scheduler.get_jobs()) or "no job switched on")
    try:
        scheduler.start()
    except Stop as stop:
        app.logger.info("scheduler stopping (%s): the running jobs finish first", stop)
        scheduler.shutdown(wait=True)
    app.logger.info("scheduler stopped")


def _job_id(_ctx, _param, value):
    job_id = value.replace("-", "_")
    if job_id not in JOBS:
        raise click.BadParameter(f"{value!r}: the jobs are {', '.join(JOBS)}")
    return job_id


@click.command("run-job")
@click.argument("job_id", metavar="JOB", callback=_job_id)
@with_appcontext
def run_job_command(job_id):
    """Run one scheduled job now, once (snapshot, digest, reminders, expiry, outbox,
    refresh_figures)."""
    summary = run_job(current_app._get_current_object(), job_id)
    if summary is None:
        raise click.ClickException(f"job {job_id} failed (the log above says why)")
    click.echo(f"{job_id}: {summary}")
