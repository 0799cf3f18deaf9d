"""Importing units and staff: what the plan says and what the database holds afterwards."""

import codecs
import unicodedata
from pathlib import Path
from textwrap import dedent

import pytest
from sqlalchemy import event, func, select

from lms.audit.models import AuditEvent
from lms.auth.models import User
from lms.extensions import db
from lms.org import imports
from lms.org.models import Unit
from lms.org.services import unit_by_code
from lms.text import sort_key
from tests.conftest import make_user

DATA = Path(__file__).parent / "data"
UNITS = "code,name,parent_code,head_employee_id\n"
STAFF = "employee_id,full_name,email,unit_code,category,role\n"


def plan(kind, text, actor=None, deactivate_missing=False):
    data = text if isinstance(text, bytes) else dedent(text).encode()
    return imports.plan_file(kind, data, "t.csv", actor, deactivate_missing)


def run(kind, text, actor=None, deactivate_missing=False):
    result = plan(kind, text, actor, deactivate_missing)
    assert result.ok, errors(result)
    imports.apply_plan(result)
    return result


def errors(result):
    return [(e.row, e.column, str(e.message)) for e in result.errors]


def person(employee_id):
    return db.session.scalar(select(User).where(User.employee_id == employee_id))


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def statements(db):
    """The SQL statements run while the test runs."""
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement.split(None, 1)[0].upper())

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


# Units -----------------------------------------------------------------------------------

def test_units_file_extends_the_tree_with_paths_and_depths(org):
    result = run("units", (DATA / "units.csv").read_bytes())
    assert result.counts == {"added": 2, "updated": 0, "unchanged": 5, "deactivated": 0,
                             "reactivated": 0}
    it = unit_by_code("P.STTTT.CNTT")
    assert (it.parent_id, it.path, it.depth) == (org["dept"].id, f"{org['dept'].path}{it.id}/", 2)
    assert it.head_employee_id == "H0001"  # soft reference: nobody has this ID yet


def test_units_into_an_empty_database_in_any_row_order(db):
    run("units", UNITS + "C,Commune,B,\nB,District,A,\nA,Province,,\n")
    a, b, c = (unit_by_code(code) for code in "ABC")
    assert (a.path, b.path, c.path) == (f"/{a.id}/", f"/{a.id}/{b.id}/", f"/{a.id}/{b.id}/{c.id}/")
    assert (a.depth, b.depth, c.depth) == (0, 1, 2)


def test_reimporting_the_same_units_file_writes_nothing(org, statements):
    run("units", (DATA / "units.csv").read_bytes())
    statements.clear()
    again = run("units", (DATA / "units.csv").read_bytes())
    assert again.counts["unchanged"] == 7
    assert again.counts["added"] == again.counts["updated"] == 0
    assert not {"INSERT", "UPDATE", "DELETE"} & set(statements)


def test_moving_a_unit_rewrites_the_paths_of_its_subtree(org):
    result = run("units", UNITS + "P.H1,Huyện Đông Sơn,P.STTTT,\n")
    assert result.samples["updated"][0].fields == [("parent_code", "P", "P.STTTT")]
    db.session.expire_all()
    dept, district, commune = org["dept"], org["district"], org["commune"]
    assert district.path == f"{dept.path}{district.id}/"
    assert district.depth == 2
    assert commune.path == f"{dept.path}{district.id}/{commune.id}/"
    assert commune.depth == 3
    assert org["office"].path == f"{dept.path}{org['office'].id}/"


def test_moves_inside_a_moving_subtree_and_new_units_below_them(org):
    run("units", UNITS + dedent("""\
        P.H1,Huyện Đông Sơn,P.STTTT,
        P.H1.X1,Xã Đông Hòa,P.STTTT.VP,
        P.H1.X9,Xã Mới,P.H1,
        P.H1.X1.T1,Thôn Một,P.H1.X1,
    """))
    db.session.expire_all()
    dept, office, district, commune = (org[k] for k in ("dept", "office", "district", "commune"))
    new, hamlet = unit_by_code("P.H1.X9"), unit_by_code("P.H1.X1.T1")
    assert district.path == f"{dept.path}{district.id}/"
    assert commune.path == f"{office.path}{commune.id}/"
    assert commune.depth == 3
    assert new.path == f"{district.path}{new.id}/"
    assert new.depth == 3
    assert hamlet.path == f"{commune.path}{hamlet.id}/"
    assert hamlet.depth == 4


def test_a_changed_unit_row_updates_only_that_unit(org):
    result = run("units", UNITS + "P.H1.X1,Xã  Đông Hòa Mới ,P.H1,D0001\nP,Tỉnh Thử Nghiệm,,\n")
    assert result.counts["updated"] == 1
    assert result.counts["unchanged"] == 1
    assert result.samples["updated"][0].fields == [
        ("name", "Xã Đông Hòa", "Xã Đông Hòa Mới"), ("head_employee_id", None, "D0001")]
    assert unit_by_code("P.H1.X1").name == "Xã Đông Hòa Mới"


