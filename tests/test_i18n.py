"""Translations: a complete Vietnamese catalogue, up to date with the code, actually used.

The catalogues live in lms/translations (Flask-Babel's default folder under the app root).
Compiled .mo files are not shipped: `make translations` builds them, and tests/conftest.py
builds any that are missing or older than their .po when pytest starts (before any test
renders a page: Flask-Babel keeps a loaded catalogue for the rest of the process), so that a
bare `pytest` of any test file works too.

After adding or changing a UI string:

    .venv/bin/pybabel extract -F babel.cfg -k _l -o lms/translations/messages.pot lms
    .venv/bin/pybabel update -i lms/translations/messages.pot -d lms/translations -D messages
    # translate the new entries of lms/translations/vi/LC_MESSAGES/messages.po
    # (and remove their "fuzzy" flag once checked), then `make translations`
"""

import os
import re
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from babel.support import Translations
from sqlalchemy import select

from lms.auth.models import User
from tests.conftest import PASSWORD, make_user

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "lms" / "translations"
TEMPLATES = ROOT / "lms" / "templates"
POT = TRANSLATIONS / "messages.pot"
VI_PO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "messages.po"
EN_PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
UPDATE_HINT = (
    "re-extract and update the catalogues, then translate:\n"
    "  .venv/bin/pybabel extract -F babel.cfg -k _l -o lms/translations/messages.pot lms\n"
    "  .venv/bin/pybabel update -i lms/translations/messages.pot -d lms/translations "
    "-D messages"
)

# %(name)s, %d, %-5.2f ... and %% (a literal percent sign).
PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?"
    r"(?P<conv>[diouxXeEfFgGcrsa%])"
)


def _read(path):
    with path.open("rb") as f:
        return read_po(f)


def _key(message):
    """How a message is named in failure reports."""
    ident = message.id if isinstance(message.id, str) else " | ".join(message.id)
    where = ", ".join(f"{os.path.relpath(file, ROOT) if os.path.isabs(file) else file}:{line}"
                      for file, line in message.locations[:2])
    return f"{ident!r} ({where})" if where else repr(ident)


def _placeholders(text):
    """The set of (name, conversion) placeholders of a format string, and whether it holds
    a '%' that is no placeholder (Jinja's new-style gettext always applies `%`)."""
    found = set()

    def take(match):
        if match["conv"] != "%":
            found.add((match["name"], match["conv"].replace("i", "d")))
        return ""

    rest = PLACEHOLDER.sub(take, text)
    return found, "%" in rest


def _msgids(catalog):
    return {(m.context, m.id if isinstance(m.id, str) else tuple(m.id))
            for m in catalog if m.id}


