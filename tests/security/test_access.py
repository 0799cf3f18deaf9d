"""Objects addressed by id or code: whoever changes the number in the address (the victim's,
or the ids around it, as someone guessing would) gets a 404 or a 403 and learns nothing, and
the rightful user still gets the page."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from lms.api import tokens
from lms.audit.models import AuditEvent
from lms.auth.models import User
from lms.certificates.models import Certificate
from lms.certificates.services import issue
from lms.courses.models import ProgrammeAssignment
from lms.notify.models import OutboxMessage
from lms.quizzes import services as quizzes
from lms.quizzes.models import QuizAnswer, QuizAttempt
from tests.conftest import make_unit, make_user
from tests.course_factories import assign, make_course, make_programme
from tests.quiz_factories import make_bank, right_answers

SPREAD = 3


def near(*ids):
    """The ids someone guessing would try around these: id-3 .. id+3."""
    return sorted({i + d for i in ids for d in range(-SPREAD, SPREAD + 1) if i + d > 0})


def body(response):
    return response.get_data(as_text=True)


@pytest.fixture
def dept_b(org):
    """A second department under the province, outside the HR officer's."""
    return make_unit("P.SYT", "Sở Y tế", org["province"])


@pytest.fixture
def programme(db, org):
    """A programme assigned to the whole province, so that every unit has reports."""
    course = make_course("basic-course", 1)
    programme = make_programme("basic", [course])
    assign(programme, org["province"], deadline=date.today() + timedelta(days=60))
    return programme


# Quiz attempts -----------------------------------------------------------------------------

class TestAttemptIds:
    """A learner reading, saving or submitting an attempt that is not theirs."""

    @pytest.fixture
    def attempts(self, org, users):
        bank = make_bank(make_course("alpha", 1), 3)
        others = [users["learner"]] + [make_user(org["commune"]) for _ in range(3)]
        theirs = [quizzes.start_attempt(person, bank) for person in others]
        mine = quizzes.start_attempt(users["office_learner"], bank)
        return mine, theirs

    def test_every_guessed_attempt_id_is_404_and_changes_nothing(self, client, login_as, db,
                                                                 users, attempts):
        mine, theirs = attempts
        victim = theirs[0]
        quizzes.submit_attempt(theirs[1], right_answers(theirs[1]))  # a graded one too
        login_as(users["office_learner"])
        form = {f"q-{entry['key']}": "b" for entry in victim.paper}
        tried = [n for n in near(victim.id, theirs[1].id) if n != mine.id]
        assert {victim.id, theirs[1].id} <= set(tried)
        for attempt_id in tried:
            for method, path in [("get", f"/quiz/attempts/{attempt_id}"),
                                 ("get", f"/quiz/attempts/{attempt_id}/result"),
                                 ("post", f"/quiz/attempts/{attempt_id}/save"),
                                 ("post", f"/quiz/attempts/{attempt_id}/submit")]:
                response = getattr(client, method)(path, data=form)
                assert response.status_code == 404, (method, path)
                assert "Câu hỏi" not in body(response)  # no question text leaks
        db.session.expire_all()
        assert db.session.get(QuizAttempt, victim.id).status == "open"
        assert db.session.scalar(select(func.count(QuizAnswer.id)).where(
            QuizAnswer.attempt_id == victim.id)) == 0
        # The learner's own attempt opens.
        assert client.get(f"/quiz/attempts/{mine.id}").status_code == 200

    def test_staff_above_the_learner_do_not_open_attempts_either(self, client, login_as,
                                                                 users, attempts):
        _mine, theirs = attempts
        for role in ("head", "hr", "admin"):
            login_as(users[role])
            assert client.get(f"/quiz/attempts/{theirs[0].id}").status_code == 404, role
            assert client.get(f"/quiz/attempts/{theirs[0].id}/result").status_code == 404


# Certificates ------------------------------------------------------------------------------