def test_unit_names_are_stored_in_nfc(db):
    decomposed = unicodedata.normalize("NFD", "Phường Hòa Khánh")
    run("units", UNITS + f"Q,{decomposed},,\n")
    assert unit_by_code("Q").name == unicodedata.normalize("NFC", "Phường Hòa Khánh")


def test_unit_file_errors_name_row_and_column(org):
    result = plan("units", UNITS + dedent("""\
        N1,New unit,NOWHERE,
        N2,,P,
        ,Nameless,P,
        N1,Again,P,
        N3,Self,N3,
        L1,Loop one,L2,
        L2,Loop two,L1,
        P,Tỉnh Thử Nghiệm,P.H1.X1,
    """))
    assert errors(result) == [
        (3, "name", "A value is required."),
        (4, "code", "A value is required."),
        (5, "code", "The code “N1” is already on row 2."),
        (2, "parent_code", "No unit has the code “NOWHERE”, in this file or in the database."),
        (6, "parent_code", "A unit cannot be its own parent."),
        (7, "parent_code", "The parent chain loops: L1 → L2 → L1."),
        (8, "parent_code", "The parent chain loops: L2 → L1 → L2."),
        (9, "parent_code",
         "“P.H1.X1” lies below this unit: the unit would become its own ancestor."),
    ]
    assert count(Unit) == 5


def test_a_loop_through_units_already_in_the_database(org):
    result = plan("units", UNITS + "P.H1,Huyện Đông Sơn,N,\nN,New,P.H1.X1,\n")
    assert errors(result) == [
        (2, "parent_code", "The parent chain loops: P.H1 → N → P.H1.X1 → P.H1."),
        (3, "parent_code", "The parent chain loops: N → P.H1.X1 → P.H1 → N."),
    ]


@pytest.mark.parametrize(("header", "expected"), [
    ("code,parent_code", [(1, "name", "Missing column “name”.")]),
    ("code,name,parent_code,colour", [(1, "colour", "Unknown column “colour”; the columns "
                                                    "are: code, name, parent_code, "
                                                    "head_employee_id.")]),
    ("code,name,name,parent_code", [(1, "name", "The column “name” appears twice.")]),
    (" Code , NAME ,parent_code", []),  # head_employee_id may be left out
])
def test_unit_columns(org, header, expected):
    assert errors(plan("units", f"{header}\nX,Unit X,P\n")) == expected


def test_hr_may_add_and_change_units_only_inside_their_subtree(users, org):
    hr = users["hr"]
    assert run("units", UNITS + "P.STTTT.NEW,Phòng mới,P.STTTT,\nP.STTTT,Sở KH&CN,P,\n",
               actor=hr).counts["added"] == 1
    result = plan("units", UNITS + dedent("""\
        P.H1.NEW,Xã mới,P.H1,
        P.H1,Huyện Đông Sơn mới,P,
        TOP,Top unit,,
        P.STTTT.VP,Văn phòng Sở,P.H1,
    """), actor=hr)
    outside = "This unit is outside the part of the organisation you manage."
    only = "Only units inside the part of the organisation you manage can be added or moved here."
    assert errors(result) == [(2, "parent_code", only), (3, "code", outside),
                              (4, "parent_code", only), (5, "parent_code", only)]


def test_admin_may_change_any_unit(users, org):
    assert run("units", UNITS + "P.H1,Huyện mới,P,\n", actor=users["admin"]).counts["updated"] == 1


# Staff -----------------------------------------------------------------------------------

def test_staff_file_adds_people_with_derived_columns(users):
    result = run("staff", (DATA / "staff.csv").read_bytes())
    assert result.counts == {"added": 2, "updated": 0, "unchanged": 2, "deactivated": 0,
                             "reactivated": 0}
    lan, minh = person("S0001"), person("S0002")
    assert (lan.email, lan.role, lan.category, lan.unit.code) == (
        "lan.do@example.gov.vn", "learner", "public_employee", "P.STTTT.VP")
    assert minh.role == "head"
    assert minh.active
    assert minh.password_hash is None
    assert lan.sort_key == sort_key("Đỗ Thị Lan")
    assert "do thi lan" in lan.search_text
    assert "s0001" in lan.search_text


def test_reimporting_the_same_staff_file_writes_nothing(users, statements):
    run("staff", (DATA / "staff.csv").read_bytes())
    statements.clear()
    again = run("staff", (DATA / "staff.csv").read_bytes())
    assert again.counts == {"added": 0, "updated": 0, "unchanged": 4, "deactivated": 0,
                            "reactivated": 0}
    assert not {"INSERT", "UPDATE", "DELETE"} & set(statements)


