"""The certificate folder: layouts (`certificates/layouts/<name>.yaml`) and who issues what on
which layout (`certificates/issuing.yaml`). `lms sync-content` checks both, every problem as
`path:line: message`; issuing reads them (cached until a file changes).

issuing.yaml:

    default:   {layout: default, signer: "…", issuer: "…"}   # every key optional
    units:     {<unit code>: {layout, signer, issuer}}         # that unit and all below it
    programmes: {<programme slug>: {layout, signer, issuer}}   # that programme's certificates

A certificate takes the defaults, then the entry of the nearest unit above the learner (the
issuing unit: `issuer` defaults to its name), then, for a programme certificate, the
programme's entry.
"""

import functools
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from flask import current_app
from sqlalchemy import select

from lms.certificates.signing import KINDS, VISIBLE
from lms.extensions import db

log = logging.getLogger(__name__)

DEFAULT_LAYOUT = "default"
DEFAULT_SIGNER = "Trưởng ban tổ chức"
ISSUING_FILE = "issuing.yaml"
LAYOUT_NAME = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*\Z")
PAGE_FORMATS = ("A3", "A4", "A5", "LETTER", "LEGAL")
COLOUR = re.compile(r"#[0-9a-fA-F]{6}\Z")
SETTING_KEYS = ("layout", "signer", "issuer")
# Element type -> (required keys, optional keys); numbers are millimetres or points.
ELEMENTS = {
    "frame": ({"inset"}, {"line", "colour"}),
    "rule": ({"x", "y", "w"}, {"line", "colour"}),
    "qr": ({"x", "y", "size"}, set()),
    "text": ({"y"}, {"text", "field", "by_kind", "x", "w", "size", "style", "colour", "align",
                     "when"}),
}
NUMBERS = ("inset", "line", "x", "y", "w", "size")


def certificates_dir() -> Path:
    """`certificates/` of the content folder (CERT_LAYOUT_DIR overrides it in tests)."""
    configured = current_app.config.get("CERT_LAYOUT_DIR")
    return Path(configured) if configured else \
        Path(current_app.config["CONTENT_DIR"]) / "certificates"


# Checking (called by the content reader, lms.courses.content) -----------------------------

def check_certificates(reader, programme_slugs=()):
    """Check every layout and the issuing file of `reader.root / certificates`, reporting
    through `reader.error`; returns the names of the layouts that are right."""
    folder = reader.root / "certificates"
    if not folder.is_dir():
        return set()
    good = set()
    for path in sorted((folder / "layouts").glob("*.yaml")):
        if _check_layout(reader, path, folder):
            good.add(path.stem)
    names = {p.stem for p in (folder / "layouts").glob("*.yaml")}
    if DEFAULT_LAYOUT not in names:
        reader.error(folder / "layouts" / f"{DEFAULT_LAYOUT}.yaml", 1,
                     "missing: the default layout is used when nothing else is set")
    if (folder / ISSUING_FILE).is_file():
        _check_issuing(reader, folder / ISSUING_FILE, names, set(programme_slugs))
    return good


def _node_lines(node):
    """{key: line} of a YAML mapping node (1-based), {index: line} of a sequence node."""
    if isinstance(node, yaml.MappingNode):
        return {k.value: k.start_mark.line + 1 for k, _ in node.value}
    if isinstance(node, yaml.SequenceNode):
        return {i: item.start_mark.line + 1 for i, item in enumerate(node.value)}
    return {}


def _child(node, key):
    for k, value in node.value:
        if k.value == key:
            return value
    return None


def _load(reader, path):
    """(node, data) of a YAML mapping file, or None after reporting."""
    text = reader.read(path)
    return None if text is None else reader.yaml_mapping(path, text, 1)