class TestCertificateIds:
    """Downloading someone else's certificate by its id; the public check by guessed codes."""

    @pytest.fixture
    def certificates(self, org, users, dept_b):
        course = make_course("cert-course", 1)
        people = [users["learner"], users["office_learner"], make_user(dept_b),
                  make_user(org["commune"])]
        return {person.id: issue(person, kind="course", title="An toàn thông tin",
                                 course=course, score="90%") for person in people}

    def test_a_learner_gets_404_for_every_certificate_but_their_own(self, client, login_as,
                                                                    users, certificates):
        me = users["learner"]
        mine = certificates[me.id]
        login_as(me)
        for certificate_id in near(*(c.id for c in certificates.values())):
            if certificate_id == mine.id:
                continue
            for suffix in (".pdf", "/badge.jwt"):
                response = client.get(f"/certificates/{certificate_id}{suffix}")
                assert response.status_code == 404, (certificate_id, suffix)
                assert not response.data.startswith(b"%PDF")
        response = client.get(f"/certificates/{mine.id}.pdf")
        assert response.status_code == 200
        assert response.data.startswith(b"%PDF")

    def test_hr_downloads_its_subtree_only_and_a_head_nothing(self, client, login_as, users,
                                                              certificates):
        office = certificates[users["office_learner"].id]
        login_as(users["hr"])
        for certificate in certificates.values():
            expected = 200 if certificate is office else 404
            response = client.get(f"/certificates/{certificate.id}/badge.jwt")
            assert response.status_code == expected, certificate.user.unit.code
        login_as(users["head"])  # the head of the learner's district: reads, never downloads
        assert client.get(f"/certificates/{certificates[users['learner'].id].id}.pdf") \
            .status_code == 404

    def test_the_public_check_shows_the_holder_and_course_and_nothing_personal(
            self, client, users, certificates):
        learner = users["learner"]
        certificate = certificates[learner.id]
        response = client.get(f"/verify/{certificate.code}.json")
        assert response.status_code == 200
        data = response.get_json()
        assert (data["status"], data["name"], data["serial"]) == (
            "valid", learner.full_name, certificate.serial)
        text = body(response) + body(client.get(f"/verify/{certificate.code}"))
        for secret in (learner.email, learner.employee_id, learner.unit.code, "90%"):
            assert secret not in text

    def test_guessed_codes_find_nothing(self, client, certificates):
        certificate = next(iter(certificates.values()))
        code = certificate.code
        guesses = [certificate.serial, str(certificate.id), code[:-1],
                   code[:-1] + ("A" if code[-1] != "A" else "B"), code.upper(), code.lower()]
        for guess in {g for g in guesses if g != code}:
            response = client.get(f"/verify/{guess}.json")
            assert response.status_code == 404, guess
            assert response.get_json() == {"status": "unknown"}

    def test_the_register_cannot_revoke_or_reissue_outside_the_subtree(self, client, login_as,
                                                                       db, users,
                                                                       certificates):
        office = certificates[users["office_learner"].id]
        login_as(users["hr"])
        for certificate_id in near(*(c.id for c in certificates.values())):
            if certificate_id == office.id:
                continue
            response = client.post(f"/certificates/{certificate_id}/revoke",
                                   data={"reason": "Thử gian lận"})
            assert response.status_code == 404, certificate_id
            assert client.post(f"/certificates/{certificate_id}/reissue").status_code == 404
        db.session.expire_all()
        assert db.session.scalar(select(func.count(Certificate.id)).where(
            Certificate.revoked_at.is_not(None))) == 0
        assert db.session.scalar(select(func.count(Certificate.id))) == len(certificates)
        html = body(client.get("/certificates/register"))
        assert office.serial in html
        assert certificates[users["learner"].id].serial not in html
        assert client.get("/certificates/register?unit=P.H1").status_code == 404
        assert client.get("/certificates/register.csv?unit=P.SYT").status_code == 404
        # In its subtree the revocation goes through.
        response = client.post(f"/certificates/{office.id}/revoke", data={"reason": "Sai tên"})
        assert response.status_code == 302
        assert db.session.get(Certificate, office.id).revoked_at is not None


# Staff records -----------------------------------------------------------------------------

class TestStaffRecordIds:
    """An HR officer walking through person ids: only its subtree's records exist for it."""

    @pytest.fixture
    def people(self, org, users, dept_b):
        outside = [make_user(dept_b, full_name="Võ Thị Bình"), make_user(dept_b),
                   make_user(org["commune"])]
        inside = [make_user(org["office"]), users["office_learner"], users["hr"]]
        return inside, outside

    def test_reading_and_changing_outside_records_is_404(self, client, login_as, db, users,
                                                         people):
        inside, outside = people
        inside_ids = {person.id for person in inside}
        login_as(users["hr"])
        for user_id in near(*(p.id for p in outside), users["admin"].id):
            response = client.get(f"/org/staff/{user_id}")
            assert response.status_code == (200 if user_id in inside_ids else 404), user_id
            if user_id in inside_ids:
                continue
            assert "Võ Thị Bình" not in body(response)
            for action in ("role", "deactivate", "reactivate", "send-link"):
                response = client.post(f"/org/staff/{user_id}/{action}", data={"role": "hr"})
                assert response.status_code == 404, (user_id, action)
        db.session.expire_all()
        for person in outside:
            person = db.session.get(User, person.id)
            assert (person.role, person.active, person.session_version) == ("learner", True, 1)
        assert not db.session.scalars(select(AuditEvent.action)).all()

    def test_a_staff_search_never_reaches_outside(self, client, login_as, users, people):
        login_as(users["hr"])
        html = body(client.get("/org/staff", query_string={"q": "Bình"}))
        assert "Võ Thị Bình" not in html
        assert client.get("/org/staff", query_string={"unit": "P.SYT", "q": "Bình"}) \
            .status_code == 404
        login_as(users["admin"])
        assert "Võ Thị Bình" in body(client.get("/org/staff", query_string={
            "unit": "P.SYT", "q": "Bình"}))