def test_a_changed_row_updates_only_that_person(users, org):
    mai = users["office_learner"]
    before = (users["learner"].updated_at, users["hr"].role)
    result = run("staff", STAFF + dedent("""\
        L0001,Nguyễn Văn Hùng,hung@example.gov.vn,P.H1.X1,civil_servant,
        L0002,Phạm Thị Mai,mai.pham@example.gov.vn,P.H1.X1,cadre,
        H0001,Trần Thị Nhân Sự,hr@example.gov.vn,P.STTTT,civil_servant,
    """))
    assert result.counts["updated"] == 1
    assert result.counts["unchanged"] == 2
    assert result.samples["updated"][0].fields == [
        ("email", "mai@example.gov.vn", "mai.pham@example.gov.vn"),
        ("unit_code", "P.STTTT.VP", "P.H1.X1"), ("category", "civil_servant", "cadre")]
    db.session.expire_all()
    assert (mai.email, mai.unit_id, mai.category) == (
        "mai.pham@example.gov.vn", org["commune"].id, "cadre")
    assert "mai.pham" in mai.search_text
    assert (users["learner"].updated_at, users["hr"].role) == before  # empty role: kept


def test_deactivate_missing_ends_sessions_and_spares_the_unitless_admin(users):
    hr, head, admin = users["hr"], users["head"], users["admin"]
    version = head.session_version
    assert run("staff", (DATA / "staff.csv").read_bytes()).counts["deactivated"] == 0
    result = run("staff", (DATA / "staff.csv").read_bytes(), deactivate_missing=True)
    assert result.counts["deactivated"] == 2
    assert {c.key for c in result.samples["deactivated"]} == {"H0001", "D0001"}
    db.session.expire_all()
    assert not hr.active
    assert not head.active
    assert admin.active
    assert head.session_version == version + 1


def test_people_back_in_the_file_are_reactivated(users):
    gone = make_user(users["learner"].unit, full_name="Vũ Văn Về", email="ve@example.gov.vn",
                     employee_id="R0001", active=False)
    version = gone.session_version
    result = run("staff", STAFF + "R0001,Vũ Văn Về,ve@example.gov.vn,P.H1.X1,civil_servant,\n")
    assert result.counts["updated"] == 1
    assert result.counts["reactivated"] == 1
    assert result.samples["updated"][0].fields == [("active", False, True)]
    db.session.expire_all()
    assert gone.active
    assert gone.session_version == version + 1


def test_decomposed_names_are_stored_in_nfc(org):
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Hồng Nhung")
    run("staff", STAFF + f"N1,{decomposed},nhung@example.gov.vn,P,cadre,\n")
    assert person("N1").full_name == unicodedata.normalize("NFC", decomposed)


def test_staff_file_errors_are_all_reported_with_row_and_column(users):
    result = plan("staff", STAFF + dedent("""\
        E1,Người Một,one@example.gov.vn,P,cadre,
        E1,Người Hai,two@example.gov.vn,P,cadre,
        E3,Người Ba,ONE@example.gov.vn,P,cadre,
        E4,Người Bốn,not-an-email,P,cadre,
        E5,Người Năm,five@example.gov.vn,NOWHERE,cadre,
        E6,Người Sáu,six@example.gov.vn,P,soldier,boss
        E7,,,P,,
        E8,Người Tám,hung@example.gov.vn,P,cadre,
    """))
    assert errors(result) == [
        (3, "employee_id", "The employee ID “E1” is already on row 2."),
        (4, "email", "The email “one@example.gov.vn” is already on row 2."),
        (5, "email", "“not-an-email” is not a valid email address."),
        (7, "category", "Unknown category “soldier”; use one of: cadre, civil_servant, "
                        "public_employee."),
        (7, "role", "Unknown role “boss”; use one of: learner, head, hr, admin."),
        (8, "full_name", "A value is required."),
        (8, "email", "A value is required."),
        (8, "category", "A value is required."),
        (6, "unit_code", "No unit has the code “NOWHERE”; import the units first."),
        (9, "email", "This email already belongs to another person."),
    ]
    with pytest.raises(ValueError, match="errors"):
        imports.apply_plan(result)
    assert person("E1") is None


def test_two_people_may_swap_their_emails(users):
    run("staff", STAFF + dedent("""\
        L0001,Nguyễn Văn Hùng,mai@example.gov.vn,P.H1.X1,civil_servant,
        L0002,Phạm Thị Mai,hung@example.gov.vn,P.STTTT.VP,civil_servant,
    """))
    db.session.expire_all()
    assert (users["learner"].email, users["office_learner"].email) == (
        "mai@example.gov.vn", "hung@example.gov.vn")


