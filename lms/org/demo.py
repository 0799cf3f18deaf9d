"""`flask lms demo`: the fictional province "Tỉnh An Hòa", about 2,000 staff, four accounts,
and their training (lms.org.demo_progress)."""

import random
from dataclasses import dataclass
from datetime import UTC, datetime

import click
from flask_babel import to_user_timezone
from sqlalchemy import func, insert, select, update

from lms.audit.services import record_event
from lms.auth.models import User
from lms.auth.services import hash_password
from lms.courses.models import Programme, ProgrammeAssignment
from lms.extensions import db
from lms.names import people, place_names
from lms.org.demo_progress import (
    WEEKS,
    Activity,
    has_activity,
    load_activity,
    programme_courses,
)
from lms.org.models import Unit, utcnow
from lms.org.services import staff_search_text
from lms.text import nfc, sort_key

SEED = 2026
PROVINCE = ("AH", "Tỉnh An Hòa")
EMPLOYEE_PREFIX = "AH"
DOMAIN = "demo.civicskills.vn"
DEMO_PROGRAMME = "basic-digital-skills"

_COMMON_OFFICES = [("VP", "Văn phòng Sở"), ("TTR", "Thanh tra Sở"),
                   ("TCCB", "Phòng Tổ chức cán bộ"), ("KHTC", "Phòng Kế hoạch – Tài chính")]
# Department code, name, extra offices (most departments also have the common offices).
DEPARTMENTS = [
    ("VPUB", "Văn phòng UBND tỉnh", [("HCTC", "Phòng Hành chính – Tổ chức"),
                                     ("TH", "Phòng Tổng hợp"),
                                     ("HCC", "Trung tâm Phục vụ hành chính công")]),
    ("SNV", "Sở Nội vụ", [("CCVC", "Phòng Công chức, viên chức"),
                          ("CQDP", "Phòng Xây dựng chính quyền")]),
    ("STC", "Sở Tài chính", [("QLNS", "Phòng Quản lý ngân sách")]),
    ("SKHCN", "Sở Khoa học và Công nghệ", [("CDS", "Phòng Chuyển đổi số")]),
    ("SYT", "Sở Y tế", [("NVY", "Phòng Nghiệp vụ Y")]),
    ("SGDDT", "Sở Giáo dục và Đào tạo", [("GDTH", "Phòng Giáo dục Trung học")]),
    ("STP", "Sở Tư pháp", [("HCTP", "Phòng Hành chính tư pháp")]),
    ("SXD", "Sở Xây dựng", [("QLXD", "Phòng Quản lý xây dựng")]),
    ("SNNMT", "Sở Nông nghiệp và Môi trường", [("TT", "Phòng Trồng trọt"),
                                               ("MT", "Phòng Môi trường")]),
    ("SCT", "Sở Công Thương", []),
    ("SVHTT", "Sở Văn hóa, Thể thao và Du lịch", [("DL", "Phòng Quản lý du lịch")]),
    ("TTRT", "Thanh tra tỉnh", [("VP", "Văn phòng"), ("NV1", "Phòng Nghiệp vụ 1"),
                                 ("NV2", "Phòng Nghiệp vụ 2")]),
]
# District kind and name; a city has wards, a town both, a rural district communes.
DISTRICTS = [("Thành phố", "An Hòa"), ("Thị xã", "Bình Phú"), ("Huyện", "Tân Lập"),
             ("Huyện", "Phú Hưng"), ("Huyện", "Long Thạnh"), ("Huyện", "Vĩnh An"),
             ("Huyện", "Sơn Lạc"), ("Huyện", "Đông Yên")]

# Fixed, printed, demo-only passwords: never load the demo into a real installation.
DEMO_ACCOUNTS = [
    # key, email, role, unit code, password
    ("admin", "admin@" + DOMAIN, "admin", "AH.SKHCN.CDS", "demo-admin-2026"),
    ("hr", "hr@" + DOMAIN, "hr", "AH", "demo-hr-2026"),
    ("head", "head@" + DOMAIN, "head", "AH.SKHCN", "demo-head-2026"),
    ("learner", "learner@" + DOMAIN, "learner", "AH.SKHCN.VP", "demo-learner-2026"),
]


@dataclass
class DemoResult:
    created: bool
    units: int
    staff: int
    accounts: list  # (role, full name, email, employee ID, password)
    assigned: bool = False  # the demo programme was assigned to the province just now
    activity: Activity | None = None  # the training activity loaded just now
    skipped: str | None = None  # why no training activity could be loaded


