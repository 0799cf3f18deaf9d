"""The demo's training activity: twelve weeks of reading, completed courses and signed
certificates in the demo province, so that its dashboard, trend and forecast show something."""

import functools
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

from sqlalchemy import insert, select, update

from lms.audit.services import record_event
from lms.auth.models import User
from lms.certificates.keys import signing_key
from lms.certificates.layouts import issuing_for
from lms.certificates.models import Certificate, CertificateCounter
from lms.certificates.services import add_months, course_validity, new_code, revoke
from lms.certificates.signing import CertificateClaims, sign
from lms.courses.models import Course, CourseCompletion, Module, ModuleRead, ProgrammeAssignment
from lms.courses.services import course_texts
from lms.extensions import db
from lms.org.models import Unit
from lms.reports.progress import progress, required_courses
from lms.reports.records import rebuild
from lms.reports.services import rebuild_snapshots, record_snapshots, week_of
from lms.sql import upsert
from lms.text import nfc

WEEKS = 12
TRAINED, PART_WAY = 0.35, 0.35  # shares of the staff; the rest have not started
EARLY_DISTRICT = "AH.H08"  # its own deadline, already passed: "overdue" shows there
EARLY_DEADLINE_DAYS = 21  # days before today
PILOT = 20  # part-way people whose first course dates from a pilot two years ago (expired)
REVOKED = 10
REVOKE_REASONS = ("Cấp nhầm: trùng tài khoản của cùng một người",
                  "Kết quả bài kiểm tra không hợp lệ",
                  "Thu hồi theo đề nghị của đơn vị")
SCORES, SCORE_WEIGHTS = ("80%", "90%", "100%"), (4, 4, 2)


@dataclass
class Plan:
    """What the demo's staff did: rows to insert and certificates to issue, oldest first."""

    states: dict = field(default_factory=dict)  # user id -> trained | part_way | not_started
    reads: list = field(default_factory=list)  # ModuleRead rows
    completions: list = field(default_factory=list)  # (user id, course id, at, score)
    programme_done: dict = field(default_factory=dict)  # user id -> when the last course was
    revocations: list = field(default_factory=list)  # (user id, course id, at, reason)


@dataclass
class Activity:
    """What the demo's training activity added, for its summary line."""

    trained: int
    in_progress: int
    not_started: int
    reads: int
    certificates: int
    revoked: int
    expired: int
    snapshots: int


def plan_activity(seed, staff, courses, now, force_part_way=()):
    """The activity of `staff` [(user id, unit code)] in `courses` [(course id, [module ids])]
    before `now` (naive UTC): a share trained, a share part-way, the rest not started; whole
    branches of the tree (departments, districts) ahead of or far behind the others. Codes,
    not ids, place people, so that the same seed gives the same story in any database."""
    rng = random.Random(seed)  # noqa: S311  (reproducible fake data, not secrets)
    branches = sorted({_branch(code) for _, code in staff})
    levels = [2.4 * i / max(1, len(branches) - 1) - 1.2 for i in range(len(branches))]
    rng.shuffle(levels)
    level = dict(zip(branches, levels, strict=True))
    noise = {code: rng.gauss(0, 0.35) for code in sorted({code for _, code in staff})}
    ranked = sorted(staff, key=lambda p: -(level[_branch(p[1])] + noise[p[1]]
                                            + rng.gauss(0, 0.6)))
    trained, part_way = round(TRAINED * len(staff)), round(PART_WAY * len(staff))
    plan = Plan()
    for rank, (user_id, _) in enumerate(ranked):
        plan.states[user_id] = ("trained" if rank < trained else
                                "part_way" if rank < trained + part_way else "not_started")
    plan.states.update(dict.fromkeys(force_part_way, "part_way"))
    part = [user_id for user_id, _ in staff if plan.states[user_id] == "part_way"]
    pilots = set(rng.sample(part, min(PILOT, len(part))))
    for user_id, _ in staff:
        state = plan.states[user_id]
        if state == "trained":
            end = rng.randint(1, WEEKS * 7 - 4)
            sessions = [(i, len(modules)) for i, (_, modules) in enumerate(courses)]
            _person(rng, plan, user_id, courses, sessions,
                    min(WEEKS * 7 - 1, end + rng.randint(3, 35)), end, now, pilot=False)
        elif state == "part_way":
            done = rng.randint(0, len(courses) - 1)
            sessions = [(i, len(courses[i][1])) for i in range(done)]
            modules = len(courses[done][1])
            if modules > 1 and (not done or rng.random() < 0.5):
                sessions.append((done, rng.randint(1, modules - 1)))
            if not sessions:  # a one-module course: read it, done
                sessions = [(0, len(courses[0][1]))]
            spread = len(sessions) // 3  # days at least: three courses a day at most
            start = rng.randint(1 + spread, WEEKS * 7 - 1)
            _person(rng, plan, user_id, courses, sessions, start,
                    rng.randint(1, start - spread), now,
                    pilot=user_id in pilots and sessions[0][1] == len(courses[0][1]))
    plan.reads.sort(key=lambda row: row["read_at"])
    plan.completions.sort(key=lambda row: row[2])
    _plan_revocations(rng, plan, courses, pilots, now)
    return plan


