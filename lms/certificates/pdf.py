"""The certificate PDF: fpdf2 with an embedded Noto font, shaped text, a QR code and the seal."""

import copy
import functools
import io
import tempfile
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import segno
import yaml
from flask import current_app
from fpdf import FPDF

from lms.certificates.signing import ATTACHMENT, CertificateClaims, display_value, seal, sign

FAMILY = "CertSans"
# Latin, Latin-1, Latin Extended-A, Vietnamese (ơ ư, combining marks, Latin Extended
# Additional), general punctuation and currency: enough for names, titles and labels.
COVERAGE = [*range(0x20, 0x7F), *range(0xA0, 0x180), 0x1A0, 0x1A1, 0x1AF, 0x1B0,
            *range(0x300, 0x370), *range(0x1EA0, 0x1F00), *range(0x2000, 0x2070), 0x20AB,
            0x20AC, 0x2116]
# No OpenType layout tables: HarfBuzz still composes base + mark into the precomposed
# Vietnamese glyph, and dropping GSUB/GPOS (kerning) makes each PDF markedly cheaper.
LAYOUT_FEATURES: list[str] = []


def layout_dir() -> Path:
    """Where layouts live: CERT_LAYOUT_DIR, else `certificates/` next to the `lms` package."""
    configured = current_app.config.get("CERT_LAYOUT_DIR")
    return Path(configured) if configured else Path(current_app.root_path).parent / "certificates"


def load_layout(name: str = "default") -> dict:
    """Read a layout YAML file by name."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"bad layout name {name!r}")
    return read_layout(layout_dir() / f"{name}.yaml")


@functools.cache
def read_layout(path: Path) -> dict:
    """Parse one layout file (cached per process)."""
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@functools.cache
def _font_file(source: str) -> str:
    """A compact copy of a font (Vietnamese coverage only), made once per process.

    fpdf2 parses the font on every `add_font` and subsets it on every `output`; on the
    full Noto font that costs ~100 ms a document, on this copy a few milliseconds.
    """
    from fontTools import subset, ttLib

    font = ttLib.TTFont(source, recalcTimestamp=False)
    options = subset.Options()
    options.layout_features = LAYOUT_FEATURES
    options.hinting = False
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.glyph_names = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=COVERAGE)
    subsetter.subset(font)
    target = Path(_font_dir()) / (Path(source).stem + "-vi.ttf")
    font.save(target)
    return str(target)


@functools.cache
def _font_dir() -> str:
    return tempfile.mkdtemp(prefix="lms-cert-fonts-")


@functools.cache
def _prototype(regular: str, bold: str) -> dict:
    """The fonts parsed once per process: a template FPDF's font objects and the font bytes."""
    template = FPDF()
    template.add_font(FAMILY, "", _font_file(regular))
    template.add_font(FAMILY, "B", _font_file(bold))
    return {key: (font, Path(font.ttffile).read_bytes())
            for key, font in template.fonts.items()}


def _add_fonts(pdf: FPDF, regular: str, bold: str) -> None:
    """Give `pdf` the two font styles without parsing the fonts again.

    `FPDF.add_font` re-reads the whole font for every document; here each document gets a
    shallow copy of the parsed font (widths, cmap and HarfBuzz face are read-only and
    shared) with its own glyph subset and its own fontTools object, which fpdf2 subsets in
    place when writing the PDF.
    """
    from fontTools import ttLib
    from fpdf.fonts import SubsetMap

    for key, (proto, data) in _prototype(regular, bold).items():
        font = copy.copy(proto)
        font.ttfont = ttLib.TTFont(io.BytesIO(data), recalcTimestamp=False,
                                   recalcBBoxes=False, lazy=True)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font.subset = SubsetMap(font)
        pdf.fonts[key] = font


def _rgb(layout: dict, colour: str | None) -> tuple[int, int, int]:
    value = (layout.get("colours") or {}).get(colour, colour) or "#000000"
    value = value.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def page_lines(claims: CertificateClaims, layout: dict) -> list[tuple[str | None, str]]:
    """The text lines the layout draws, in order: (claim shown or None, text)."""
    lines = []
    for element in layout["elements"]:
        if element["type"] != "text" or _skipped(claims, element):
            continue
        if "field" in element:
            lines.append((element["field"], display_value(claims, element["field"])))
        elif "by_kind" in element:
            lines.append((None, _nfc(element["by_kind"][claims.kind])))
        else:
            lines.append((None, _nfc(element["text"])))
    return lines


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _skipped(claims, element) -> bool:
    guard = element.get("when") or element.get("field")
    return bool(guard) and not display_value(claims, guard)