def plan_units(rng):
    """The unit tree as (code, name, parent code, staff count) rows, parents first."""
    rows = [(PROVINCE[0], PROVINCE[1], None, 6)]
    for code, name, extra in DEPARTMENTS:
        dept = f"AH.{code}"
        rows.append((dept, name, "AH", rng.randint(3, 5)))
        offices = (extra if code in ("VPUB", "TTRT") else _COMMON_OFFICES + extra)[:5]
        for office_code, office_name in offices:
            size = rng.randint(20, 35) if office_code in ("HCC", "CDS", "NVY", "GDTH") \
                else rng.randint(6, 20)
            rows.append((f"{dept}.{office_code}", office_name, dept, size))
    taken = [name for _, name in DISTRICTS]
    for number, (kind, name) in enumerate(DISTRICTS, start=1):
        district = f"AH.H{number:02d}"
        rows.append((district, f"{kind} {name}", "AH", rng.randint(25, 40)))
        count = rng.randint(6, 12)
        names = place_names(rng, count, exclude=taken)
        taken += names
        for i, commune in enumerate(names, start=1):
            urban = kind == "Thành phố" or (kind == "Thị xã" and i <= count // 2)
            rows.append((f"{district}.X{i:02d}", f"{'Phường' if urban else 'Xã'} {commune}",
                         district, rng.randint(10, 16)))
    return rows


def _category(rng, code):
    """Communes and the province leadership are largely cadres; departments civil servants."""
    commune, roll = code.count(".") == 2 and ".H" in code, rng.random()
    cadre = 0.45 if commune else 0.5 if code == PROVINCE[0] else 0.08
    if roll < cadre:
        return "cadre"
    return "civil_servant" if roll < 0.85 else "public_employee"


def _insert_units(plan):
    """Insert the units, then set their materialised paths; return code -> (id, path, depth)."""
    now = utcnow()
    placed = {}
    # One executemany per level, since a row's path needs its parent's id.
    for depth in range(3):
        level = [row for row in plan if row[0].count(".") == depth]
        ids = db.session.execute(
            insert(Unit).returning(Unit.id, sort_by_parameter_order=True),
            [{"code": code, "name": nfc(name), "parent_id": placed[parent][0] if parent else None,
              "path": "", "depth": depth, "created_at": now, "updated_at": now}
             for code, name, parent, _ in level],
        ).scalars().all()
        for (code, _, parent, _), unit_id in zip(level, ids, strict=True):
            prefix = placed[parent][1] if parent else "/"
            placed[code] = (unit_id, f"{prefix}{unit_id}/", depth)
    db.session.execute(update(Unit), [{"id": uid, "path": path}
                                      for uid, path, _ in placed.values()])
    return placed


def load_demo(today=None):
    """Create the demo province and its training activity once (flushes, never commits); a
    second call changes nothing. `today`: in the app's time zone (default: now)."""
    today = today or to_user_timezone(datetime.now(UTC)).date()
    existing = db.session.scalar(select(Unit).where(Unit.code == PROVINCE[0]))
    emails = [account[1] for account in DEMO_ACCOUNTS]
    if existing is not None:
        result = DemoResult(False, *_counts(existing), _accounts(emails),
                            assign_demo_programme(existing.id))
        result.activity, result.skipped = load_demo_activity(existing, today)
        return result
    if db.session.scalar(select(func.count(User.id)).where(User.email.in_(emails))):
        raise click.ClickException("demo accounts exist without the demo province; "
                                   "load the demo into an empty database")
    rng = random.Random(SEED)  # noqa: S311  (reproducible fake data, not secrets)
    plan = plan_units(rng)
    placed = _insert_units(plan)
    crowd = people(SEED, sum(row[3] for row in plan), prefix=EMPLOYEE_PREFIX, domain=DOMAIN)
    accounts = {unit_code: (key, email, role, password)
                for key, email, role, unit_code, password in DEMO_ACCOUNTS}
    now, rows, heads, passwords = utcnow(), [], {}, {}
    for code, _, _, size in plan:
        unit_id = placed[code][0]
        for i in range(size):
            person = next(crowd)
            role, email = ("head" if i == 0 else "learner"), person.email
            if i == 0:
                heads[unit_id] = person.employee_id
            # The demo accounts are the head (i == 0) or the first staff member after them.
            demo = accounts.get(code)
            if demo and i == (0 if demo[2] == "head" else 1):
                email, role = demo[1], demo[2]
                passwords[person.employee_id] = demo[3]
            rows.append({
                "employee_id": person.employee_id, "full_name": person.full_name,
                "email": email, "unit_id": unit_id, "category": _category(rng, code),
                "role": role, "active": True,
                "password_hash": None, "activated_at": None,
                "search_text": staff_search_text(person.full_name, person.employee_id, email),
                "sort_key": sort_key(person.full_name), "created_at": now, "updated_at": now,
            })
    for row in rows:
        if row["employee_id"] in passwords:
            row["password_hash"] = hash_password(passwords[row["employee_id"]])
            row["activated_at"] = now
    db.session.execute(insert(User), rows)
    db.session.execute(update(Unit), [{"id": uid, "head_employee_id": emp}
                                      for uid, emp in heads.items()])
    record_event("demo_loaded", object_type="units", object_id=placed[PROVINCE[0]][0],
                 units=len(plan), staff=len(rows))
    db.session.flush()
    result = DemoResult(True, len(plan), len(rows), _accounts(emails),
                        assign_demo_programme(placed[PROVINCE[0]][0]))
    result.activity, result.skipped = load_demo_activity(
        db.session.get(Unit, placed[PROVINCE[0]][0]), today)
    return result


def load_demo_activity(root, today):
    """(Activity, None) when the training activity was loaded now; (None, why) when the
    programme is not synced; (None, None) when the province already has activity."""
    programme = db.session.scalar(select(Programme).where(Programme.slug == DEMO_PROGRAMME))
    courses = programme_courses(programme) if programme is not None else []
    if not courses:
        return None, (f"Programme {DEMO_PROGRAMME} or its courses are not in the database "
                      "(run `flask lms sync-content` first): no training activity loaded.")
    if has_activity(root):
        return None, None
    accounts = {u.role: u for u in db.session.scalars(select(User).where(
        User.email.in_([account[1] for account in DEMO_ACCOUNTS])))}
    return load_activity(SEED + 1, root, programme, courses, today, utcnow(),
                         hr=accounts.get("hr"), learner=accounts.get("learner")), None


def assign_demo_programme(root_id):
    """Assign the synced programme DEMO_PROGRAMME to the province, once; True if done now."""
    programme_id = db.session.scalar(select(Programme.id).where(Programme.slug == DEMO_PROGRAMME))
    if programme_id is None or db.session.scalar(select(ProgrammeAssignment.id).where(
            ProgrammeAssignment.programme_id == programme_id,
            ProgrammeAssignment.unit_id == root_id)):
        return False
    assignment = ProgrammeAssignment(programme_id=programme_id, unit_id=root_id)
    db.session.add(assignment)
    db.session.flush()
    record_event("programme_assigned", obj=assignment, via="demo", programme=DEMO_PROGRAMME)
    return True


def _counts(root):
    units = select(Unit.id).where(Unit.path.startswith(root.path, autoescape=True))
    return (db.session.scalar(select(func.count()).select_from(units.subquery())),
            db.session.scalar(select(func.count(User.id)).where(User.unit_id.in_(units))))


def _accounts(emails):
    """(role, name, email, employee ID, password) of each demo account, as loaded."""
    fixed = {account[1]: account[4] for account in DEMO_ACCOUNTS}
    found = {u.email: u for u in db.session.scalars(select(User).where(User.email.in_(emails)))}
    return [(found[e].role, found[e].full_name, e, found[e].employee_id, fixed[e])
            for e in emails if e in found]


@click.command("demo")
def demo_command():
    """Load the demo province "Tỉnh An Hòa": ~2,000 staff, four demo accounts and, once the
    content is synced, twelve weeks of training in the basic digital skills programme."""
    result = load_demo()
    changed = result.assigned or result.activity is not None
    if result.created or changed:
        db.session.commit()
    if result.assigned:
        click.echo(f"Programme {DEMO_PROGRAMME} assigned to {PROVINCE[1]}.")
    if result.created:
        click.echo(f"Loaded {PROVINCE[1]}: {result.units} units, {result.staff} staff.")
    else:
        click.echo(f"{PROVINCE[1]} is already loaded ({result.units} units, "
                   f"{result.staff} staff)" + ("." if changed else ": nothing changed."))
    if result.activity is not None:
        a = result.activity
        click.echo(f"Training over the last {WEEKS} weeks: {a.trained} trained, "
                   f"{a.in_progress} in progress, {a.not_started} not started; "
                   f"{a.reads} modules read, {a.certificates} certificates signed "
                   f"({a.revoked} revoked, {a.expired} expired), "
                   f"{a.snapshots} weekly unit snapshots.")
    if result.skipped:
        click.echo(result.skipped)
    click.echo("Demo accounts (demo-only passwords; never use the demo in production):")
    rows = [("role", "name", "email", "employee ID", "password"), *result.accounts]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
