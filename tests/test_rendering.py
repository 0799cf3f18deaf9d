"""Markdown becomes safe HTML in one place: hostile content shows as text, never runs."""

import re
from html.parser import HTMLParser

import pytest
from flask import Blueprint, Flask
from markupsafe import Markup

from lms.courses import rendering
from lms.courses.content import load_content
from lms.courses.rendering import render
from tests.test_content import ROOT

MARK = "visible-text"
# Markdown an author (or an attacker with write access to a course) could commit.
XSS = [
    f"<script>alert(1)</script>{MARK}",
    f"{MARK} <SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    f"<img src=x onerror=alert(1)> {MARK}",
    f"<svg onload=alert(1)><circle/></svg> {MARK}",
    f"<svg><script>alert(1)</script></svg> {MARK}",
    f"<math><mtext><script>alert(1)</script></mtext></math> {MARK}",
    f"[{MARK}](javascript:alert(1))",
    f"[{MARK}](JaVaScRiPt:alert(1))",
    f"[{MARK}](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    f"[{MARK}](vbscript:msgbox(1))",
    f"[{MARK}](&#106;avascript:alert(1))",
    f"[{MARK}](&#x6A;&#x61;&#x76;&#x61;script:alert(1))",
    f"[{MARK}](<java\tscript:alert(1)>)",
    f'<a href="java\tscript:alert(1)">{MARK}</a>',
    f'<a href="java&#x0A;script:alert(1)">{MARK}</a>',
    f'<a href=" javascript:alert(1)">{MARK}</a>',
    f"![{MARK}](javascript:alert(1))",
    f"![x](data:image/svg+xml;base64,PHN2Zz4=) {MARK}",
    f'![x](img/a.png" onerror="alert(1)") {MARK}',
    f"![x](img/a.png)<!-- \" onerror=\"alert(1) --> {MARK}",
    f'[{MARK}](https://example.com "title\\" onmouseover=\\"alert(1)")',
    f"[{MARK}](https://example.com 'a\" onclick=\"alert(1)')",
    f'[{MARK}][ref]\n\n[ref]: javascript:alert(1) "t"',
    f'<iframe src="https://evil.example"></iframe> {MARK}',
    f"<style>body {{ display: none }}</style> {MARK}",
    f'<form action="https://evil.example"><input name="p"></form> {MARK}',
    f'<object data="x.swf"></object><embed src="x.swf"> {MARK}',
    f'<p style="background:url(javascript:alert(1))" onclick="alert(1)">{MARK}</p>',
    f"| a | b |\n| - | - |\n| <img src=x onerror=alert(1)> | <b onmouseover=alert(1)>{MARK}</b> |",
    f'!!! warning "<script>alert(1)</script>"\n    <svg onload=alert(1)></svg> {MARK}',
    f"!!! note\n    [{MARK}](javascript:alert(1))",
    f"## {MARK} {{: onclick=alert(1) }}\n\n[x](https://a.example){{: onclick=alert(1) }}",
    f"<div onmouseover=alert(1)>{MARK}</div>",
    f"<a href=//evil.example>{MARK}</a>",
    f"<!-- <script>alert(1)</script> --> {MARK}",
    f"<base href=https://evil.example/> <meta http-equiv=refresh content=0> {MARK}",
    f"<details open ontoggle=alert(1)>{MARK}</details>",
]
ALLOWED_TAGS = rendering.TAGS
SAFE_URL = re.compile(r"(https?://|mailto:|/courses/|#)", re.IGNORECASE)


