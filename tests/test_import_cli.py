"""`flask lms import-units` and `flask lms import-staff` as an administrator runs them."""

from pathlib import Path

from sqlalchemy import func, select

from lms.auth.models import User
from lms.extensions import db
from lms.org.models import Unit
from lms.org.services import unit_by_code

DATA = Path(__file__).parent / "data"
STAFF = "employee_id,full_name,email,unit_code,category,role\n"


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def write(tmp_path, text, name="roster.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_import_units_writes_and_summarises(runner, org):
    result = runner.invoke(args=["lms", "import-units", str(DATA / "units.csv")])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(
        "units.csv: 2 added, 0 updated, 5 unchanged.")
    assert unit_by_code("P.H1.X2").parent_id == org["district"].id


def test_import_staff_twice_changes_nothing_the_second_time(runner, users):
    args = ["lms", "import-staff", str(DATA / "staff.csv")]
    assert runner.invoke(args=args).exit_code == 0
    result = runner.invoke(args=args)
    assert result.exit_code == 0
    assert "0 added, 0 updated (0 reactivated), 4 unchanged, 0 deactivated." in result.stdout


def test_errors_are_printed_per_row_and_nothing_is_written(runner, org, tmp_path):
    path = write(tmp_path, STAFF + "N1,Người Một,n1@example.gov.vn,P,cadre,\n"
                                  "N2,Người Hai,n2@example,NOWHERE,cadre,\n")
    result = runner.invoke(args=["lms", "import-staff", path])
    assert result.exit_code == 1
    assert f"{path}:3:email: “n2@example” is not a valid email address." in result.stderr
    assert f"{path}:3:unit_code: No unit has the code “NOWHERE”; import the units first." \
        in result.stderr
    assert "2 error(s): nothing was imported." in result.stderr
    assert count(User) == 0


def test_dry_run_reports_the_changes_and_writes_nothing(runner, users):
    result = runner.invoke(args=["lms", "import-staff", "--dry-run", "--deactivate-missing",
                                 str(DATA / "staff.csv")])
    assert result.exit_code == 0, result.output
    assert "+ S0001 Đỗ Thị Lan (unit_code: P.STTTT.VP; role: learner)" in result.stdout
    assert "- H0001 Trần Thị Nhân Sự" in result.stdout
    assert "Dry run, nothing written." in result.stdout
    assert db.session.scalar(select(User).where(User.employee_id == "S0001")) is None
    assert users["hr"].active


def test_deactivate_missing(runner, users):
    result = runner.invoke(args=["lms", "import-staff", "--deactivate-missing",
                                 str(DATA / "staff.csv")])
    assert result.exit_code == 0, result.output
    assert "2 added, 0 updated (0 reactivated), 2 unchanged, 2 deactivated." in result.stdout
    db.session.expire_all()
    assert not users["hr"].active
    assert not users["head"].active
    assert users["admin"].active


def test_a_utf16_file_is_refused_with_a_hint(runner, org, tmp_path):
    path = write(tmp_path, "code,name,parent_code\nQ,Quận,P\n", encoding="utf-16")
    result = runner.invoke(args=["lms", "import-units", path])
    assert result.exit_code == 1
    assert f"{path}:1: The file is saved as UTF-16 or UTF-32 text: save it as “CSV UTF-8”." \
        in result.stderr
    assert count(Unit) == 5


def test_a_missing_file_is_a_usage_error(runner, tmp_path):
    result = runner.invoke(args=["lms", "import-units", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