# Report exports ----------------------------------------------------------------------------

class TestExportCodes:
    """Report pages and downloads of a unit outside the viewer's subtree, by its code."""

    PATHS = ["/reports/units/{code}", "/reports/units/{code}/courses",
             "/reports/units/{code}/summary.csv", "/reports/units/{code}/staff.csv",
             "/reports/units/{code}/staff.xlsx", "/reports/units/{code}/record-{year}.csv"]

    def paths(self, code):
        return [path.format(code=code, year=date.today().year) for path in self.PATHS]

    @pytest.mark.parametrize(("role", "inside", "outside"), [
        ("hr", ["P.STTTT", "P.STTTT.VP"], ["P", "P.SYT", "P.H1", "P.H1.X1", "P.STTTT.X"]),
        ("head", ["P.H1", "P.H1.X1"], ["P", "P.SYT", "P.STTTT", "P.STTTT.VP", "P.H2"]),
    ])
    def test_only_the_subtree_exports(self, client, login_as, db, org, users, dept_b,
                                      programme, role, inside, outside):
        make_user(dept_b, full_name="Võ Thị Bình", employee_id="B0001")
        make_unit("P.H2", "Huyện Tây Sơn", org["province"])
        login_as(users[role])
        for code in outside:
            for path in self.paths(code):
                response = client.get(path)
                assert response.status_code == 404, path
                assert "B0001" not in body(response)
        assert db.session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "report_exported")) == 0
        for code in inside:
            for path in self.paths(code):
                assert client.get(path).status_code == 200, path
        # Not vacuous: the same downloads exist for someone who may have them.
        login_as(users["admin"])
        staff = client.get("/reports/units/P.SYT/staff.csv")
        assert staff.status_code == 200
        assert "B0001" in body(staff)


# The JSON API ------------------------------------------------------------------------------

class TestApiScope:
    """A token reads its unit's subtree: other codes do not exist for it."""

    @pytest.fixture
    def dept_token(self, db, org, users, dept_b, programme):
        make_user(dept_b, full_name="Võ Thị Bình", employee_id="B0001")
        make_user(org["office"], full_name="Đinh Văn Sở", employee_id="A0002")
        return tokens.create_token(users["admin"], "Cổng dữ liệu Sở", org["dept"])

    def get(self, client, plaintext, path):
        return client.get(path, headers={"Authorization": f"Bearer {plaintext}"})

    def test_codes_outside_the_token_are_404_like_unknown_ones(self, client, dept_token):
        _row, plaintext = dept_token
        for code in ("P", "P.SYT", "P.H1", "P.H1.X1", "NOPE", "P.STTTT%", "P.STTTT.VP/.."):
            for suffix in ("", "/progress", "/staff"):
                response = self.get(client, plaintext, f"/api/v1/units/{code}{suffix}")
                assert response.status_code == 404, (code, suffix)
                assert response.is_json
                assert "B0001" not in body(response)
        listed = self.get(client, plaintext, "/api/v1/units?per_page=500").get_json()
        assert sorted(item["code"] for item in listed["items"]) == ["P.STTTT", "P.STTTT.VP"]
        staff = self.get(client, plaintext, "/api/v1/units/P.STTTT/staff").get_json()
        assert "A0002" in [item["employee_id"] for item in staff["items"]]
        assert all("email" not in item for item in staff["items"])

    def test_a_revoked_or_altered_token_reads_nothing(self, client, db, users, dept_token):
        row, plaintext = dept_token
        assert self.get(client, plaintext, "/api/v1/units/P.STTTT/staff").status_code == 200
        for forged in (plaintext[:-1] + ("x" if plaintext[-1] != "x" else "y"),
                       plaintext.upper(), row.token_hash, row.prefix):
            assert self.get(client, forged, "/api/v1/units/P.STTTT").status_code == 401
        tokens.revoke_token(users["admin"], row)
        db.session.flush()
        for path in ("/api/v1/units", "/api/v1/units/P.STTTT/staff"):
            response = self.get(client, plaintext, path)
            assert response.status_code == 401, path
            assert "A0002" not in body(response)

    def test_another_scopes_token_does_not_widen_by_code(self, client, org, users,
                                                         dept_token):
        _row, district = tokens.create_token(users["admin"], "Huyện", org["district"])
        assert self.get(client, district, "/api/v1/units/P.STTTT/staff").status_code == 404
        assert self.get(client, district, "/api/v1/units/P.H1.X1").status_code == 200
        # The province is above the token's unit: it is not even named as the parent.
        assert self.get(client, district, "/api/v1/units/P.H1").get_json()["parent_code"] \
            is None