def _branch(code):
    """The department or district a unit belongs to ("AH.SNV.VP" -> "AH.SNV")."""
    return ".".join(code.split(".")[:2])


def _person(rng, plan, user_id, courses, sessions, start, end, now, pilot):
    """One person's reading sessions, spread evenly from `start` to `end` days ago: a whole
    course read ends with its quiz passed; a pilot's first course was two years ago."""
    today, at = now.date(), None
    for number, (index, read) in enumerate(sessions):
        days = start - round(number * (start - end) / max(1, len(sessions) - 1))
        if pilot and number == 0:
            days = rng.randint(750, 790)
        begin = datetime.combine(today - timedelta(days=days),
                                 time(rng.randint(1, 6), rng.randint(0, 59)))  # 8-13 h local
        # A second course the same day follows the first.
        at = begin if at is None or at < begin else at + timedelta(minutes=rng.randint(10, 60))
        course_id, modules = courses[index]
        for module_id in modules[:read]:
            at += timedelta(minutes=rng.randint(4, 20))
            plan.reads.append({"user_id": user_id, "module_id": module_id,
                               "course_id": course_id, "read_at": at})
        if read == len(modules):
            at += timedelta(minutes=rng.randint(5, 15))
            plan.completions.append((user_id, course_id, at,
                                     rng.choices(SCORES, SCORE_WEIGHTS)[0]))
            if plan.states[user_id] == "trained" and index == len(courses) - 1:
                plan.programme_done[user_id] = at


def _plan_revocations(rng, plan, courses, pilots, now):
    """A few course certificates of part-way people revoked some days after issue."""
    latest = now - timedelta(days=14)
    candidates = [(user_id, course_id, at) for user_id, course_id, at, _ in plan.completions
                  if plan.states[user_id] == "part_way" and user_id not in pilots
                  and course_id != courses[0][0] and at < latest]
    for user_id, course_id, at in rng.sample(candidates, min(REVOKED, len(candidates))):
        plan.revocations.append((user_id, course_id, at + timedelta(days=rng.randint(2, 10)),
                                 rng.choice(REVOKE_REASONS)))


def has_activity(root):
    """True when someone in the root's subtree has read a module (the demo's or real)."""
    return db.session.scalar(
        select(ModuleRead.id).join(User, User.id == ModuleRead.user_id)
        .where(User.unit_id.in_(select(Unit.id).where(
            Unit.path.startswith(root.path, autoescape=True)))).limit(1)) is not None


