"""Course Markdown to safe HTML: the only place where content becomes markup."""

import hashlib
import threading
from collections import OrderedDict

import markdown
import nh3
from flask import url_for
from markdown.extensions import Extension
from markdown.extensions.admonition import AdmonitionExtension
from markdown.extensions.tables import TableExtension
from markdown.extensions.toc import TocExtension
from markdown.extensions.toc import slugify as toc_slugify
from markdown.treeprocessors import Treeprocessor
from markupsafe import Markup

from lms.courses.content_schema import ADMONITIONS, LINK_SCHEMES, MODULE_LINK, local_image
from lms.text import fold

CACHE_SIZE = 512
TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "strong", "em", "b", "i", "code",
        "pre", "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
        "a", "img", "div"}
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "loading"},
              "th": {"align"}, "td": {"align"}, "ol": {"start"},
              **{f"h{n}": {"id"} for n in range(1, 7)}}
CLASSES = {"div": {"admonition", *ADMONITIONS}, "p": {"admonition-title"}}

_cache = OrderedDict()
_cache_lock = threading.Lock()


def render(body: str, body_hash: str, *, course_slug: str, lang: str) -> Markup:
    """The sanitised HTML of a course or module body, its links and images made ours."""
    key = (body_hash or hashlib.sha256(body.encode()).hexdigest(), course_slug, lang)
    with _cache_lock:
        html = _cache.get(key)
        if html is not None:
            _cache.move_to_end(key)
            return html
    html = Markup(_render(body, course_slug, lang))  # noqa: S704  (sanitised by nh3 just now)
    with _cache_lock:
        _cache[key] = html
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return html


def cached(body_hash: str, *, course_slug: str, lang: str) -> Markup | None:
    """The rendered body with this hash if it is in the cache, else None."""
    key = (body_hash, course_slug, lang)
    with _cache_lock:
        html = _cache.get(key)
        if html is not None:
            _cache.move_to_end(key)
        return html


def clear_cache():
    """Forget every rendered body (tests; content is keyed by its hash, so never stale)."""
    with _cache_lock:
        _cache.clear()


def _render(body, course_slug, lang):
    media = set()  # the image URLs we wrote; any other image source is dropped
    converter = markdown.Markdown(
        extensions=[TableExtension(use_align_attribute=True), "fenced_code",
                    AdmonitionExtension(), TocExtension(permalink=False, slugify=_slugify),
                    "sane_lists", _CourseLinks(course_slug, lang, media)],
        output_format="html")
    html = converter.convert(body)

    def keep(tag, attribute, value):
        if tag == "img" and attribute == "src":
            return value if value in media else None
        if attribute == "href" and (value.startswith(("//", "\\", "/\\"))
                                    or any(ord(c) <= 32 for c in value)):
            # Protocol-relative (another site dressed as our path), or with the spaces and
            # control characters that browsers drop to find a scheme ("java\tscript:").
            return None
        return value

    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, allowed_classes=CLASSES,
                     attribute_filter=keep, url_schemes=set(LINK_SCHEMES),
                     link_rel="noopener noreferrer", strip_comments=True)


def _slugify(value, separator):
    """Heading ids from Vietnamese text: 'Định danh số' -> 'dinh-danh-so'."""
    return toc_slugify(fold(value), separator)


class _CourseLinks(Extension):
    """Point module links and image sources at the application's own URLs."""

    def __init__(self, course_slug, lang, media):
        super().__init__()
        self.course_slug, self.lang, self.media = course_slug, lang, media

    def extendMarkdown(self, md):  # noqa: N802  (Python-Markdown's name)
        # After the inline patterns (20) have made the <a> and <img> elements.
        md.treeprocessors.register(_Rewriter(md, self), "course_links", 4)


class _Rewriter(Treeprocessor):
    def __init__(self, md, ext):
        super().__init__(md)
        self.ext = ext

    def run(self, root):
        ext = self.ext
        for link in root.iter("a"):
            module = MODULE_LINK.match(link.get("href", ""))
            if module:
                url = url_for("courses.module", slug=ext.course_slug, module_slug=module[1],
                              _external=False)
                link.set("href", url + (f"#{module[2]}" if module[2] else ""))
        for image in root.iter("img"):
            path = local_image(image.get("src", ""))
            if path is None:
                image.attrib.pop("src", None)
                continue
            url = url_for("courses.media", slug=ext.course_slug, lang=ext.lang, filename=path,
                          _external=False)
            ext.media.add(url)
            image.set("src", url)
            image.set("loading", "lazy")