def _check_layout(reader, path, folder):
    ok = bool(LAYOUT_NAME.match(path.stem)) or reader.error(
        path, 1, "layout file name must be lower-case letters, digits, - or _")
    parsed = _load(reader, path)
    if parsed is None:
        return False
    node, data = parsed
    lines = _node_lines(node)
    for key in data:
        if key not in ("page", "fonts", "colours", "elements"):
            ok = reader.error(path, lines[key], f"unknown key {key!r}")
    page = data.get("page") or {}
    if not isinstance(page, dict):
        ok = reader.error(path, lines.get("page", 1), "page must be {format, orientation}")
    else:
        if str(page.get("format", "A4")).upper() not in PAGE_FORMATS:
            ok = reader.error(path, lines["page"], f"page format must be one of "
                              f"{', '.join(PAGE_FORMATS)}")
        if page.get("orientation", "L") not in ("L", "P"):
            ok = reader.error(path, lines["page"], "page orientation must be L or P")
    fonts = data.get("fonts")
    if not isinstance(fonts, dict) or "regular" not in fonts:
        ok = reader.error(path, lines.get("fonts", 1), "fonts must name at least `regular`")
    else:
        font_lines = _node_lines(_child(node, "fonts"))
        for style, name in fonts.items():
            if style not in ("regular", "bold"):
                ok = reader.error(path, font_lines[style], f"unknown font style {style!r}")
            elif not font_path(folder, str(name)).is_file():
                ok = reader.error(path, font_lines[style], f"font file {name!r} not found "
                                  "(fonts are looked up from the certificates folder)")
    colours = data.get("colours") or {}
    if not isinstance(colours, dict) or not all(
            isinstance(v, str) and COLOUR.match(v) for v in colours.values()):
        ok = reader.error(path, lines.get("colours", 1), "colours must map names to #rrggbb")
        colours = {}
    elements = data.get("elements")
    if not isinstance(elements, list) or not elements:
        return reader.error(path, lines.get("elements", 1), "elements must be a list") and ok
    item_lines = _node_lines(_child(node, "elements"))
    shown = []
    for index, element in enumerate(elements):
        line = item_lines[index]
        problem = _element_problem(element, colours)
        if problem:
            ok = reader.error(path, line, f"element {index + 1}: {problem}")
        if isinstance(element, dict) and element.get("type") == "text" and "field" in element:
            shown.append(element["field"])
    if sum(1 for e in elements if isinstance(e, dict) and e.get("type") == "qr") != 1:
        ok = reader.error(path, lines["elements"], "a layout draws exactly one QR code")
    for claim in VISIBLE:
        if shown.count(claim) != 1:
            ok = reader.error(path, lines["elements"], f"the claim {claim!r} must be shown "
                              f"exactly once (it is shown {shown.count(claim)} times): the "
                              "offline check compares every claim with the page")
    return ok


def _element_problem(element, colours):
    """What is wrong with one layout element, or ''."""
    if not isinstance(element, dict):
        return "expected `key: value` pairs"
    kind = element.get("type")
    if kind not in ELEMENTS:
        return f"type must be one of {', '.join(ELEMENTS)}"
    required, optional = ELEMENTS[kind]
    if missing := sorted(required - set(element)):
        return f"missing {', '.join(missing)}"
    if unknown := sorted(set(element) - required - optional - {"type"}):
        return f"unknown key {unknown[0]!r}"
    for key in NUMBERS:
        if key in element and (isinstance(element[key], bool)
                               or not isinstance(element[key], int | float)
                               or element[key] < 0):
            return f"{key} must be a number of millimetres (or points for size)"
    colour = element.get("colour")
    if colour is not None and colour not in colours and not COLOUR.match(str(colour)):
        return f"colour {colour!r} is neither #rrggbb nor a name under colours"
    if kind != "text":
        return ""
    sources = [key for key in ("text", "field", "by_kind") if key in element]
    if len(sources) != 1:
        return "a text element has exactly one of text, field or by_kind"
    if "field" in element and element["field"] not in VISIBLE:
        return f"field must be one of {', '.join(VISIBLE)}"
    if "when" in element and element["when"] not in VISIBLE:
        return f"when must be one of {', '.join(VISIBLE)}"
    if "by_kind" in element and (not isinstance(element["by_kind"], dict)
                                 or set(element["by_kind"]) != set(KINDS)):
        return f"by_kind gives the wording for {' and '.join(KINDS)}"
    if "text" in element and not isinstance(element["text"], str):
        return "text must be a string"
    if element.get("style", "") not in ("", "B"):
        return "style must be B (bold) or left out"
    if element.get("align", "C") not in ("L", "C", "R"):
        return "align must be L, C or R"
    return ""


