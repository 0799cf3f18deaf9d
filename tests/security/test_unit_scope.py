"""Access is checked against the object's unit: HR and heads reach their own subtree only,
a head reads but never acts, an administrator's record is out of HR's hands, and a form
cannot move someone into one's subtree to reach them."""

import io

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditEvent
from lms.auth.models import User
from lms.certificates.models import Certificate
from lms.certificates.services import issue
from lms.courses.models import ProgrammeAssignment
from lms.org.models import Unit
from tests.conftest import make_unit, make_user
from tests.course_factories import assign, make_course, make_programme
from tests.quiz_factories import make_bank

STAFF = "employee_id,full_name,email,unit_code,category,role\n"


def body(response):
    return response.get_data(as_text=True)


def audit_count(db):
    return db.session.scalar(select(func.count(AuditEvent.id)))


def upload(client, text, kind="staff"):
    return client.post("/org/import", data={"kind": kind, "file": (io.BytesIO(text.encode()),
                                                                    "roster.csv")},
                       content_type="multipart/form-data")


@pytest.fixture
def dept_b(org):
    """A second department: outside the HR officer's subtree."""
    return make_unit("P.SYT", "Sở Y tế", org["province"])


class TestOtherDepartment:
    """HR of department A naming a person, unit or certificate of department B."""

    def test_everything_of_department_b_is_404(self, client, login_as, db, users, dept_b):
        binh = make_user(dept_b, full_name="Võ Thị Bình", employee_id="B0001",
                         activated=False)
        certificate = issue(binh, kind="course", title="Khoá B", course=make_course("b", 1))
        login_as(users["hr"])
        before = audit_count(db)
        for path in ("/org/units/P.SYT", "/org/staff?unit=P.SYT", f"/org/staff/{binh.id}",
                     "/reports/units/P.SYT", f"/certificates/{certificate.id}.pdf",
                     f"/certificates/{certificate.id}/revoke",
                     "/certificates/register?unit=P.SYT"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert "Võ Thị Bình" not in body(response)
        for path in ("/org/units/P.SYT/invite", f"/org/staff/{binh.id}/send-link",
                     f"/org/staff/{binh.id}/deactivate", f"/certificates/{certificate.id}/reissue"):
            assert client.post(path).status_code == 404, path
        db.session.expire_all()
        assert db.session.get(User, binh.id).active
        assert db.session.get(User, binh.id).invited_at is None
        assert db.session.get(Certificate, certificate.id).revoked_at is None
        assert audit_count(db) == before
        # The same kinds of object in its own department are open to it.
        mai = users["office_learner"]
        assert client.get("/org/units/P.STTTT.VP").status_code == 200
        assert "Phạm Thị Mai" in body(client.get(f"/org/staff/{mai.id}"))


class TestSiblingDistrict:
    """A head of a district looking at the district next door."""

    def test_the_sibling_district_does_not_exist_for_the_head(self, client, login_as, org,
                                                              users):
        sibling = make_unit("P.H2", "Huyện Tây Sơn", org["province"])
        commune = make_unit("P.H2.X1", "Xã Tây Hòa", sibling)
        neighbour = make_user(commune, full_name="Lý Văn Tây")
        assign(make_programme("p", [make_course("c", 1)]), org["province"])
        login_as(users["head"])
        for path in ("/org/units/P.H2", "/org/units/P.H2.X1", "/org/staff?unit=P.H2",
                     f"/org/staff/{neighbour.id}", "/reports/units/P.H2",
                     "/reports/units/P.H2.X1/staff.csv", "/reports/units/P/summary.csv",
                     "/org/units/P"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert "Lý Văn Tây" not in body(response)
        own = body(client.get("/org/units/P.H1"))
        assert "Xã Đông Hòa" in own
        assert 'href="/org/units/P"' not in own  # the province above is not even linked
        assert "Lý Văn Tây" not in body(client.get("/org/staff", query_string={"q": "Tây"}))
        report = body(client.get("/reports/units/P.H1"))
        assert "Huyện Tây Sơn" not in report


class TestHeadIsReadOnly:
    """A head posting to the routes of HR, on people and units of its own district."""

    @pytest.fixture
    def district_things(self, org, users):
        course = make_course("alpha", 1)
        make_bank(course, 3)
        assignment = assign(make_programme("p", [course]), org["district"])
        certificate = issue(users["learner"], kind="course", title="Alpha", course=course)
        return assignment, certificate

    def test_every_hr_action_is_403_and_changes_nothing(self, client, login_as, db, users,
                                                        district_things):
        assignment, certificate = district_things
        learner = users["learner"]
        login_as(users["head"])
        before = audit_count(db)
        posts = [
            (f"/org/staff/{learner.id}/role", {"role": "hr"}),
            (f"/org/staff/{learner.id}/deactivate", {}),
            (f"/org/staff/{learner.id}/reactivate", {}),
            (f"/org/staff/{learner.id}/send-link", {}),
            ("/org/units/P.H1/invite", {}),
            ("/org/import/apply", {"token": "x"}),
            ("/programmes/assign", {"programme": "p", "unit": "P.H1.X1",
                                    "deadline": "2027-01-01"}),
            (f"/programmes/assignments/{assignment.id}/remove", {}),
            (f"/certificates/{certificate.id}/revoke", {"reason": "Thử"}),
            (f"/certificates/{certificate.id}/reissue", {}),
            ("/admin/api-tokens/new", {"name": "x", "unit": "P.H1"}),
        ]
        for path, data in posts:
            response = client.post(path, data=data)
            assert response.status_code == 403, path
        assert upload(client, STAFF + "N1,Đỗ Văn Nam,nam@example.gov.vn,P.H1.X1,cadre,\n") \
            .status_code == 403
        for path in ("/org/import", f"/certificates/{certificate.id}/revoke",
                     "/quizzes/alpha-quiz/stats", "/admin/api-tokens"):
            assert client.get(path).status_code == 403, path
        db.session.expire_all()
        learner = db.session.get(User, learner.id)
        assert (learner.role, learner.active, learner.invited_at) == ("learner", True, None)
        assert db.session.get(ProgrammeAssignment, assignment.id) is not None
        assert db.session.scalar(select(func.count(ProgrammeAssignment.id))) == 1
        assert db.session.get(Certificate, certificate.id).revoked_at is None
        assert db.session.scalar(select(func.count(User.id)).where(
            User.employee_id == "N1")) == 0
        assert audit_count(db) == before
        # What a head may do: read the same things.
        assert client.get(f"/org/staff/{learner.id}").status_code == 200
        assert certificate.serial in body(client.get("/certificates/register"))


class TestAdministratorRecords:
    """An administrator placed in HR's department: HR sees the record, never changes it."""

    def test_hr_cannot_change_an_admin_in_its_subtree(self, client, login_as, db, org, users):
        chief = make_user(org["office"], "admin", full_name="Hoàng Quản Trị",
                          employee_id="AD0002", email="chief@example.gov.vn")
        certificate = issue(chief, kind="course", title="Alpha", course=make_course("a", 1))
        login_as(users["hr"])
        before = audit_count(db)
        page = body(client.get(f"/org/staff/{chief.id}"))
        assert "Hoàng Quản Trị" in page
        assert f"/org/staff/{chief.id}/role" not in page
        assert f"/org/staff/{chief.id}/deactivate" not in page
        for action in ("role", "deactivate", "send-link"):
            response = client.post(f"/org/staff/{chief.id}/{action}", data={"role": "learner"})
            assert response.status_code == 404, action
        assert client.post(f"/certificates/{certificate.id}/revoke",
                           data={"reason": "x"}).status_code == 404
        assert client.get(f"/certificates/{certificate.id}.pdf").status_code == 404
        preview = body(upload(client, STAFF + "AD0002,Hoàng Quản Trị,evil@example.gov.vn,"
                                              "P.STTTT.VP,civil_servant,learner\n"))
        assert 'id="import-errors"' in preview
        assert 'id="apply"' not in preview
        db.session.expire_all()
        chief = db.session.get(User, chief.id)
        assert (chief.role, chief.active, chief.email) == ("admin", True,
                                                           "chief@example.gov.vn")
        assert db.session.get(Certificate, certificate.id).revoked_at is None
        assert audit_count(db) == before

    def test_hr_grants_neither_admin_nor_itself_a_role(self, client, login_as, db, users):
        mai, hr = users["office_learner"], users["hr"]
        login_as(hr)
        assert client.post(f"/org/staff/{mai.id}/role", data={"role": "admin"}) \
            .status_code == 403
        assert client.post(f"/org/staff/{hr.id}/role", data={"role": "admin"}) \
            .status_code == 403
        assert client.post(f"/org/staff/{hr.id}/deactivate").status_code == 403
        db.session.expire_all()
        assert db.session.get(User, mai.id).role == "learner"
        assert (db.session.get(User, hr.id).role, db.session.get(User, hr.id).active) == (
            "hr", True)
        # A role below admin in its subtree is HR's to give.
        assert client.post(f"/org/staff/{mai.id}/role", data={"role": "head"}) \
            .status_code == 302
        db.session.expire_all()
        assert db.session.get(User, mai.id).role == "head"


class TestMovingIntoTheSubtree:
    """An import that would move a person or a unit into HR's subtree, to reach them."""

    def test_a_person_of_another_department_cannot_be_pulled_in(self, client, login_as, db,
                                                                users, dept_b):
        binh = make_user(dept_b, full_name="Võ Thị Bình", employee_id="B0001",
                         email="binh@example.gov.vn")
        login_as(users["hr"])
        for row in ("B0001,Võ Thị Bình,binh@example.gov.vn,P.STTTT.VP,civil_servant,\n",
                    "B0001,Võ Thị Bình,binh@example.gov.vn,P.STTTT.VP,civil_servant,hr\n"):
            response = upload(client, STAFF + row)
            page = body(response)
            assert response.status_code == 200
            assert 'id="import-errors"' in page
            assert 'id="apply"' not in page
        db.session.expire_all()
        assert db.session.get(User, binh.id).unit_id == dept_b.id
        assert client.get(f"/org/staff/{binh.id}").status_code == 404
        # Nor can one of its own people be pushed out to the other department.
        mai = users["office_learner"]
        page = body(upload(client, STAFF + f"L0002,Phạm Thị Mai,{mai.email},P.SYT,"
                                           "civil_servant,\n"))
        assert 'id="import-errors"' in page
        assert db.session.get(User, mai.id).unit_id == users["office_learner"].unit_id

    def test_a_unit_of_another_department_cannot_be_hung_below_ones_own(self, client,
                                                                        login_as, db, org,
                                                                        users, dept_b):
        login_as(users["hr"])
        page = body(upload(client, "code,name,parent_code,head_employee_id\n"
                                   "P.SYT,Sở Y tế,P.STTTT,\n", kind="units"))
        assert 'id="import-errors"' in page
        assert 'id="apply"' not in page
        db.session.expire_all()
        unit = db.session.get(Unit, dept_b.id)
        assert (unit.parent_id, unit.path) == (org["province"].id, dept_b.path)
        assert client.get("/org/units/P.SYT").status_code == 404
