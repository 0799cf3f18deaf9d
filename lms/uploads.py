"""Files that come from outside: a size cap, a type sniffed from the content (never from the
name or the browser's Content-Type), names safe to show, and private storage under random names.

Only CSV rosters are uploaded today (the importer reads CSV, not XLSX, so an Excel workbook is
refused with a message saying so); the image rules serve course media (lms/courses/media_views.py).
"""

import codecs
import io
import os
import re
import secrets
import time
import unicodedata
import zipfile
from pathlib import Path

from flask import current_app
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

# The images a browser shows without running anything; SVG is not one (it can carry scripts).
RASTER_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif",
                "webp": "image/webp"}
SNIFF_BYTES = 512  # enough of a file's start for sniff()
NAME_MAX = 100  # characters of a client's file name shown

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty archive
    (b"%PDF-", "pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "office"),  # .xls and .doc before 2007
    (b"{\\rtf", "office"),
    (b"MZ", "program"),  # Windows .exe and .dll
    (b"\x7fELF", "program"),
    (b"\xcf\xfa\xed\xfe", "program"),  # macOS
    (b"\x1f\x8b", "archive"),  # gzip
    (b"Rar!\x1a\x07", "archive"),
    (b"7z\xbc\xaf\x27\x1c", "archive"),
)
_FOREIGN_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE,
                 codecs.BOM_UTF16_BE)
_LOOKS_LIKE = {
    "png": _l("a PNG image"),
    "jpeg": _l("a JPEG image"),
    "gif": _l("a GIF image"),
    "webp": _l("a WebP image"),
    "svg": _l("an SVG image"),
    "html": _l("a web page (HTML or XML)"),
    "zip": _l("a ZIP archive"),
    "xlsx": _l("an Excel workbook"),
    "docx": _l("a Word document"),
    "pdf": _l("a PDF document"),
    "office": _l("an Excel or Word file"),
    "program": _l("a program"),
    "archive": _l("a compressed archive"),
    "binary": _l("a binary file"),
}
_STORED_NAME = re.compile(r"[0-9a-f]{32}\Z")


def sniff(data):
    """What the start of a file is ("png", "zip", "html", ...), or None for plain text."""
    head = data[:SNIFF_BYTES]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return _zip_kind(data) if kind == "zip" else kind
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if text.startswith(b"<"):  # no roster starts so; a browser would render it as markup
        return "svg" if b"<svg" in text.lower() else "html"
    return None


def _zip_kind(data):
    """An Office file is a ZIP archive: name it as the user knows it (the directory only)."""
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return "zip"
    if "xl/workbook.xml" in names:
        return "xlsx"
    return "docx" if "word/document.xml" in names else "zip"


def check_upload(data, filename, kinds):
    """Why an upload may not be taken, as a translated message naming the file, or None.

    `kinds` says what is wanted: "csv" (UTF-8 text, a BOM allowed) and/or "image" (PNG,
    JPEG, GIF or WebP). `data` may stop after UPLOAD_MAX_BYTES + 1 bytes.
    """
    name = display_name(filename)
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    if len(data) > limit:
        return _("%(file)s: the file is larger than the %(limit)s allowed. Split it into "
                 "smaller files.", file=name, limit=format_size(limit))
    if not data:
        return _("%(file)s: the file is empty.", file=name)
    found = sniff(data)
    if "image" in kinds and found in RASTER_TYPES:
        return None
    if "csv" in kinds:
        return _csv_problem(data, name, found)
    if found is None:
        return _("%(file)s: this is not a PNG, JPEG, GIF or WebP image.", file=name)
    return _("%(file)s: this is not a PNG, JPEG, GIF or WebP image (it looks like %(what)s).",
             file=name, what=_LOOKS_LIKE[found])


def _csv_problem(data, name, found):
    if data.startswith(_FOREIGN_BOMS):
        return _("%(file)s: the file is saved as UTF-16 or UTF-32 text: save it as “CSV "
                 "UTF-8”.", file=name)
    if found is None and b"\x00" in data:
        found = "binary"
    if found is not None:
        return _("%(file)s: this is not a CSV text file (it looks like %(what)s). Only CSV "
                 "files can be imported: save it as “CSV UTF-8”.", file=name,
                 what=_LOOKS_LIKE[found])
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _("%(file)s: line %(line)d is not UTF-8 text: save the file as “CSV UTF-8”.",
                 file=name, line=data.count(b"\n", 0, exc.start) + 1)
    return None


def format_size(size):
    """A size in bytes as people read it: "5 MB", "0,5 KB"."""
    if size >= 1024 * 1024:
        return f"{format_decimal(round(size / (1024 * 1024), 1))} MB"
    return f"{format_decimal(round(size / 1024, 1))} KB"


def too_large_message():
    """The message of a request refused for its size (413), naming the limit."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if not limit:
        return _("What you sent is too large.")
    return _("What you sent is larger than the %(limit)s allowed. Split the file into smaller "
             "files.", limit=format_size(limit))


def display_name(filename, default="upload"):
    """A client's file name made safe to show, never to use in a path: its last part only,
    without control or direction-changing characters, at most NAME_MAX characters."""
    name = unicodedata.normalize("NFC", str(filename or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Cc: control characters; Cf: invisible formatting, such as right-to-left overrides.
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = " ".join(name.split())
    if name.strip(".") == "":
        return default
    if len(name) > NAME_MAX:
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            name = f"{stem[:NAME_MAX - len(suffix) - 2]}….{suffix}"
        else:
            name = name[:NAME_MAX - 1] + "…"
    return name


def _upload_folder():
    return Path(current_app.instance_path) / "uploads"


def store_upload(data, keep_seconds):
    """Keep an upload outside the web root under a random name (file 0600, folder 0700),
    dropping those older than `keep_seconds`; returns the name."""
    folder = _upload_folder()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o077:
        folder.chmod(0o700)
    cutoff = time.time() - keep_seconds
    for old in folder.iterdir():
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass  # another worker removed it first
    name = secrets.token_hex(16)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(folder / name, flags, 0o600), "wb") as out:
        out.write(data)
    return name


def stored_upload(name):
    """The path of a stored upload, or None when `name` is not one that store_upload gives."""
    if not isinstance(name, str) or not _STORED_NAME.match(name):
        return None
    return _upload_folder() / name