def load_activity(seed, root, programme, courses, today, now, hr=None, learner=None):
    """Write the planned activity of the root's subtree in `programme`'s `courses` (from
    `programme_courses`; flushes, never commits): reads, completions and signed certificates
    in bulk, a few certificates revoked, then the kept records and weekly snapshots rebuilt."""
    units = {u.id: u for u in db.session.scalars(
        select(Unit).where(Unit.path.startswith(root.path, autoescape=True)))}
    staff = db.session.execute(
        select(User.id, User.unit_id, User.full_name)
        .where(User.unit_id.in_(units), User.active.is_(True)).order_by(User.id)).all()
    plan = plan_activity(seed, [(p.id, units[p.unit_id].code) for p in staff], courses, now,
                         force_part_way=[learner.id] if learner is not None else ())
    _assign_early_deadline(programme, today)
    versions = dict(db.session.execute(select(Module.id, Module.version)).all())
    course_versions = dict(db.session.execute(select(Course.id, Course.version)).all())
    db.session.execute(insert(ModuleRead.__table__), [
        {**row, "module_version": versions[row["module_id"]],
         "course_version": course_versions[row["course_id"]]} for row in plan.reads])
    db.session.execute(insert(CourseCompletion.__table__), [
        {"user_id": user_id, "course_id": course_id, "completed_at": at,
         "course_version": course_versions[course_id], "attempt_id": None}
        for user_id, course_id, at, _ in plan.completions])
    # Ids read back rather than RETURNING: SQLAlchemy's ordered RETURNING over thousands of
    # rows costs seconds on SQLite.
    completion_ids = _ids(CourseCompletion, CourseCompletion.user_id.in_(plan.states))
    people = {p.id: SimpleNamespace(id=p.id, full_name=p.full_name, unit=units[p.unit_id])
              for p in staff}
    issued, expired = _sign_all(plan, completion_ids, people, programme, course_versions,
                                today)
    for user_id, course_id, at, reason in plan.revocations:
        certificate = revoke(db.session.get(Certificate, issued[user_id, course_id]), reason,
                             actor=hr, now=at)
        event = record_event("certificate_revoked", actor=hr, obj=certificate, via="demo",
                             serial=certificate.serial, reason=reason)
        event.at = at  # the audit log dates it when it happened, like the revocation
    rebuild()
    rebuilt = rebuild_snapshots(week_of(today) - timedelta(weeks=WEEKS), today)
    recorded = record_snapshots(today)
    record_event("snapshot_recorded", object_type="snapshots", via="demo",
                 week=week_of(today).isoformat(), recorded=recorded, rebuilt=rebuilt)
    db.session.flush()
    figures = progress(programme, root, today, live=True).figures
    return Activity(figures.trained, figures.in_progress, figures.not_started,
                    len(plan.reads), len(plan.completions) + len(plan.programme_done),
                    len(plan.revocations), expired, rebuilt + recorded)


def programme_courses(programme):
    """[(course id, [published module ids in order])] of the programme's courses that have
    modules, in the programme's order."""
    course_ids = required_courses(programme.id)
    modules = {course_id: [] for course_id in course_ids}
    for course_id, module_id in db.session.execute(
            select(Module.course_id, Module.id)
            .where(Module.course_id.in_(course_ids), Module.draft.is_(False))
            .order_by(Module.course_id, Module.position)):
        modules[course_id].append(module_id)
    return [(course_id, modules[course_id]) for course_id in course_ids if modules[course_id]]


def _assign_early_deadline(programme, today):
    """One district assigned the programme with its own deadline, already passed."""
    district = db.session.scalar(select(Unit).where(Unit.code == EARLY_DISTRICT))
    if district is None or db.session.scalar(select(ProgrammeAssignment.id).where(
            ProgrammeAssignment.programme_id == programme.id,
            ProgrammeAssignment.unit_id == district.id)):
        return
    assignment = ProgrammeAssignment(programme_id=programme.id, unit_id=district.id,
                                     deadline=today - timedelta(days=EARLY_DEADLINE_DAYS))
    db.session.add(assignment)
    db.session.flush()
    record_event("programme_assigned", obj=assignment, via="demo", programme=programme.slug,
                 deadline=assignment.deadline.isoformat())


