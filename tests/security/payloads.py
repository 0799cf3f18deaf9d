"""Hostile strings for the security tests, and checks that they came out harmless.

Each payload sits between Vietnamese words with diacritics (`wrap`), so that a test also sees
that the text itself survived. `NAME` carries every HTML attack at once (a person's, a unit's
or a course's name); `CODE` the attacks that fit an identifier without a slash (unit codes,
employee IDs: a slash would make them unroutable); `EMAIL` what an email address may carry;
`FORMULAS` the cells a spreadsheet would run.

    from tests.security.payloads import NAME, assert_html_safe, shown
"""

import html
from html.parser import HTMLParser

VIET = 'Nguyễn Thị "Ánh" <b>'

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(1)"
TEMPLATE = "{{7*7}}"
HYPERLINK = '=HYPERLINK("http://evil","x")'
DDE = "+cmd|' /C calc'!A0"
AT_SUM = "@SUM(1)"
MINUS = "-2+3+cmd|' /C calc'!A0"
TAB = "\t=1+1"
CR = "\r=1+1"
# A name or subject that tries to add a header to an email.
HEADER_INJECTION = "Ánh\r\nBcc: x@evil.example"

HTML_PAYLOADS = (SCRIPT, IMG, JS_URL, TEMPLATE)
FORMULAS = (HYPERLINK, DDE, AT_SUM, MINUS, TAB, CR)
PAYLOADS = HTML_PAYLOADS + FORMULAS


def wrap(payload):
    """The payload between Vietnamese words: 'Nguyễn Thị "Ánh" <b> … Ánh'."""
    return f"{VIET} {payload} Ánh"


# Every HTML attack in one string short enough for any name column (≤ 120 characters).
NAME = f"{VIET} {SCRIPT} {IMG} {TEMPLATE} Ánh"
# For codes and IDs: no slash (it would not fit in a URL path segment), ≤ 64 characters.
CODE = 'X"><img src=x onerror=alert(1)>{{7*7}}'
# An address email-validator accepts, with characters that mean something elsewhere.
EMAIL = "=x|'{{7*7}}'!a@example.gov.vn"

class _Elements(HTMLParser):
    """What a browser would build: each element with its attributes (entities decoded)."""

    def __init__(self, body):
        super().__init__(convert_charrefs=True)
        self.problems = []
        self.feed(body)
        self.close()

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "script" and not (values.get("src") or "").startswith("/static/"):
            self.problems.append(f"<script {attrs}>")
        if tag in ("iframe", "object", "embed", "base", "meta") and tag != "meta" \
                or (tag == "meta" and "http-equiv" in values):
            self.problems.append(f"<{tag} {attrs}>")
        if tag == "img" and values.get("src") == "x":
            self.problems.append(f"<img {attrs}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            squeezed = "".join(c for c in (value or "") if c > " ").lower()
            if name in _URL_ATTRIBUTES and squeezed.startswith(("javascript:", "vbscript:",
                                                               "data:text")):
                self.problems.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag


_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "srcset"}


def assert_html_safe(body):
    """No payload is live in an HTML page (str or bytes): no script element but ours, no
    event handler attribute, no javascript: or data:text URL, no frame or object."""
    if isinstance(body, bytes):
        body = body.decode()
    assert "<script>alert(1)" not in body.lower()
    problems = _Elements(body).problems
    assert not problems, problems


def escaped(text):
    """`text` as Jinja's autoescape writes it (quotes as &#34; and &#39;)."""
    return html.escape(text, quote=False).replace('"', "&#34;").replace("'", "&#39;")


def shown(body, text):
    """Whether `text` appears in an HTML page as text: escaped, quotes in any spelling."""
    if isinstance(body, bytes):
        body = body.decode()
    plain = html.escape(text, quote=False)
    return any(form in body for form in (
        escaped(text), html.escape(text, quote=True), plain, plain.replace('"', "&quot;")))


def neutralised(cell):
    """Whether a spreadsheet reads this cell as text, never as a formula."""
    return not isinstance(cell, str) or not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
