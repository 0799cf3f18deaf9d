"""Stored XSS, HTML channel: every field a user or an author controls, planted with hostile
text, shows as text on every page that shows it, and never runs; pages forbid inline
scripts."""

import hashlib
import html as html_module
import io
import json
import re

import pytest
from sqlalchemy import select

from lms.api.tokens import create_token
from lms.audit.models import AuditEvent
from lms.audit.services import record_event
from lms.auth.models import User
from lms.certificates.services import issue
from lms.courses import rendering
from lms.courses.models import Course, ModuleText
from lms.extensions import db
from lms.notify import outbox
from lms.notify.models import OutboxMessage
from lms.org.services import unit_by_code
from lms.quizzes.models import QuizAttempt
from tests.conftest import make_unit, make_user
from tests.course_factories import assign, make_course, make_programme, read
from tests.quiz_factories import make_bank
from tests.security.payloads import (
    CODE,
    EMAIL,
    IMG,
    JS_URL,
    NAME,
    SCRIPT,
    TEMPLATE,
    VIET,
    assert_html_safe,
    escaped,
    shown,
    wrap,
)

EMPLOYEE_ID = "E" + CODE[1:]
COURSE = f"Khoá {NAME}"
MODULE = f"Bài {NAME}"
PROGRAMME = f"Chương trình {NAME}"
FILE_NAME = "Đơn vị <svg onload=alert(1)>{{7*7}}.csv"
TOKEN = f"Token {NAME}"
# Markdown an author could write in a module, a question, a choice or a feedback.
MARKDOWN = f"""Đoạn văn **{VIET}** an toàn.

{SCRIPT}
<img src=x onerror=alert(1)>
<iframe src="https://evil.example"></iframe>
<p style="color:red" onclick="alert(1)">Chữ có style</p>

[Liên kết độc]({JS_URL}) · [Dữ liệu](data:text/html;base64,PHNjcmlwdD4=) ·
[Hợp lệ](https://example.gov.vn) {TEMPLATE}
"""