def _check_issuing(reader, path, layouts, programmes):
    parsed = _load(reader, path)
    if parsed is None:
        return False
    node, data = parsed
    lines = _node_lines(node)
    ok = True
    for key in data:
        if key not in ("default", "units", "programmes"):
            ok = reader.error(path, lines[key], f"unknown key {key!r}")
    entries = [("default", data.get("default") or {}, lines.get("default", 1))]
    for group in ("units", "programmes"):
        value = data.get(group) or {}
        if not isinstance(value, dict):
            ok = reader.error(path, lines[group], f"{group} must map "
                              f"{'unit codes' if group == 'units' else 'programme slugs'} "
                              "to settings")
            continue
        group_lines = _node_lines(_child(node, group))
        for key, settings in value.items():
            if group == "programmes" and programmes and key not in programmes:
                ok = reader.error(path, group_lines[key], f"unknown programme {key!r}")
            entries.append((f"{group[:-1]} {key}", settings, group_lines.get(key, 1)))
    for label, settings, line in entries:
        if not isinstance(settings, dict):
            ok = reader.error(path, line, f"{label}: expected layout, signer and issuer")
            continue
        for key, value in settings.items():
            if key not in SETTING_KEYS:
                ok = reader.error(path, line, f"{label}: unknown key {key!r} (expected "
                                  f"{', '.join(SETTING_KEYS)})")
            elif not isinstance(value, str) or not value.strip():
                ok = reader.error(path, line, f"{label}: {key} must be a non-empty text")
            elif key == "layout" and value not in layouts:
                ok = reader.error(path, line, f"{label}: no layout {value!r} (layouts: "
                                  f"{', '.join(sorted(layouts))})")
    return ok


# Reading at issue time --------------------------------------------------------------------

def font_path(folder: Path, name: str) -> Path:
    """A layout's font: relative to the certificates folder, or absolute."""
    return Path(name) if Path(name).is_absolute() else folder / name


@dataclass(frozen=True)
class Issuing:
    """What a certificate is issued with."""

    layout: str = DEFAULT_LAYOUT
    signer: str = DEFAULT_SIGNER
    issuer: str | None = None  # None: the issuing unit's name


def issuing_for(user, programme_slug=None) -> Issuing:
    """The layout, signer and issuer of a certificate for `user` (and a programme)."""
    from lms.org.models import Unit

    rules = _issuing_rules(certificates_dir() / ISSUING_FILE)
    settings = dict(rules.get("default") or {})
    issuing_unit = user.unit
    units = rules.get("units") or {}
    if units and user.unit is not None:
        ids = [int(part) for part in user.unit.path.strip("/").split("/") if part]
        codes = dict(db.session.execute(select(Unit.id, Unit.code).where(Unit.id.in_(ids))).all())
        for unit_id in reversed(ids):  # nearest first
            if codes.get(unit_id) in units:
                settings.update(units[codes[unit_id]] or {})
                issuing_unit = db.session.get(Unit, unit_id)
                break
    if programme_slug is not None:
        settings.update((rules.get("programmes") or {}).get(programme_slug) or {})
    issuer = settings.get("issuer") or (issuing_unit.name if issuing_unit is not None else "")
    layout = settings.get("layout") or DEFAULT_LAYOUT
    if not (certificates_dir() / "layouts" / f"{layout}.yaml").is_file():
        log.error("certificates: layout %r named in %s does not exist; using %r", layout,
                  ISSUING_FILE, DEFAULT_LAYOUT)
        layout = DEFAULT_LAYOUT
    return Issuing(layout, settings.get("signer") or DEFAULT_SIGNER, issuer)


def _issuing_rules(path: Path) -> dict:
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return {}
    return _read_rules(path, stamp)


@functools.lru_cache(maxsize=8)
def _read_rules(path: Path, stamp: int) -> dict:
    """The issuing file as synced; a file broken since (sync-content reports it) is not used
    rather than failing the completion that issues a certificate."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, dict):
            raise ValueError("not a mapping")
        return data
    except (OSError, ValueError, yaml.YAMLError) as exc:
        log.error("certificates: %s is unreadable (%s); issuing with the defaults", path, exc)
        return {}