@pytest.fixture(scope="module")
def vi_catalog():
    return _read(VI_PO)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The messages the code and templates hold right now."""
    out = tmp_path_factory.mktemp("i18n") / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "--quiet", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "_l",
        "-o", str(out), str(ROOT / "lms"),
    ])
    return _read(out)


# (a) The Vietnamese catalogue is complete and its format strings are safe --------------

def test_vietnamese_catalogue_header(vi_catalog):
    assert str(vi_catalog.locale) == "vi"
    assert vi_catalog.num_plurals == 1
    assert vi_catalog.plural_expr == "0"
    assert not vi_catalog.fuzzy, "the header of the vi catalogue is marked fuzzy"


def test_every_message_has_a_checked_vietnamese_translation(vi_catalog):
    untranslated = [
        _key(m) for m in vi_catalog if m.id and (
            not all(s.strip() for s in (m.string if m.pluralizable else (m.string,)))
        )
    ]
    fuzzy = [_key(m) for m in vi_catalog if m.id and m.fuzzy]
    lines = []
    if untranslated:
        lines += [f"untranslated in {VI_PO.relative_to(ROOT)}:", *(f"  {k}" for k in untranslated)]
    if fuzzy:
        lines += [f"fuzzy (check the translation, then remove the flag) in "
                  f"{VI_PO.relative_to(ROOT)}:", *(f"  {k}" for k in fuzzy)]
    assert not lines, "\n".join(lines)


def test_translations_keep_the_placeholders(vi_catalog):
    problems = []
    for m in vi_catalog:
        if not m.id:
            continue
        if m.pluralizable:
            # One Vietnamese form stands for every n: it must show what both English do.
            names = set().union(*(_placeholders(i)[0] for i in m.id))
            stray = any(_placeholders(i)[1] for i in m.id)
            strings = m.string
        else:
            names, stray = _placeholders(m.id)
            strings = (m.string,)
        for string in strings:
            got, got_stray = _placeholders(string)
            if got != names:
                problems.append(f"{_key(m)}: placeholders {sorted(got, key=str)} "
                                f"instead of {sorted(names, key=str)}")
            if got_stray and not stray:
                problems.append(f"{_key(m)}: a lone '%' (write '%%')")
    problems += [f"{_key(m)}: {error}" for m, errors in vi_catalog.check() for error in errors]
    assert not problems, "\n".join(problems)


def test_the_compiled_catalogues_answer():
    vi = Translations.load(str(TRANSLATIONS), ["vi"])
    en = Translations.load(str(TRANSLATIONS), ["en"])
    assert vi.gettext("Sign in") == "Đăng nhập"
    assert vi.ngettext("%(num)d person", "%(num)d people", 1) == "%(num)d người"
    # English shows the msgids, also for plurals left empty in the en catalogue.
    assert en.gettext("Sign in") == "Sign in"
    assert en.ngettext("%(num)d person", "%(num)d people", 1) == "%(num)d person"
    assert en.ngettext("%(num)d person", "%(num)d people", 2) == "%(num)d people"


# (b) The catalogues hold exactly the messages of the code ---------------------------------

@pytest.mark.parametrize("path", [POT, VI_PO, EN_PO], ids=["pot", "vi", "en"])
def test_catalogue_is_up_to_date_with_the_code(extracted, path):
    shipped, current = _msgids(_read(path)), _msgids(extracted)
    new = sorted(current - shipped, key=str)
    gone = sorted(shipped - current, key=str)
    where = {(m.context, m.id if isinstance(m.id, str) else tuple(m.id)): m
             for m in extracted if m.id}
    lines = []
    if new:
        lines.append(f"not in {path.relative_to(ROOT)} (new or changed strings):")
        lines += [f"  {_key(where[k])}" for k in new]
    if gone:
        lines.append(f"in {path.relative_to(ROOT)} but no longer in the code:")
        lines += [f"  {k[1]!r}" for k in gone]
    assert not lines, "\n".join([*lines, UPDATE_HINT])


def test_trans_blocks_are_trimmed_as_when_extracted(app):
    """babel.cfg extracts {% trans %} blocks with `trimmed`; the app must look them up the
    same way, or such a block would never find its translation."""
    uses_blocks = any(re.search(r"\{%-?\s*trans\b", p.read_text(encoding="utf-8"))
                      for p in TEMPLATES.rglob("*") if p.suffix in (".html", ".txt"))
    if uses_blocks:
        assert app.jinja_env.policies.get("ext.i18n.trimmed") is True, (
            "templates use {% trans %} blocks: set "
            "app.jinja_env.policies['ext.i18n.trimmed'] = True (lms/templating.py)")


# (c) Vietnamese by default, English on request ------------------------------------------

def _lang(page):
    return re.search(r'<html lang="([^"]+)"', page).group(1)


def test_login_page_is_vietnamese_by_default_and_english_on_request(client):
    page = client.get("/login").get_data(as_text=True)
    assert _lang(page) == "vi"
    assert "<h1>Đăng nhập</h1>" in page
    assert "Mật khẩu" in page

    response = client.post("/language", data={"lang": "en", "next": "/login"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    page = client.get("/login").get_data(as_text=True)
    assert _lang(page) == "en"
    assert "<h1>Sign in</h1>" in page
    assert "Đăng nhập" not in page

    client.post("/language", data={"lang": "vi", "next": "/login"})
    assert _lang(client.get("/login").get_data(as_text=True)) == "vi"


def test_an_unknown_language_is_ignored(client):
    client.post("/language", data={"lang": "fr", "next": "/login"})
    assert _lang(client.get("/login").get_data(as_text=True)) == "vi"


def test_flashed_messages_are_translated(client, users):
    response = client.post("/login", data={"login": "L0001", "password": "not it"})
    assert response.status_code == 401
    assert "Sai email, mã cán bộ hoặc mật khẩu." in response.get_data(as_text=True)


# (d) A signed-in user's choice is remembered in users.locale ------------------------------

def _reload(db, user):
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.id == user.id))


def test_signed_in_choice_is_stored_and_used_on_the_next_sign_in(app, client, auth, users, db):
    learner = users["learner"]
    assert learner.locale is None
    assert auth.login("L0001").status_code == 302
    assert _lang(client.get("/home").get_data(as_text=True)) == "vi"

    client.post("/language", data={"lang": "en", "next": "/home"})
    assert _reload(db, learner).locale == "en"
    assert _lang(client.get("/home").get_data(as_text=True)) == "en"

    other = app.test_client()  # another browser: nothing in its session
    assert _lang(other.get("/login").get_data(as_text=True)) == "vi"
    other.post("/login", data={"login": "L0001", "password": PASSWORD})
    page = other.get("/home").get_data(as_text=True)
    assert _lang(page) == "en"
    assert "Sign out" in page

    # Switching back is remembered just the same.
    other.post("/language", data={"lang": "vi", "next": "/home"})
    assert _reload(db, learner).locale == "vi"
    assert _lang(client.get("/home").get_data(as_text=True)) == "vi"


def test_choice_made_before_signing_in_is_kept_for_a_user_without_one(client, auth, users, db):
    client.post("/language", data={"lang": "en", "next": "/login"})
    auth.login("L0001")
    assert _reload(db, users["learner"]).locale == "en"
    assert _lang(client.get("/home").get_data(as_text=True)) == "en"


def test_account_email_is_in_the_recipients_language(app, as_hr, org, db):
    from tests.test_auth import outbox_messages

    outbox = Path(app.instance_path) / "outbox"
    for old in outbox.glob("*.eml"):
        old.unlink()
    vi_user = make_user(org["office"], full_name="Phạm Thị Lan", activated=False)
    en_user = make_user(org["office"], full_name="Lê Minh Quân", activated=False)
    en_user.locale = "en"
    db.session.flush()
    for user in (vi_user, en_user):
        assert as_hr.post(f"/org/staff/{user.id}/send-link").status_code == 302
    sent = {m["To"]: m for m in outbox_messages(app)}
    vi_mail, en_mail = sent[vi_user.email], sent[en_user.email]
    assert vi_mail["Subject"] == "Kích hoạt tài khoản CivicSkills"
    assert "Kính gửi Ông/Bà Phạm Thị Lan," in vi_mail.get_body(("plain",)).get_content()
    assert en_mail["Subject"] == "Activate your CivicSkills account"
    assert "Hello Lê Minh Quân," in en_mail.get_body(("plain",)).get_content()


def test_templates_follow_a_language_change_within_one_request(app):
    """Templates look the translations up once per request, yet a refreshed locale wins."""
    import flask_babel
    from flask import render_template_string, session

    with app.test_request_context("/"):
        assert render_template_string("{{ _('Home') }}") == "Trang chủ"
        assert render_template_string("{{ ngettext('%(num)d minute', '%(num)d minutes', 2) }}"
                                      ) == "2 phút"
        session["lang"] = "en"
        flask_babel.refresh()
        assert render_template_string("{{ _('Home') }}") == "Home"
        assert render_template_string("{{ ngettext('%(num)d minute', '%(num)d minutes', 2) }}"
                                      ) == "2 minutes"