def page(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert_html_safe(html)
    return html


def audit_details(html):
    """The details column of the audit log page, read back as the data it shows."""
    return [json.loads(html_module.unescape(code)) for code in
            re.findall(r"<td><code>(.*?)</code></td>", html)]


def assert_shows(html, *texts):
    for text in texts:
        assert shown(html, text), f"{text!r} not shown"


@pytest.fixture
def hostile(db, org, users):
    """A unit, a person, a course (modules, quiz), a programme and a certificate, every name
    hostile; the person is in the district (the head's scope)."""
    rendering.clear_cache()
    unit = make_unit(CODE, NAME, org["district"])
    person = make_user(unit, "learner", NAME, EMAIL, EMPLOYEE_ID)
    course = make_course("doc-hai", 2, title=COURSE)
    for module in course.modules:
        text = module.texts[0]
        text.title, text.body = MODULE, MARKDOWN
        text.body_hash = hashlib.sha256(MARKDOWN.encode()).hexdigest()
    bank = make_bank(course, 5)
    for question in bank.questions:
        data = dict(question.data)
        data["text"] = {"vi": MARKDOWN}
        data["feedback"] = {"vi": MARKDOWN}
        if "choices" in data:
            data["choices"] = [{"id": c["id"], "text": {"vi": f"{c['id']} {MARKDOWN}"}}
                               for c in data["choices"]]
        if "accept" in data:
            data["accept"] = {"vi": [NAME]}
        question.data = data
    programme = make_programme("doc-hai", [course])
    programme.titles = {"vi": PROGRAMME, "en": PROGRAMME}
    assign(programme, org["province"])
    certificate = issue(person, kind="course", title=COURSE, course=course)
    db.session.flush()
    return {"unit": unit, "person": person, "course": course, "bank": bank,
            "programme": programme, "certificate": certificate}


# Organisation ---------------------------------------------------------------------------

class TestOrganisationPages:
    def test_unit_pages_show_a_hostile_unit_name_and_code_as_text(self, as_head, hostile,
                                                                   org):
        html = page(as_head, f"/org/units/{org['district'].code}")
        assert_shows(html, NAME, CODE)
        html = page(as_head, "/org/units/" + CODE)
        assert_shows(html, NAME, CODE)

    def test_staff_list_and_record_show_name_email_and_employee_id_as_text(self, as_head,
                                                                         hostile):
        html = page(as_head, "/org/staff?q=nguyen")
        assert_shows(html, NAME, EMPLOYEE_ID)
        html = page(as_head, f"/org/staff/{hostile['person'].id}")
        assert_shows(html, NAME, EMAIL, EMPLOYEE_ID)

    def test_a_hostile_search_is_echoed_as_text(self, as_head, hostile):
        html = page(as_head, "/org/staff?q=" + IMG)
        assert shown(html, IMG)

    def test_the_list_of_top_units(self, as_admin, hostile):
        make_unit("TOP" + CODE, NAME)
        html = page(as_admin, "/org/")
        assert_shows(html, NAME, "TOP" + CODE)

    def test_a_head_of_a_hostile_unit_sees_its_name_as_text(self, client, login_as, hostile):
        login_as(make_user(hostile["unit"], "head"))
        assert_shows(page(client, "/home"), NAME)
        response = client.get("/reports/", follow_redirects=True)
        assert_html_safe(response.get_data(as_text=True))
        assert shown(response.get_data(as_text=True), NAME)

    def test_the_signed_in_users_own_name_in_the_header_and_profile(self, client, login_as,
                                                                    hostile):
        login_as(hostile["person"])
        html = page(client, "/me")
        assert_shows(html, NAME)
        assert_shows(page(client, "/home"), NAME)


# Roster import --------------------------------------------------------------------------

def upload(client, data, kind, name="roster.csv"):
    return client.post("/org/import", data={"kind": kind, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def csv_line(*values):
    return ",".join('"' + v.replace('"', '""') + '"' for v in values) + "\n"


class TestRosterImport:
    def test_a_hostile_unit_code_is_refused_and_shown_as_text(self, as_admin, org):
        units = "code,name,parent_code\n" + csv_line(CODE, NAME, org["district"].code)
        response = upload(as_admin, units.encode(), "units", name=FILE_NAME)
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert_html_safe(html)
        assert 'id="import-errors"' in html
        assert_shows(html, FILE_NAME)
        assert unit_by_code(CODE) is None

    def test_hostile_units_and_staff_preview_import_and_show_as_text(self, as_admin, org):
        code = "X.ANH"
        units = "code,name,parent_code\n" + csv_line(code, NAME, org["district"].code)
        response = upload(as_admin, units.encode(), "units", name=FILE_NAME)
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert_html_safe(html)
        assert_shows(html, NAME, code, FILE_NAME)
        token = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
        assert as_admin.post("/org/import/apply", data={"token": token}).status_code == 302
        assert unit_by_code(code).name == NAME

        staff = ("employee_id,full_name,email,unit_code,category,role\n"
                 + csv_line(EMPLOYEE_ID, NAME, EMAIL, code, "cadre", ""))
        html = upload(as_admin, staff.encode(), "staff").get_data(as_text=True)
        assert_html_safe(html)
        assert_shows(html, NAME, EMPLOYEE_ID)
        token = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
        assert as_admin.post("/org/import/apply", data={"token": token}).status_code == 302
        person = db.session.scalar(select(User).where(User.employee_id == EMPLOYEE_ID))
        assert (person.full_name, person.email) == (NAME, EMAIL)
        assert_shows(page(as_admin, f"/org/staff/{person.id}"), NAME, EMAIL, EMPLOYEE_ID)

    def test_errors_about_hostile_values_show_them_as_text(self, as_admin, org):
        staff = ("employee_id,full_name,email,unit_code,category,role\n"
                 + csv_line(EMPLOYEE_ID, NAME, IMG + "@x", CODE, SCRIPT, TEMPLATE))
        response = upload(as_admin, staff.encode(), "staff")
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert_html_safe(html)
        assert 'id="import-errors"' in html
        assert shown(html, SCRIPT)
        assert shown(html, IMG + "@x")
        assert db.session.scalar(select(User).where(User.employee_id == EMPLOYEE_ID)) is None

    def test_an_email_that_would_add_a_mail_header_is_refused(self, as_admin, org):
        staff = ("employee_id,full_name,email,unit_code,category,role\n"
                 + csv_line("N1", "Ánh", "anh@example.gov.vn\r\nBcc: x@evil.example",
                            org["commune"].code, "cadre", ""))
        html = upload(as_admin, staff.encode(), "staff").get_data(as_text=True)
        assert 'id="import-errors"' in html
        assert db.session.scalar(select(User).where(User.employee_id == "N1")) is None


# Reports --------------------------------------------------------------------------------

class TestReportPages:
    def test_dashboards_show_hostile_unit_and_programme_names_as_text(self, as_head, hostile,
                                                                       org):
        html = page(as_head, f"/reports/units/{org['district'].code}")
        assert_shows(html, NAME, PROGRAMME)
        html = page(as_head, "/reports/units/" + CODE)
        assert_shows(html, NAME, PROGRAMME)
        html = page(as_head, "/reports/units/" + CODE + "/courses")
        assert_shows(html, COURSE)

    def test_the_programmes_pages(self, as_admin, hostile):
        assert_shows(page(as_admin, "/programmes"), PROGRAMME)
        assert_shows(page(as_admin, "/programmes/doc-hai/refreshers"), PROGRAMME)


# Certificates ---------------------------------------------------------------------------

class TestCertificatePages:
    def test_the_public_check_shows_name_and_title_as_text(self, client, hostile):
        html = page(client, f"/verify/{hostile['certificate'].code}")
        assert_shows(html, NAME, COURSE)

    def test_an_unknown_hostile_code_is_not_echoed_live(self, client):
        page(client, "/verify/" + CODE, status=404)

    def test_the_register_and_the_revocation_page(self, as_admin, hostile):
        html = page(as_admin, "/certificates/register")
        assert_shows(html, NAME, COURSE)
        html = page(as_admin, "/certificates/register?q=" + IMG)
        assert shown(html, IMG)
        html = page(as_admin, f"/certificates/{hostile['certificate'].id}/revoke")
        assert_shows(html, NAME)

    def test_a_hostile_revocation_reason_shows_as_text(self, as_admin, hostile):
        certificate = hostile["certificate"]
        response = as_admin.post(f"/certificates/{certificate.id}/revoke",
                                 data={"reason": NAME})
        assert response.status_code == 302
        assert certificate.revoked_reason == NAME
        html = page(as_admin, "/certificates/register?status=revoked")
        assert_shows(html, NAME)

    def test_my_certificates(self, client, login_as, hostile):
        login_as(hostile["person"])
        assert_shows(page(client, "/me/certificates"), COURSE)


# Courses and quizzes --------------------------------------------------------------------

def assert_markdown_tamed(html):
    """The author's Markdown kept its text and its safe link, lost everything that runs."""
    assert "an toàn" in html
    assert 'href="https://example.gov.vn"' in html
    assert "<iframe" not in html
    assert "style=" not in html.split("<main", 1)[1]
    assert "data:text/html" not in html
    assert TEMPLATE in html  # shown as written, never evaluated


class TestCoursePages:
    def test_catalogue_course_and_my_training(self, client, login_as, hostile):
        login_as(hostile["person"])
        assert_shows(page(client, "/courses"), COURSE)
        assert_shows(page(client, "/learn"), COURSE, PROGRAMME)
        assert_shows(page(client, "/courses/doc-hai"), COURSE, MODULE)

    def test_a_module_shows_its_title_as_text_and_its_markdown_sanitised(self, client,
                                                                          login_as, hostile):
        login_as(hostile["person"])
        module = hostile["course"].modules[0]
        html = page(client, f"/courses/doc-hai/{module.slug}")
        assert_shows(html, MODULE, COURSE)
        assert_markdown_tamed(html)
        following = hostile["course"].modules[1]
        assert f'href="/courses/doc-hai/{following.slug}"' in html  # the pager


class TestQuizPages:
    def test_the_quiz_the_attempt_and_the_result_with_feedback(self, client, login_as,
                                                               hostile):
        login_as(hostile["person"])
        read(hostile["person"], *hostile["course"].modules)
        assert_shows(page(client, "/courses/doc-hai/quiz"), COURSE)
        response = client.post("/courses/doc-hai/quiz/start")
        assert response.status_code == 302
        attempt_url = response.headers["Location"]
        html = page(client, attempt_url)
        assert_markdown_tamed(html)
        attempt = db.session.scalar(select(QuizAttempt).where(
            QuizAttempt.user_id == hostile["person"].id))
        form = {}
        for entry in attempt.paper:
            if entry["kind"] == "short":
                form["q-" + entry["key"]] = wrap(SCRIPT)
        assert client.post(f"{attempt_url}/submit", data=form).status_code == 302
        html = page(client, f"{attempt_url}/result")
        assert_markdown_tamed(html)
        assert_shows(html, wrap(SCRIPT), NAME)  # the learner's answer, the accepted one

    def test_the_statistics_page_shows_question_texts_as_text(self, as_admin, hostile):
        html = page(as_admin, f"/quizzes/{hostile['bank'].slug}/stats")
        assert_shows(html, f"Đoạn văn **{VIET}** an toàn. {SCRIPT}")


# Content synced from files --------------------------------------------------------------

def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# What the sync lets an author write: HTML in code (shown as code), a tag spread over lines
# (the line check cannot see it: the sanitiser must), template syntax.
SYNCED_BODY = f"""

Mã `{SCRIPT}` và khối:

```
{IMG}
```

<img
src=x onerror=alert(1)>

{TEMPLATE} {VIET.replace("<b>", "`<b>`")}
"""


def hostile_bank():
    """A question bank for first-steps whose six questions carry the payloads (Markdown
    texts may hold HTML only as code)."""
    questions = "".join(f"""
  - id: q{n}
    type: single
    text:
      vi: 'Câu {n} `{SCRIPT}` {TEMPLATE}?'
      en: 'Question {n} `{SCRIPT}`?'
    choices:
      - id: a
        vi: 'Nguyễn Thị "Ánh" `{IMG}`'
        en: 'Anh `{IMG}`'
      - id: b
        vi: 'Đúng'
        en: 'Right'
    answer: b
    feedback:
      vi: 'Giải thích `{IMG}` [hướng dẫn](https://example.gov.vn)'
      en: 'Why `{IMG}`'
""" for n in range(1, 7))
    return ("course: first-steps\nversion: 1\nsettings:\n  draw: 2\n  pass_mark: 0.5\n"
            "  show_answers: after_submit\nquestions:" + questions)


@pytest.fixture
def synced(db, content, sync, users):
    """tests/content/small with hostile titles, a summary, a body, questions, choices,
    feedback and a programme title, synced; every module read by the learner."""
    rendering.clear_cache()
    course = content / "courses/first-steps/vi"
    edit(course / "course.md", 'title: "Những bước đầu tiên"', f"title: '{COURSE}'")
    edit(course / "course.md", 'summary: "Làm quen với học trực tuyến."', f"summary: '{NAME}'")
    edit(course / "02-practice.md", 'title: "Thực hành"', f"title: '{MODULE}'")
    (course / "02-practice.md").write_text(
        (course / "02-practice.md").read_text(encoding="utf-8") + SYNCED_BODY, encoding="utf-8")
    (content / "quizzes/first-steps.yaml").write_text(hostile_bank(), encoding="utf-8")
    edit(content / "programmes/starter.yaml", 'vi: "Khởi đầu"', f"vi: '{PROGRAMME}'")
    sync()
    found = db.session.scalar(select(Course).where(Course.slug == "first-steps"))
    read(users["learner"], *found.modules)
    return found


class TestSyncedContent:
    def test_titles_and_bodies_from_files_show_as_text(self, as_learner, synced):
        assert_shows(page(as_learner, "/courses"), COURSE)
        html = page(as_learner, "/courses/first-steps")
        assert_shows(html, COURSE, NAME, MODULE)
        html = page(as_learner, "/courses/first-steps/02-practice")
        assert_shows(html, MODULE, SCRIPT, IMG)  # the code span and the fenced block
        assert f"<code>{escaped(SCRIPT)}</code>" in html
        assert TEMPLATE in html
        assert "Nguyễn Thị" in html

    def test_questions_choices_feedback_and_answers_from_files_show_as_text(
            self, client, as_learner, synced):
        response = client.post("/courses/first-steps/quiz/start")
        attempt_url = response.headers["Location"]
        html = page(client, attempt_url)
        assert_shows(html, SCRIPT, IMG)  # the question, the choice
        assert "Nguyễn Thị" in html
        assert client.post(f"{attempt_url}/submit", data={}).status_code == 302
        html = page(client, f"{attempt_url}/result")
        assert_shows(html, SCRIPT, IMG)
        assert "Giải thích" in html  # the feedback
        assert 'href="https://example.gov.vn"' in html

    def test_a_drawing_that_carries_a_script_is_never_rendered_on_our_origin(
            self, as_learner, synced):
        # tests/content/small's drawing.svg has onload="alert(1)"
        response = as_learner.get("/courses/first-steps/media/vi/img/drawing.svg")
        assert response.mimetype != "image/svg+xml"
        if response.status_code == 200:
            assert response.headers["Content-Disposition"].startswith("attachment")
            assert "sandbox" in response.headers["Content-Security-Policy"]
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        else:
            assert response.status_code == 404
        assert as_learner.get("/courses/first-steps/media/vi/img/notes.txt").status_code == 404
        response = as_learner.get("/courses/first-steps/media/vi/img/pixel.png")
        assert response.mimetype == "image/png"
        assert response.headers["X-Content-Type-Options"] == "nosniff"

    def test_the_programme_title_from_a_file(self, as_admin, synced):
        assert_shows(page(as_admin, "/programmes"), PROGRAMME)

    def test_raw_html_in_a_file_is_refused_and_changes_nothing(self, db, content, sync):
        sync()
        edit(content / "courses/first-steps/vi/02-practice.md", 'title: "Thực hành"',
             f"title: '{MODULE}'")
        path = content / "courses/first-steps/vi/02-practice.md"
        path.write_text(path.read_text(encoding="utf-8") + f"\n{SCRIPT}\n", encoding="utf-8")
        result = sync(code=1)
        assert "raw HTML <script> is not allowed" in result.output + result.stderr
        assert db.session.scalar(select(ModuleText.title).where(
            ModuleText.title == MODULE)) is None


# Administration -------------------------------------------------------------------------

class TestAdministrationPages:
    def test_a_failed_sign_in_with_a_hostile_login_shows_as_text_in_the_audit_log(
            self, as_admin):
        record_event("login_failed", ip="203.0.113.9", login=NAME)
        db.session.flush()
        html = page(as_admin, "/admin/audit?action=login_failed")
        assert audit_details(html) == [{"login": NAME}]

    def test_the_sign_in_form_records_the_login_as_typed(self, client, db):
        response = client.post("/login", data={"login": NAME, "password": "x"})
        assert_html_safe(response.get_data(as_text=True))
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "login_failed")
                                  .order_by(AuditEvent.id.desc()))
        assert event.detail["login"] == NAME

    def test_api_tokens_list_created_and_revoke_pages(self, as_admin, users, hostile):
        response = as_admin.post("/admin/api-tokens/new", data={"name": TOKEN, "unit": CODE})
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert_html_safe(html)
        assert_shows(html, TOKEN, NAME, CODE)
        assert_shows(page(as_admin, "/admin/api-tokens"), TOKEN, NAME, CODE)
        token, _secret = create_token(users["admin"], TOKEN, hostile["unit"])
        db.session.flush()
        assert_shows(page(as_admin, f"/admin/api-tokens/{token.id}/revoke"), TOKEN)
        response = as_admin.post(f"/admin/api-tokens/{token.id}/revoke", data={})
        assert response.status_code == 302
        assert_shows(page(as_admin, "/admin/api-tokens"), TOKEN)  # the flash too
        details = audit_details(page(as_admin, "/admin/audit?action=api_token_revoked"))
        assert details[0]["name"] == TOKEN

    def test_outbox_list_and_message(self, as_admin, hostile):
        outbox.enqueue("reminder", "2026-W47", hostile["person"], NAME, f"{NAME}\n{SCRIPT}",
                       f"<p>{SCRIPT}</p>", unit=hostile["unit"])
        db.session.flush()
        row = db.session.scalar(select(OutboxMessage))
        html = page(as_admin, "/admin/outbox/")
        assert_shows(html, NAME, EMAIL)
        html = page(as_admin, f"/admin/outbox/{row.id}")
        assert_shows(html, NAME, SCRIPT)
        html = page(as_admin, "/admin/outbox/?q=" + IMG)
        assert shown(html, IMG)


# Headers --------------------------------------------------------------------------------

class TestHeaders:
    @pytest.mark.parametrize("url", ["/login", "/verify", "/verify/NOPE-NOPE"])
    def test_pages_forbid_inline_scripts(self, client, url):
        response = client.get(url)
        policy = response.headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
        script = directives.get("script-src", directives.get("default-src"))
        assert "'unsafe-inline'" not in script
        assert "'unsafe-eval'" not in script
        assert "*" not in script.split()
        assert "data:" not in script
        assert directives["object-src"] == "'none'"
        assert directives["base-uri"] == "'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"

    def test_signed_in_pages_forbid_inline_scripts_too(self, as_admin, hostile):
        for url in (f"/org/staff/{hostile['person'].id}", "/admin/audit",
                    "/certificates/register"):
            policy = as_admin.get(url).headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy
            assert "unsafe-inline" not in policy