def render_pdf(claims: CertificateClaims, layout: dict, verify_url: str,
               *, signed: tuple[str, str] | None = None) -> bytes:
    """The certificate as PDF bytes, sealed with (kid, signature) (signed now if not given)."""
    kid, signature = signed or sign(claims)
    fonts = layout.get("fonts") or {}
    page = layout.get("page") or {}
    pdf = FPDF(orientation=page.get("orientation", "L"), unit="mm",
               format=page.get("format", "A4"))
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    _add_fonts(pdf, fonts["regular"], fonts.get("bold", fonts["regular"]))
    pdf.set_text_shaping(True)
    pdf.set_title(f"{claims.title} – {claims.name}")
    pdf.set_author(claims.issuer)
    pdf.set_subject(f"Certificate {claims.serial}")
    pdf.set_creator("CivicSkills")
    pdf.set_lang(claims.lang)
    pdf.set_creation_date(datetime.fromisoformat(claims.issued_on).replace(tzinfo=UTC))
    pdf.add_page()
    for element in layout["elements"]:
        if _skipped(claims, element):
            continue
        kind = element["type"]
        if kind == "frame":
            _frame(pdf, layout, element)
        elif kind == "rule":
            pdf.set_draw_color(*_rgb(layout, element.get("colour")))
            pdf.set_line_width(element.get("line", 0.3))
            pdf.line(element["x"], element["y"], element["x"] + element["w"], element["y"])
        elif kind == "qr":
            _qr(pdf, element, verify_url)
        elif kind == "text":
            _text(pdf, layout, element, _element_text(claims, element))
        else:
            raise ValueError(f"unknown layout element type {kind!r}")
    lines = [list(line) for line in page_lines(claims, layout)]
    pdf.embed_file(bytes=seal(claims, kid, signature, lines), basename=ATTACHMENT,
                   desc="Signed certificate data (Ed25519)", mime_type="application/json",
                   modification_date=datetime(2000, 1, 1, tzinfo=UTC))
    return bytes(pdf.output())


def _element_text(claims, element) -> str:
    if "field" in element:
        return display_value(claims, element["field"])
    if "by_kind" in element:
        return _nfc(element["by_kind"][claims.kind])
    return _nfc(element["text"])


def _frame(pdf, layout, element):
    inset = element["inset"]
    pdf.set_draw_color(*_rgb(layout, element.get("colour")))
    pdf.set_line_width(element.get("line", 0.5))
    pdf.rect(inset, inset, pdf.w - 2 * inset, pdf.h - 2 * inset)


def _qr(pdf, element, verify_url):
    """The QR code drawn as vector squares (sharp at any zoom), one rectangle per dark run."""
    # A fixed mask skips segno's mask scoring, the slowest part of encoding; any mask scans.
    matrix = segno.make(verify_url, error="m", mask=0, boost_error=False).matrix
    module = element["size"] / len(matrix)
    pdf.set_fill_color(0, 0, 0)
    for row, cells in enumerate(matrix):
        col = 0
        while col < len(cells):
            if not cells[col]:
                col += 1
                continue
            start = col
            while col < len(cells) and cells[col]:
                col += 1
            pdf.rect(element["x"] + start * module, element["y"] + row * module,
                     (col - start) * module, module, style="F")


def _text(pdf, layout, element, text):
    """One line of text, shrunk until it fits its box (so it never wraps)."""
    text = _nfc(text)
    x = element.get("x", 20)
    width = element.get("w", pdf.w - 2 * x)
    size = element.get("size", 12)
    pdf.set_font(FAMILY, element.get("style", ""), size)
    while size > 6 and pdf.get_string_width(text) > width:
        size -= 0.5
        pdf.set_font_size(size)
    pdf.set_text_color(*_rgb(layout, element.get("colour")))
    pdf.set_xy(x, element["y"])
    pdf.cell(w=width, h=size * 0.5, text=text, align=element.get("align", "C"))