class _Audit(HTMLParser):
    """Collect what a browser would see: tags, attributes and text."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.problems, self.text = [], []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "srcdoc", "formaction", "action"):
                self.problems.append(f"attribute {name}")
            if name in ("href", "src") and not SAFE_URL.match(value or ""):
                self.problems.append(f"{name}={value!r}")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        self.text.append(data)


def _problems(html):
    return _Audit(html).problems


@pytest.fixture
def routes():
    """An app with the two endpoints the renderer links to, so rendering is tested alone."""
    bp = Blueprint("courses", __name__)
    bp.add_url_rule("/courses/<slug>/modules/<module_slug>", "module")
    bp.add_url_rule("/courses/<slug>/media/<lang>/<path:filename>", "media")
    app = Flask(__name__)
    app.register_blueprint(bp)
    rendering.clear_cache()
    with app.test_request_context():
        yield app
    rendering.clear_cache()


def _html(body, slug="first-steps", lang="vi"):
    return str(render(body, "", course_slug=slug, lang=lang))


@pytest.mark.parametrize("body", XSS)
def test_hostile_markdown_is_neutralised_and_its_text_still_shown(routes, body):
    html = _html(body)
    assert _problems(html) == [], html
    assert not re.search(r"<(script|style|iframe|svg|math|form)|javascript:", html, re.I), html
    assert MARK in html, html  # as text, or as the alt text of an image without source


def test_the_corpus_is_large_enough():
    assert len(XSS) >= 20


def test_result_is_markup_and_links_get_rel(routes):
    html = render("[Cổng](https://dichvucong.gov.vn) [mail](mailto:a@b.vn)", "h1",
                  course_slug="c", lang="vi")
    assert isinstance(html, Markup)
    assert '<a href="https://dichvucong.gov.vn" rel="noopener noreferrer">Cổng</a>' in html
    assert 'href="mailto:a@b.vn"' in html


def test_module_links_and_images_point_at_our_urls(routes):
    html = _html("See [part 2](02-practice.md#thu-ngay), [part 3](03-end.md) "
                 "and ![Sơ đồ](img/so%20do.png) ![x](../en/img/a.png)")
    assert 'href="/courses/first-steps/modules/02-practice#thu-ngay"' in html
    assert 'href="/courses/first-steps/modules/03-end"' in html
    assert 'src="/courses/first-steps/media/vi/img/so%20do.png"' in html
    assert 'alt="Sơ đồ"' in html
    assert "../en" not in html
    assert html.count("src=") == 1


def test_raw_html_images_are_dropped_even_when_local(routes):
    html = _html('<img src="img/a.png"> and <img src="/courses/first-steps/media/vi/x.png">')
    assert "src=" not in html


def test_tables_admonitions_code_and_headings_render(routes):
    html = _html('## Định danh điện tử\n\n!!! tip "Mẹo"\n    Khóa màn hình.\n\n'
                 "| Thói quen | Khi nào |\n|:--|--:|\n| Khóa | Luôn |\n\n"
                 "```\n<b>not bold</b>\n```\n\n1. one\n2. two\n")
    assert '<h2 id="dinh-danh-dien-tu">Định danh điện tử</h2>' in html
    assert '<div class="admonition tip">' in html
    assert '<p class="admonition-title">Mẹo</p>' in html
    assert '<th align="left">Thói quen</th>' in html
    assert '<td align="right">Luôn</td>' in html
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html
    assert "<ol>" in html
    assert "“" not in _html('"quotes" stay straight')  # smarty is off


def test_rendering_is_cached_by_hash_course_and_language(routes, monkeypatch):
    first = render("## A", "same-hash", course_slug="c", lang="vi")
    monkeypatch.setattr(rendering, "_render", lambda *args: pytest.fail("rendered twice"))
    assert render("## A", "same-hash", course_slug="c", lang="vi") is first
    with pytest.raises(pytest.fail.Exception):
        render("## A", "same-hash", course_slug="c", lang="en")


def test_the_cache_is_bounded(routes, monkeypatch):
    monkeypatch.setattr(rendering, "CACHE_SIZE", 3)
    for n in range(5):
        render(f"text {n}", f"h{n}", course_slug="c", lang="vi")
    assert len(rendering._cache) == 3


def test_every_bundled_module_renders_clean(routes):
    catalogue = load_content(ROOT)
    for course in catalogue.courses.values():
        bodies = [(lang, text.body) for lang, text in course.texts.items()]
        bodies += [(lang, t.body) for m in course.modules for lang, t in m.texts.items()]
        for lang, body in bodies:
            html = _html(body, course.slug, lang)
            assert _problems(html) == [], (course.slug, lang)
            assert ".md" not in re.sub(r">[^<]*<", "><", html)  # every module link rewritten
