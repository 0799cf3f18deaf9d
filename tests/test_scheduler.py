"""The scheduler: its jobs and their schedules, making up for runs missed while it was down,
its state file, failing jobs, `lms run-job` and `lms scheduler` (for real, until stopped)."""

import logging
import os
import signal
import threading
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select

from lms import create_app, scheduler
from lms.audit.models import AuditEvent
from lms.config import Defaults
from lms.courses.models import ProgrammeAssignment
from lms.reports.models import UnitSnapshot
from lms.reports.services import week_of
from lms.scheduler import (
    JOBS,
    ScheduleError,
    build_scheduler,
    grace_seconds,
    missed_run,
    read_state,
    run_job,
    triggers,
    write_state,
)
from tests.course_factories import make_course, make_programme

VN = ZoneInfo("Asia/Ho_Chi_Minh")
TUESDAY = datetime(2026, 11, 24, 10, 0, 30, tzinfo=VN)
HOURS = 3600


def vn(day, hour=0, minute=0, second=0, micro=0):
    """A time in Hanoi in November 2026."""
    return datetime(2026, 11, day, hour, minute, second, micro, tzinfo=VN)


@pytest.fixture
def instance(app, tmp_path, monkeypatch):
    """A private instance folder (where the scheduler keeps its state) for one test."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    return tmp_path


def _fake_job(monkeypatch, job_id, run):
    monkeypatch.setitem(JOBS, job_id, replace(JOBS[job_id], run=run))


# Jobs and schedules ------------------------------------------------------------------------

def test_the_jobs_run_on_their_default_schedules_in_hanoi_time(app):
    found = triggers(app.config)
    assert list(found) == ["snapshot", "digest", "reminders", "expiry", "refreshers",
                           "outbox", "refresh_figures"]
    assert {str(trigger.timezone) for trigger in found.values()} == {"Asia/Ho_Chi_Minh"}
    upcoming = {job_id: trigger.get_next_fire_time(None, TUESDAY)
                for job_id, trigger in found.items()}
    assert upcoming == {
        "snapshot": vn(29, 23),  # Sunday 23:00
        "digest": vn(30, 7),  # Monday 07:00
        "reminders": vn(30, 8),  # Monday 08:00
        "expiry": vn(25, 6),  # every day at 06:00
        "refreshers": vn(25, 6, 30),  # every day at 06:30
        "outbox": vn(24, 10, 1),  # every minute
        "refresh_figures": vn(24, 10, 5),  # every 5 minutes
    }
    assert grace_seconds(app.config, "digest") == 24 * HOURS
    assert grace_seconds(app.config, "snapshot") == 72 * HOURS
    assert grace_seconds(app.config, "outbox") == 60


def test_config_changes_a_schedule_and_switches_a_job_off(app, monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULE", {"snapshot": "0 22 * * sat", "digest": ""})
    monkeypatch.setitem(app.config, "SCHEDULE_GRACE", {"snapshot": 2 * HOURS})
    found = triggers(app.config)
    assert "digest" not in found
    assert found["snapshot"].get_next_fire_time(None, TUESDAY) == vn(28, 22)
    assert found["reminders"].get_next_fire_time(None, TUESDAY) == vn(30, 8)  # untouched
    assert grace_seconds(app.config, "snapshot") == 2 * HOURS
    assert grace_seconds(app.config, "expiry") == 12 * HOURS


def test_instance_config_and_environment_override_schedules(tmp_path, monkeypatch):
    defaults = dict(Defaults.SCHEDULE), dict(Defaults.SCHEDULE_GRACE)
    (tmp_path / "config.py").write_text('SCHEDULE = {"reminders": "30 9 * * mon"}\n')
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("LMS_SCHEDULE__snapshot", "0 22 * * sun")
    monkeypatch.setenv("LMS_SCHEDULE__digest", "")
    monkeypatch.setenv("LMS_SCHEDULE_GRACE__outbox", "120")
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    found = triggers(app.config)
    assert "digest" not in found
    assert found["snapshot"].get_next_fire_time(None, TUESDAY) == vn(29, 22)
    assert found["reminders"].get_next_fire_time(None, TUESDAY) == vn(30, 9, 30)
    assert found["expiry"].get_next_fire_time(None, TUESDAY) == vn(25, 6)
    assert grace_seconds(app.config, "outbox") == 120
    # The overrides are this app's: the defaults (and the next app) keep their own.
    assert defaults == (Defaults.SCHEDULE, Defaults.SCHEDULE_GRACE)


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("SCHEDULE", {"snapshot": "0 23 * * 0"}, "name the days of the week"),
    ("SCHEDULE", {"snapshots": "0 23 * * sun"}, "no job called snapshots"),
    ("SCHEDULE", {"digest": "0 7 * mon"}, "Wrong number of fields"),
    ("SCHEDULE_GRACE", {"outbox": "soon"}, "expected seconds"),
])
def test_unusable_settings_are_refused_with_the_setting_named(app, runner, monkeypatch,
                                                              setting, value, message):
    monkeypatch.setitem(app.config, setting, value)
    with pytest.raises(ScheduleError, match=message):
        [grace_seconds(app.config, job_id) for job_id in triggers(app.config)]
    result = runner.invoke(args=["lms", "scheduler", "--list"])
    assert result.exit_code == 1
    assert setting in result.output


# Missed runs -------------------------------------------------------------------------------

WEEKLY = CronTrigger.from_crontab("0 23 * * sun", timezone=VN)
EVERY_MINUTE = CronTrigger.from_crontab("* * * * *", timezone=VN)


@pytest.mark.parametrize(("trigger", "last_run", "now", "grace", "expected"), [
    pytest.param(WEEKLY, None, vn(30, 1), 6 * HOURS, None, id="never ran"),
    pytest.param(WEEKLY, vn(29, 23, 0, 2), vn(30, 1), 6 * HOURS, None,
                 id="ran after its latest time"),
    pytest.param(WEEKLY, vn(22, 23, 0, 2), vn(29, 22), 6 * HOURS, None,
                 id="ran last week, this week's time still to come"),
    pytest.param(WEEKLY, vn(22, 23, 0, 2), vn(30, 1), 6 * HOURS, vn(29, 23),
                 id="missed within the grace period: run once"),
    pytest.param(WEEKLY, vn(22, 23, 0, 2), vn(30, 5), 6 * HOURS, vn(29, 23),
                 id="missed exactly the grace period ago: run once"),
    pytest.param(WEEKLY, vn(22, 23, 0, 2), vn(30, 5, 0, 1), 6 * HOURS, None,
                 id="missed beyond the grace period: wait for next week"),
    pytest.param(WEEKLY, vn(1, 23, 0, 2), vn(30, 1), 6 * HOURS, vn(29, 23),
                 id="several weeks missed: the latest once"),
    pytest.param(EVERY_MINUTE, vn(24, 10, 0, 0, 500), vn(24, 10, 5, 30), 60,
                 vn(24, 10, 5), id="several minutes missed: the latest once"),
    pytest.param(EVERY_MINUTE, vn(24, 10, 4, 0, 500), vn(24, 10, 5), 60, None,
                 id="due right now: the regular run takes it"),
])
def test_missed_run(trigger, last_run, now, grace, expected):
    assert missed_run(trigger, last_run, now, grace) == expected


def test_a_first_start_makes_up_for_nothing_and_runs_never_pile_up(app, instance):
    started = build_scheduler(app, BackgroundScheduler)
    started.start(paused=True)
    try:
        jobs = {job.id: job for job in started.get_jobs()}
    finally:
        started.shutdown()
    assert sorted(jobs) == sorted(JOBS)  # no ":missed" run
    assert (jobs["outbox"].misfire_grace_time, jobs["snapshot"].misfire_grace_time) == (
        60, 72 * HOURS)
    assert all(job.coalesce and job.max_instances == 1 for job in jobs.values())


def test_a_start_makes_up_for_a_run_missed_within_its_grace(app, instance):
    write_state(instance / "scheduler-state.json", dict.fromkeys(JOBS, vn(22, 23, 0, 2)))
    started = build_scheduler(app, now=vn(30, 1))
    extra = {job.id: job.args[2] for job in started.get_jobs() if ":" in job.id}
    # Sunday's 23:00 snapshot and the latest outbox and figures runs are made up for once;
    # last Monday's digest and Sunday's 06:00 expiry run are too long past.
    assert extra == {"snapshot:missed": vn(29, 23), "outbox:missed": vn(30, 0, 59),
                     "refresh_figures:missed": vn(30, 0, 55)}


# The state file ----------------------------------------------------------------------------

def test_the_state_file_is_replaced_whole_and_read_back(tmp_path, monkeypatch, caplog):
    path = tmp_path / "scheduler-state.json"
    assert read_state(path) == {}
    state = {"snapshot": vn(29, 23, 0, 2), "outbox": vn(30, 9, 1, 0, 3)}
    write_state(path, state)
    assert read_state(path) == state
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: replaced.append(
        (os.path.dirname(src), Path(src).read_text())) or real_replace(src, dst))
    with pytest.raises(AttributeError):
        write_state(path, {"snapshot": "not a time"})  # fails while writing the new file
    assert read_state(path) == state  # the old file is intact
    write_state(path, {"digest": vn(30, 7)})
    assert replaced == [(str(tmp_path), path.read_text())]  # written in full, then renamed
    assert os.listdir(tmp_path) == ["scheduler-state.json"]  # no temporary file left
    path.write_text("{half a fi")
    with caplog.at_level(logging.WARNING):
        assert read_state(path) == {}
    assert "not valid JSON" in caplog.text


# Running jobs ------------------------------------------------------------------------------

def test_a_failing_job_is_logged_and_goes_no_further(app, instance, monkeypatch, caplog):
    def broken(today):
        raise RuntimeError("the SMTP server is on fire")

    _fake_job(monkeypatch, "outbox", broken)
    with caplog.at_level(logging.INFO, logger="lms"):
        assert run_job(app, "outbox") is None
    failure = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert failure.getMessage().startswith("job outbox failed")
    assert "the SMTP server is on fire" in caplog.text  # with its traceback
    assert "outbox" not in read_state(instance / "scheduler-state.json")  # tried again later

    _fake_job(monkeypatch, "outbox", lambda today: "3 sent")
    with caplog.at_level(logging.INFO, logger="lms"):
        assert run_job(app, "outbox") == "3 sent"
    assert "job outbox done" in caplog.text
    assert "outbox" in read_state(instance / "scheduler-state.json")


def test_a_job_still_running_is_not_started_twice(app, instance, monkeypatch, caplog):
    started, release = threading.Event(), threading.Event()

    def slow(today):
        started.set()
        release.wait(5)
        return "done"

    _fake_job(monkeypatch, "outbox", slow)
    first = threading.Thread(target=run_job, args=(app, "outbox"))
    first.start()
    started.wait(5)
    with caplog.at_level(logging.WARNING, logger="lms"):
        assert run_job(app, "outbox", vn(24, 10)) is None  # e.g. a made-up run meanwhile
    release.set()
    first.join(5)
    assert "job outbox is still running: this run is skipped" in caplog.text
    assert run_job(app, "outbox") == "done"


def test_run_job_snapshot_records_this_weeks_snapshots(db, org, users, runner, instance):
    programme = make_programme("basic", [make_course("one", 1)])
    db.session.add(ProgrammeAssignment(programme=programme, unit=org["province"]))
    db.session.commit()
    result = runner.invoke(args=["lms", "run-job", "snapshot"])
    assert result.exit_code == 0, result.output
    week = week_of(datetime.now(VN).date())
    assert f"snapshot: week of {week.isoformat()}: 5 unit figures recorded" in result.output
    assert db.session.scalar(select(func.count(UnitSnapshot.id))
                             .where(UnitSnapshot.week == week)) == 5
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "snapshot_recorded"))
    assert event.detail["via"] == "scheduler"
    assert "snapshot" in read_state(instance / "scheduler-state.json")


def test_run_job_reports_a_failure_and_knows_its_jobs(runner, instance, monkeypatch):
    _fake_job(monkeypatch, "refresh_figures", lambda today: 1 / 0)
    result = runner.invoke(args=["lms", "run-job", "refresh-figures"])
    assert result.exit_code == 1
    assert "job refresh_figures failed" in result.output
    result = runner.invoke(args=["lms", "run-job", "backup"])
    assert result.exit_code == 2
    assert "the jobs are snapshot, digest" in result.output


def test_a_snapshot_missed_on_sunday_and_made_up_on_monday_is_sunday_s_week(app, instance,
                                                                            monkeypatch):
    weeks = []
    monkeypatch.setattr(scheduler, "record_snapshots", lambda today: weeks.append(today) or 0)
    run_job(app, "snapshot", fire_time=vn(29, 23))
    assert weeks == [date(2026, 11, 29)]


def test_the_notification_jobs_call_their_services(app, instance, monkeypatch):
    from lms.notify import digests, outbox_commands, reminders
    from lms.notify.outbox import SendResult

    calls = []
    monkeypatch.setattr(digests, "queue_digests", lambda monday, today: calls.append(
        ("digest", monday, today)) or digests.DigestRun("2026-W49", heads=2, queued=2))
    monkeypatch.setattr(reminders, "queue_reminders",
                        lambda today: calls.append(("reminders", today)) or 7)
    monkeypatch.setattr(reminders, "queue_expiry_reminders",
                        lambda today: calls.append(("expiry", today)) or 1)
    monkeypatch.setattr(outbox_commands, "send_all", lambda: SendResult(sent=4, retried=1))
    monday = vn(30, 7)
    assert run_job(app, "digest", monday).startswith("digests for 2026-W49: 2 queued")
    assert run_job(app, "reminders", monday) == "7 training reminders queued"
    assert run_job(app, "expiry", monday) == "1 expiry reminders queued"
    assert run_job(app, "outbox") == "4 sent, 1 to retry later, 0 failed, 0 cancelled"
    assert calls == [("digest", date(2026, 11, 30), date(2026, 11, 30)),
                     ("reminders", date(2026, 11, 30)), ("expiry", date(2026, 11, 30))]


# The scheduler process ---------------------------------------------------------------------

def test_scheduler_list_shows_each_job_its_schedule_and_next_run(app, runner, instance,
                                                                 monkeypatch):
    monkeypatch.setitem(app.config, "SCHEDULE", {"reminders": ""})
    result = runner.invoke(args=["lms", "scheduler", "--list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "time zone Asia/Ho_Chi_Minh"
    rows = {line.split()[0]: line for line in lines[1:]}
    assert list(rows) == list(JOBS)
    assert rows["snapshot"].split()[1:10] == ["0", "23", "*", "*", "sun", "next", "Sun",
                                              rows["snapshot"].split()[8], "23:00"]
    assert "grace 259200 s" in rows["snapshot"]
    assert "last never" in rows["snapshot"]
    assert rows["reminders"].split()[1] == "off"
    assert "* * * * *" in rows["outbox"]


def test_the_scheduler_runs_jobs_until_it_is_stopped(app, runner, instance, monkeypatch):
    """The real command (BlockingScheduler): a missed outbox run is made up for at once;
    SIGTERM stops the scheduler once the job running has finished."""
    monkeypatch.setitem(app.config, "SCHEDULE", dict.fromkeys(
        ["snapshot", "digest", "reminders", "expiry", "refresh_figures"], ""))
    before = datetime.now(VN) - timedelta(seconds=90)
    write_state(instance / "scheduler-state.json", {"outbox": before})
    ran = []

    def outbox(today):
        # what `make run` does when the server stops, while the job is still sending
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGTERM)).start()
        time.sleep(0.4)
        ran.append(threading.current_thread().name)
        return "0 sent"

    _fake_job(monkeypatch, "outbox", outbox)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    level = app.logger.level
    safety = threading.Timer(5, os.kill, (os.getpid(), signal.SIGTERM))  # never hang
    safety.start()
    try:
        result = runner.invoke(args=["lms", "scheduler"])
    finally:
        safety.cancel()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        app.logger.setLevel(level)
    assert result.exit_code == 0, result.output
    assert len(ran) == 1  # finished, not cut short
    assert ran[0] != threading.main_thread().name  # in the scheduler's worker pool
    assert read_state(instance / "scheduler-state.json")["outbox"] > before
