"""Stored XSS and injection, other channels: emails (HTML escaped, text literal, headers
intact), certificate PDFs (literal text, no active content), spreadsheet exports (no cell a
spreadsheet would run) and JSON (a string, never HTML)."""

import csv
import io
import zipfile
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject
from sqlalchemy import select

from lms.api.tokens import create_token
from lms.certificates.models import Certificate
from lms.certificates.refreshers import invite_refreshers
from lms.certificates.services import issue
from lms.notify import outbox
from lms.notify.digests import local_today, queue_digests
from lms.notify.reminders import queue_expiry_reminders, queue_reminders
from lms.org.models import utcnow
from tests.conftest import make_unit, make_user
from tests.course_factories import assign, make_course, make_programme
from tests.security.payloads import (
    CODE,
    DDE,
    EMAIL,
    FORMULAS,
    HEADER_INJECTION,
    HYPERLINK,
    NAME,
    SCRIPT,
    VIET,
    assert_html_safe,
    neutralised,
    shown,
)

COURSE = f"Khoá {NAME}"
PROGRAMME = f"Chương trình {NAME}"


@pytest.fixture
def hostile(db, org, users):
    """A unit under the district headed by a person, both named with every HTML attack; a
    programme of one course due in ten days, assigned to the province; the head holds a
    certificate of another course that expires in a week and one that expired."""
    unit = make_unit(CODE, NAME, org["district"])
    head = make_user(unit, "head", NAME, EMAIL, "E" + CODE[1:])
    course = make_course("doc-hai", 1, title=COURSE)
    programme = make_programme("doc-hai", [course])
    programme.titles = {"vi": PROGRAMME}
    today = local_today()
    assign(programme, org["province"], deadline=today + timedelta(days=10))
    soon = make_course("sap-het", 1, title=COURSE)
    issue(head, kind="course", title=COURSE, course=soon, expires_on=today + timedelta(days=7))
    gone = make_course("het-han", 1, title=COURSE)
    issue(head, kind="course", title=COURSE, course=gone, expires_on=today - timedelta(days=1))
    db.session.flush()
    return {"unit": unit, "head": head, "course": course, "programme": programme}


# Emails ---------------------------------------------------------------------------------

def sent_to(app, smtp, monkeypatch, address):
    """Send what the outbox holds through the test SMTP server; the messages for `address`,
    each checked for a single recipient and no header added by a name."""
    monkeypatch.setitem(app.config, "SMTP_URL", smtp.url)
    outbox.send_due()
    received = []
    for _sender, recipients, message in smtp.inbox.messages:
        assert len(recipients) == 1
        assert [name for name in message if name.lower() in ("bcc", "cc", "reply-to")] == []
        assert message.get_all("To") == recipients
        if recipients == [address]:
            received.append(message)
    return received


def parts(message):
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert_html_safe(html)
    return html, text


class TestEmails:
    def test_digest_reminder_expiry_and_refresher_escape_html_and_keep_the_text(
            self, app, db, hostile, smtp, monkeypatch):
        today = local_today()
        queue_digests(today - timedelta(days=today.weekday()), unit_code=CODE)
        assert queue_reminders(today) >= 1
        assert queue_expiry_reminders(today) == 1
        assert invite_refreshers(utcnow()) == (1, 1)
        messages = sent_to(app, smtp, monkeypatch, EMAIL)
        assert len(messages) == 4
        for message in messages:
            html, text = parts(message)
            assert NAME in text  # "Hello <name>," in the text part, as written
            assert shown(html, NAME)
        subjects = " | ".join(message["Subject"] for message in messages)
        assert NAME in subjects  # the digest's subject names the unit
        assert COURSE in subjects  # the expiry's names the course
        about_programme = [parts(message) for message in messages
                           if PROGRAMME in parts(message)[1]]
        assert len(about_programme) == 2  # the digest, the reminder
        assert all(shown(html, PROGRAMME) for html, _text in about_programme)

    def test_an_account_link_escapes_the_name(self, app, hostile, smtp, monkeypatch):
        from lms.auth.mails import send_account_link

        monkeypatch.setitem(app.config, "SMTP_URL", smtp.url)
        with app.test_request_context():
            send_account_link(hostile["head"])
        [(_sender, recipients, message)] = smtp.inbox.messages
        assert recipients == [EMAIL]
        html, text = parts(message)
        assert NAME in text
        assert shown(html, NAME)
        assert message["Bcc"] is None

    def test_a_name_with_a_line_break_adds_no_header(self, app, db, org, smtp, monkeypatch):
        unit = make_unit("CRLF", HEADER_INJECTION, org["district"])
        head = make_user(unit, "head", HEADER_INJECTION, "truong@example.gov.vn")
        course = make_course("crlf", 1, title=HEADER_INJECTION)
        today = local_today()
        issue(head, kind="course", title=HEADER_INJECTION, course=course,
              expires_on=today + timedelta(days=3))
        queue_digests(today - timedelta(days=today.weekday()), unit_code="CRLF")
        assert queue_expiry_reminders(today) == 1
        messages = sent_to(app, smtp, monkeypatch, "truong@example.gov.vn")
        assert len(messages) == 2
        for message in messages:
            assert "Bcc: x@evil.example" in message["Subject"]  # kept inside the subject