# The outbox --------------------------------------------------------------------------------

class TestOutboxIds:
    """Emails in the outbox are for admins only, whatever the id."""

    @pytest.fixture
    def messages(self, db, users):
        rows = [OutboxMessage(kind="reminder", period=f"2026-W{n:02d}",
                              recipient=f"user:{users['learner'].id}",
                              user_id=users["learner"].id, to_address="hung@example.gov.vn",
                              subject="Nhắc học", text_body="Mã bí mật 4242",
                              status="failed", last_error="550 mailbox")
                for n in range(1, 4)]
        db.session.add_all(rows)
        db.session.flush()
        return rows

    @pytest.mark.parametrize("role", ["learner", "head", "hr"])
    def test_non_admins_get_403_and_resend_nothing(self, client, login_as, db, users, role,
                                                   messages):
        login_as(users[role])
        for message_id in near(*(m.id for m in messages)):
            response = client.get(f"/admin/outbox/{message_id}")
            assert response.status_code == 403, message_id
            assert "4242" not in body(response)
            assert client.post(f"/admin/outbox/{message_id}/resend").status_code == 403
        assert client.get("/admin/outbox/?q=hung").status_code == 403
        db.session.expire_all()
        assert {db.session.get(OutboxMessage, m.id).status for m in messages} == {"failed"}

    def test_an_admin_reads_them(self, client, login_as, users, messages):
        login_as(users["admin"])
        response = client.get(f"/admin/outbox/{messages[0].id}")
        assert response.status_code == 200
        assert "4242" in body(response)


# Programmes and assignments ----------------------------------------------------------------

class TestAssignmentIds:
    """Removing or adding a programme assignment of a unit outside one's subtree."""

    @pytest.fixture
    def assignments(self, org, users, dept_b):
        programme = make_programme("digital", [make_course("digital-one", 1)])
        return {code: assign(programme, unit) for code, unit in (
            ("P.H1", org["district"]), ("P.SYT", dept_b), ("P.H1.X1", org["commune"]),
            ("P.STTTT.VP", org["office"]))}

    def remaining(self, db):
        db.session.expire_all()
        return set(db.session.scalars(select(ProgrammeAssignment.id)))

    def test_hr_removes_in_its_subtree_only(self, client, login_as, db, users, assignments):
        own = assignments["P.STTTT.VP"]
        before = self.remaining(db)
        login_as(users["hr"])
        for assignment_id in near(*(a.id for a in assignments.values())):
            if assignment_id == own.id:
                continue
            response = client.post(f"/programmes/assignments/{assignment_id}/remove")
            assert response.status_code == 404, assignment_id
        assert self.remaining(db) == before
        response = client.post("/programmes/assign",
                               data={"programme": "digital", "unit": "P.H2",
                                     "deadline": "2027-01-31"})
        html = body(response)
        assert response.status_code == 200  # the form again: no unit has this code
        assert 'id="unit-error"' in html or "P.H2" in html
        for code in ("P.SYT", "P", "P.H1"):
            response = client.post("/programmes/assign", data={
                "programme": "digital", "unit": code, "deadline": "2027-01-31"})
            assert response.status_code == 404, code
        assert self.remaining(db) == before
        assert not body(client.get("/programmes")).count("P.SYT")
        assert client.post(f"/programmes/assignments/{own.id}/remove").status_code == 302
        assert self.remaining(db) == before - {own.id}


# Ids beyond any row --------------------------------------------------------------------------

class TestIdsOutOfRange:
    """A number larger than any row id, in any route that takes one or in a filter: a 404 or
    no match, never an error from the database."""

    ARG = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")

    def url(self, rule, number):
        def fill(match):
            converter, options, _name = match.groups()
            if converter == "int":
                return str(number)
            if converter == "any":
                return options.split(",")[0].strip(" '\"")
            return "P"
        return self.ARG.sub(fill, rule.rule)

    @pytest.mark.parametrize("number", [2**31, 2**63, 10**25])
    def test_every_route_with_an_id_is_404(self, app, client, login_as, users, number):
        login_as(users["admin"])
        tried = []
        for rule in app.url_map.iter_rules():
            if "<int" not in rule.rule:
                continue
            method = "GET" if "GET" in rule.methods else "POST"
            path = self.url(rule, number)
            response = client.open(path, method=method)
            assert response.status_code == 404, (method, path, response.status_code)
            tried.append(rule.endpoint)
        assert {"quizzes.submit", "certificates.pdf", "org.person", "outbox.show",
                "courses.unassign", "reports.export_record"} <= set(tried)
        response = client.get("/certificates/register", query_string={"course": number})
        assert response.status_code == 200