def _sign_all(plan, completion_ids, people, programme, course_versions, today):
    """Every certificate, in the order earned (so serials follow the dates): a course
    certificate per completion, a programme certificate when the last course was done. Each
    is signed exactly as `issue` signs it, over the claims the verifier rebuilds from the
    row; inserted in bulk, since issue() one by one (about 3.5 ms each, with its recount)
    would make the demo take half a minute. Returns ({(user id, course id): certificate id},
    how many of them expired by `today`)."""
    course_ids = sorted({course_id for _, course_id, _, _ in plan.completions})
    titles = {course_id: text.title for course_id, text in
              course_texts(course_ids, "vi").items()}
    months = {course_id: _validity_months(course_id) for course_id in course_ids}
    # Issuing rules depend on the person's unit only: read them once a unit.
    rules = functools.cache(lambda unit, slug: issuing_for(SimpleNamespace(unit=unit), slug))
    events = sorted(
        [(at, 0, user_id, course_id, completion_ids[user_id, course_id], score)
         for user_id, course_id, at, score in plan.completions]
        + [(at, 1, user_id, None, None, None) for user_id, at in plan.programme_done.items()])
    key, serials = signing_key(), {}
    for year in sorted({event[0].year for event in events}):
        serials[year] = iter(_reserve_serials(year, sum(e[0].year == year for e in events)))
    rows, expired = [], 0
    for at, kind, user_id, course_id, completion_id, score in events:
        person = people[user_id]
        if kind == 0:
            title = titles.get(course_id, str(course_id))
            expires = add_months(at.date(), months[course_id]) if months[course_id] else None
            settings = rules(person.unit, None)
        else:
            title = (programme.titles or {}).get("vi") or programme.slug
            expires = add_months(at.date(), programme.validity_months) \
                if programme.validity_months else None
            settings = rules(person.unit, programme.slug)
        claims = CertificateClaims(
            serial=next(serials[at.year]), code=new_code(), name=nfc(person.full_name),
            title=nfc(title), kind="course" if kind == 0 else "programme",
            issued_on=at.date().isoformat(), score=score, issuer=nfc(settings.issuer),
            signer=nfc(settings.signer), expires_on=expires.isoformat() if expires else None)
        key_id, signature = sign(claims, key)
        rows.append({
            "serial": claims.serial, "code": claims.code, "kind": claims.kind,
            "user_id": user_id, "course_id": course_id,
            "programme_id": programme.id if kind else None, "completion_id": completion_id,
            "course_version": course_versions[course_id] if kind == 0 else None,
            "issued_at": at, "expires_on": expires, "name": claims.name,
            "title": claims.title, "score": score, "issuer": claims.issuer,
            "signer": claims.signer, "layout": settings.layout, "lang": claims.lang,
            "key_id": key_id, "signature": signature})
        expired += expires is not None and expires < today
    db.session.execute(insert(Certificate.__table__), rows)
    return _ids(Certificate, Certificate.user_id.in_(plan.states),
                Certificate.course_id.is_not(None)), expired


def _validity_months(course_id):
    """How many months a certificate of the course is valid (None: no limit), read off
    `course_validity` once so that the rule stays in one place."""
    start = date(2000, 1, 1)
    until = course_validity(course_id, start)
    return None if until is None else (until.year - start.year) * 12 + until.month - 1


def _ids(model, *where):
    """{(user id, course id): id} of the rows of `model` (one per person and course)."""
    return {(user_id, course_id): row_id for row_id, user_id, course_id in db.session.execute(
        select(model.id, model.user_id, model.course_id).where(*where))}


def _reserve_serials(year, count):
    """`count` consecutive serials of the year, the next ones `next_serial` would give."""
    table = CertificateCounter.__table__
    db.session.execute(upsert(table).values(year=year, last=0).on_conflict_do_nothing(
        index_elements=[table.c.year]))
    last = db.session.execute(update(table).where(table.c.year == year)
                              .values(last=table.c.last + count).returning(table.c.last)).scalar()
    return [f"{year}-{number:06d}" for number in range(last - count + 1, last + 1)]