# Certificate PDFs -----------------------------------------------------------------------

# Names of actions and objects that run or fetch something when the document is opened.
ACTIVE = (b"/JavaScript", b"/JS ", b"/JS(", b"/JS<", b"/Launch", b"/AA ", b"/AA<",
          b"/SubmitForm", b"/ImportData", b"/RichMedia", b"/XFA", b"/GoToR", b"/GoToE")


# A name that tries to close the PDF string it is written in and open an action of its own.
PDF_BREAKOUT = "Ánh) >> /OpenAction << /S /JavaScript /JS (app.alert(1)) >> (x\\"


ACTION_TYPES = {"/JavaScript", "/Launch", "/URI", "/SubmitForm", "/ImportData", "/GoToR",
                "/GoToE", "/ResetForm", "/Rendition", "/Movie", "/Sound", "/Hide"}


def actions(reader):
    """Every action dictionary in the document, and every /JS or /AA entry."""
    found, seen = [], set()

    def walk(node):
        if isinstance(node, IndirectObject):
            if node.idnum in seen:
                return
            seen.add(node.idnum)
            node = node.get_object()
        if isinstance(node, DictionaryObject):
            if node.get("/S") in ACTION_TYPES or any(key in node for key in ("/JS", "/AA")):
                found.append(dict(node))
            for value in node.values():
                walk(value)
        elif isinstance(node, ArrayObject):
            for item in node:
                walk(item)

    walk(reader.trailer)
    return found


def uris(reader):
    """Every /URI value anywhere in the document."""
    found, seen = [], set()

    def walk(node):
        if isinstance(node, IndirectObject):
            if node.idnum in seen:
                return
            seen.add(node.idnum)
            node = node.get_object()
        if isinstance(node, DictionaryObject):
            for key, value in node.items():
                if key == "/URI":
                    found.append(str(value.get_object()))
                walk(value)
        elif isinstance(node, ArrayObject):
            for item in node:
                walk(item)

    walk(reader.trailer)
    return found


class TestCertificatePdf:
    def test_the_pdf_prints_the_hostile_name_and_title_as_text_with_no_active_content(
            self, client, login_as, hostile, key_dir):
        person = hostile["head"]
        certificate = issue(person, kind="course", title=COURSE, course=hostile["course"])
        login_as(person)
        response = client.get(f"/certificates/{certificate.id}.pdf")
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        data = response.data
        reader = PdfReader(io.BytesIO(data))
        lines = reader.pages[0].extract_text().splitlines()
        assert NAME in lines
        assert COURSE in lines
        assert reader.metadata.title == f"{COURSE} – {NAME}"
        for marker in ACTIVE:
            assert marker not in data, marker
        opening = reader.trailer["/Root"].get("/OpenAction")
        assert opening is None or isinstance(opening.get_object(), ArrayObject)  # a view
        assert [action for action in actions(reader) if action.get("/S") != "/URI"] == []
        assert all(uri.endswith(f"/verify/{certificate.code}") for uri in uris(reader))
        assert "attachment" in response.headers["Content-Disposition"]

    def test_a_name_that_breaks_out_of_a_pdf_string_stays_text(self, db, org, key_dir, app):
        from lms.certificates.documents import pdf_of

        person = make_user(org["commune"], full_name=PDF_BREAKOUT)
        course = make_course("pdf", 1, title=PDF_BREAKOUT)
        certificate = issue(person, kind="course", title=PDF_BREAKOUT, course=course)
        with app.test_request_context():
            reader = PdfReader(io.BytesIO(pdf_of(certificate)))
        assert PDF_BREAKOUT in reader.pages[0].extract_text().splitlines()
        assert reader.metadata.title == f"{PDF_BREAKOUT} – {PDF_BREAKOUT}"
        assert actions(reader) == []
        assert isinstance(reader.trailer["/Root"]["/OpenAction"].get_object(), ArrayObject)


# Spreadsheet exports --------------------------------------------------------------------

def formula_world(db, org, hostile):
    """People of the hostile unit whose name, employee ID and unit start like formulas; each
    holds a certificate of a course whose title starts like one."""
    unit = make_unit("+SUM(1)", "@SUM(1) Phòng", hostile["unit"])
    people = []
    for n, payload in enumerate(FORMULAS):
        person = make_user(unit, full_name=f"{payload} {VIET}", employee_id=f"{payload}#{n}")
        issue(person, kind="course", title=f"{payload} Khoá", course=hostile["course"])
        people.append(person)
    # openpyxl drops control characters: one before a formula must not uncover it.
    person = make_user(unit, full_name=f"\x01{HYPERLINK}", employee_id="\x02=1+1")
    people.append(person)
    db.session.flush()
    return people