def test_hr_rows_outside_their_subtree_are_refused(users):
    result = plan("staff", STAFF + dedent("""\
        N1,Người Mới,new1@example.gov.vn,P.STTTT.VP,cadre,
        N2,Người Ngoài,new2@example.gov.vn,P.H1.X1,cadre,
        L0001,Nguyễn Văn Hùng,hung@example.gov.vn,P.STTTT.VP,civil_servant,
        N3,Người Quản Trị,new3@example.gov.vn,P.STTTT,cadre,admin
        H0001,Trần Thị Nhân Sự,hr@example.gov.vn,P.STTTT,civil_servant,learner
    """), actor=users["hr"])
    assert errors(result) == [
        (3, "unit_code", "This unit is outside the part of the organisation you manage."),
        (4, "employee_id", "This person works outside the part of the organisation you manage."),
        (5, "role", "Only an administrator can give the administrator role."),
        (6, "role", "You cannot change your own role."),
    ]


def test_hr_deactivates_only_inside_their_subtree(users):
    result = run("staff", STAFF + "H0001,Trần Thị Nhân Sự,hr@example.gov.vn,P.STTTT,"
                 "civil_servant,\n", actor=users["hr"], deactivate_missing=True)
    assert [c.key for c in result.samples["deactivated"]] == ["L0002"]
    assert users["learner"].active
    assert users["head"].active


def test_admin_may_grant_admin(users):
    run("staff", STAFF + "N1,Người Mới,n1@example.gov.vn,P,cadre,admin\n", actor=users["admin"])
    assert person("N1").role == "admin"


def test_one_audit_event_per_applied_import(users):
    events = count(AuditEvent)
    run("staff", (DATA / "staff.csv").read_bytes(), actor=users["admin"])
    event_ = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert count(AuditEvent) == events + 1
    assert (event_.action, event_.actor_id) == ("import_staff", users["admin"].id)
    assert event_.detail["file"] == "t.csv"
    assert event_.detail["added"] == 2


def test_the_number_of_statements_does_not_grow_with_the_rows(org, statements):
    def rows(n, start):
        return STAFF + "".join(f"B{i},Người {i},b{i}@example.gov.vn,P,cadre,\n"
                               for i in range(start, start + n))

    run("staff", rows(5, 0))
    few = len(statements)
    statements.clear()
    run("staff", rows(300, 100))
    assert len(statements) == few
    assert count(User) == 305


# Reading files ---------------------------------------------------------------------------

def test_a_utf8_bom_is_accepted(org):
    run("units", codecs.BOM_UTF8 + (UNITS + "Q,Quận Một,P,\n").encode())
    assert unit_by_code("Q").name == "Quận Một"


def test_utf16_files_are_refused_with_a_hint(org):
    result = plan("units", (UNITS + "Q,Quận,P,\n").encode("utf-16"))
    assert errors(result) == [(1, "", "The file is saved as UTF-16 or UTF-32 text: save it as "
                                      "“CSV UTF-8”.")]


def test_invalid_utf8_is_reported_at_its_row_and_column(org):
    data = (UNITS + "Q,Quận,P,\n").encode() + "R,Hòa,P,\n".encode("cp1252")
    assert errors(plan("units", data)) == [
        (3, "name", "Invalid UTF-8 text: save the file as “CSV UTF-8”.")]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "The file is empty."),
    (b"PK\x03\x04\x14\x00\x06\x00", "This is not a CSV text file (a spreadsheet or a "
                                    "document?): save it as “CSV UTF-8”."),
    (UNITS.encode(), "The file has a header but no data rows."),
    (b"\n\n", "Missing column “code”."),
])
def test_files_that_are_not_usable(org, data, message):
    assert str(plan("units", data).errors[0].message) == message


def test_semicolon_files_and_extra_cells(org):
    assert run("units", "code;name;parent_code\nQ;Quận;P\n").counts["added"] == 1
    assert errors(plan("units", UNITS + "Q,Quận,P,,surprise\n")) == [
        (2, "E", "This row has more cells than the header has columns.")]


def test_an_unclosed_quote_is_pointed_at(org):
    assert errors(plan("units", UNITS + 'Q,"Quận Một,P,\nR,Quận Hai,P,\n'))[0] == (
        2, "name", "This value runs over several lines: is a quote (\") left open?")


@pytest.mark.parametrize("code", ["P/X", "P X", "Sở.TTTT", "../P", ".P", "P?x=1", "P#1"])
def test_a_unit_code_that_cannot_be_part_of_a_web_address_is_refused(org, code):
    result = plan("units", UNITS + f"{code},Đơn vị lạ,P,\n")
    assert [(column, message[:30]) for _, column, message in errors(result)] == [
        ("code", "Use only letters without diacr")]
    assert db.session.scalar(select(Unit).where(Unit.code == code)) is None