def csv_cells(response):
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    text = response.get_data(as_text=True).removeprefix("\ufeff")
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def xlsx_cells(response):
    assert response.status_code == 200
    data = response.data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in archive.read(name), name  # no formula anywhere
    sheet = load_workbook(io.BytesIO(data)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert all(cell.data_type != "f" for cell in cells)
    return [cell.value for cell in cells]


def assert_neutralised(cells, *texts):
    for cell in cells:
        assert neutralised(cell), repr(cell)
    joined = "\n".join(str(cell) for cell in cells)
    for text in texts:
        assert text in joined, text


class TestSpreadsheetExports:
    @pytest.mark.parametrize("fmt", ["csv", "xlsx"])
    def test_report_exports_neutralise_formulas_and_keep_the_text(self, as_admin, db, org,
                                                                  hostile, fmt):
        formula_world(db, org, hostile)
        year = local_today().year
        read = csv_cells if fmt == "csv" else xlsx_cells
        for path in (f"summary.{fmt}", f"staff.{fmt}", f"record-{year}.{fmt}"):
            response = as_admin.get(f"/reports/units/{CODE}/{path}")
            cells = read(response)
            assert_neutralised(cells, NAME)
            if path.startswith("staff"):
                assert f"'{HYPERLINK} {VIET}" in cells
                assert NAME in cells  # the head: HTML in a cell is only text
            if path.startswith("record"):
                assert f"'{HYPERLINK} Khoá" in cells

    def test_the_certificate_register_export(self, as_admin, db, org, hostile):
        formula_world(db, org, hostile)
        certificate = db.session.scalar(select(Certificate).where(
            Certificate.title == f"{DDE} Khoá"))
        response = as_admin.post(f"/certificates/{certificate.id}/revoke",
                                 data={"reason": HYPERLINK})
        assert response.status_code == 302
        cells = csv_cells(as_admin.get("/certificates/register.csv"))
        assert_neutralised(cells, NAME, COURSE)
        assert f"'{HYPERLINK} {VIET}" in cells  # a name
        assert f"'{DDE} Khoá" in cells  # a title
        assert f"'{HYPERLINK}" in cells  # the reason of the revocation

    def test_the_download_name_of_a_hostile_unit_is_harmless(self, as_admin, hostile):
        response = as_admin.get(f"/reports/units/{CODE}/summary.csv")
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert "\r" not in disposition
        assert "\n" not in disposition
        assert disposition.count('"') == 2  # only the quotes around the ASCII name


# JSON -----------------------------------------------------------------------------------

def assert_json(response, status=200):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return response.get_json()


class TestJson:
    def test_the_api_returns_hostile_names_as_json_strings(self, client, db, users, org,
                                                           hostile):
        _token, secret = create_token(users["admin"], NAME, org["province"])
        db.session.commit()
        headers = {"Authorization": f"Bearer {secret}"}
        data = assert_json(client.get(f"/api/v1/units/{CODE}", headers=headers))
        assert (data["code"], data["name"]) == (CODE, NAME)
        district = org["district"].code
        data = assert_json(client.get(f"/api/v1/units/{district}/progress", headers=headers))
        assert data["programme"]["title"] == PROGRAMME
        assert {"code": CODE, "name": NAME} in [
            {"code": row["code"], "name": row["name"]} for row in data["sub_units"]]
        data = assert_json(client.get(f"/api/v1/units/{CODE}/staff", headers=headers))
        assert [item["full_name"] for item in data["items"]] == [NAME]
        data = assert_json(client.get(f"/api/v1/units/{CODE}x", headers=headers), 404)
        assert SCRIPT not in str(data)

    def test_the_public_check_as_json(self, client, hostile):
        certificate = issue(hostile["head"], kind="course", title=COURSE,
                            course=hostile["course"])
        for response in (client.get(f"/verify/{certificate.code}.json"),
                         client.get(f"/verify/{certificate.code}",
                                    headers={"Accept": "application/json"})):
            data = assert_json(response)
            assert (data["name"], data["title"]) == (NAME, COURSE)
        assert_json(client.get(f"/verify/{CODE}.json"), 404)

    def test_open_data_as_json_and_as_a_page(self, client, app, monkeypatch, hostile):
        monkeypatch.setitem(app.config, "OPEN_DATA", True)
        data = assert_json(client.get("/open-data.json"))
        [programme] = data["programmes"]
        assert programme["title"] == PROGRAMME
        assert NAME in [unit["name"] for unit in programme["units"]]
        response = client.get("/open-data")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert_html_safe(html)
        assert shown(html, NAME)
        assert shown(html, PROGRAMME)
