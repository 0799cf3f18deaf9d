"""The certificate PDF: fpdf2 with an embedded Noto font, shaped text, a QR code and the seal."""

import copy
import functools
import io
import itertools
import math
import tempfile
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import segno
import yaml
from fontTools import subset as ftsubset
from fontTools import ttLib
from fpdf import FPDF
from fpdf import output as fpdf_output
from fpdf.fonts import SubsetMap

from lms.certificates.layouts import DEFAULT_LAYOUT, LAYOUT_NAME, certificates_dir, font_path
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


def load_layout(name: str = DEFAULT_LAYOUT) -> dict:
    """A layout of `certificates/layouts/` by name, font paths resolved (cached per file)."""
    if not LAYOUT_NAME.match(name):
        raise ValueError(f"bad layout name {name!r}")
    folder = certificates_dir()
    path = folder / "layouts" / f"{name}.yaml"
    return read_layout(path, path.stat().st_mtime_ns, folder)


@functools.lru_cache(maxsize=32)
def read_layout(path: Path, stamp: int, folder: Path) -> dict:
    """Parse one layout file (once per version of the file), its fonts as absolute paths."""
    with open(path, encoding="utf-8") as fh:
        layout = yaml.safe_load(fh)
    layout["fonts"] = {style: str(font_path(folder, name))
                       for style, name in layout["fonts"].items()}
    return layout


@functools.cache
def _font_file(source: str) -> str:
    """A compact copy of a font (Vietnamese coverage only), made once per process.

    fpdf2 parses the font on every `add_font` and subsets it on every `output`; on the
    full Noto font that costs ~100 ms a document, on this copy a few milliseconds.
    """
    font = ttLib.TTFont(source, recalcTimestamp=False)
    options = ftsubset.Options()
    options.layout_features = LAYOUT_FEATURES
    options.hinting = False
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.glyph_names = True
    subsetter = ftsubset.Subsetter(options)
    subsetter.populate(unicodes=COVERAGE)
    subsetter.subset(font)
    target = Path(_font_dir()) / (Path(source).stem + "-vi.ttf")
    font.save(target)
    return str(target)


@functools.cache
def _font_dir() -> str:
    return tempfile.mkdtemp(prefix="lms-cert-fonts-")


class _WholeFont(ttLib.TTFont):
    """A compact font embedded whole instead of subset again, shared by every document.

    The compact font is already cut to Vietnamese coverage (~50 KB); re-subsetting it with
    fontTools for every document cost ~40% of a certificate's time. Nothing here changes the
    font: `save` writes the compact bytes, glyph names and ids come from tables built once,
    and `close` (fpdf2 closes fonts after writing) keeps it usable for the next document.
    """

    def __init__(self, data: bytes):
        super().__init__(io.BytesIO(data), recalcTimestamp=False, recalcBBoxes=False)
        self._data = data
        self._names = list(self.getGlyphOrder())
        self._ids = {name: index for index, name in enumerate(self._names)}

    def save(self, file, reorderTables=True):  # noqa: N803  (fontTools' signature)
        file.write(self._data)

    def getGlyphID(self, glyphName):  # noqa: N802, N803
        return self._ids[glyphName]

    def getGlyphName(self, glyphID):  # noqa: N802, N803
        return self._names[glyphID]

    def close(self):
        pass


class _Subsetter(ftsubset.Subsetter):
    """fontTools' subsetter, which leaves a `_WholeFont` as it is (it is the subset)."""

    def subset(self, font):
        if not isinstance(font, _WholeFont):
            super().subset(font)


# fpdf2 subsets every embedded font through `fpdf.output.ftsubset`; the stand-in differs
# from fontTools only for the certificate fonts above.
fpdf_output.ftsubset = SimpleNamespace(Options=ftsubset.Options, Subsetter=_Subsetter)


@functools.cache
def _prototype(regular: str, bold: str) -> dict:
    """The two fonts parsed once per process (a template FPDF's font objects)."""
    template = FPDF()
    template.add_font(FAMILY, "", _font_file(regular))
    template.add_font(FAMILY, "B", _font_file(bold))
    for font in template.fonts.values():
        font.ttfont = _WholeFont(Path(font.ttffile).read_bytes())
    return dict(template.fonts)


def _add_fonts(pdf: FPDF, regular: str, bold: str) -> None:
    """Give `pdf` the two font styles without parsing the fonts again.

    `FPDF.add_font` re-reads the whole font for every document; here each document gets a
    shallow copy of the parsed font (widths, cmap, HarfBuzz face and the whole font are
    read-only and shared) with its own glyph map and font descriptor.
    """
    for key, proto in _prototype(regular, bold).items():
        font = copy.copy(proto)
        font.desc = copy.copy(proto.desc)
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
            pdf.set_text_shaping("field" in element or _has_marks(_element_text(claims, element)))
            _text(pdf, layout, element, _element_text(claims, element))
        else:
            raise ValueError(f"unknown layout element type {kind!r}")
    lines = [list(line) for line in page_lines(claims, layout)]
    pdf.embed_file(bytes=seal(claims, kid, signature, lines), basename=ATTACHMENT,
                   desc="Signed certificate data (Ed25519)", mime_type="application/json",
                   modification_date=datetime(2000, 1, 1, tzinfo=UTC))
    return bytes(pdf.output())


@functools.cache
def _has_marks(text: str) -> bool:
    """Whether NFC text still holds a combining mark (HarfBuzz must place it)."""
    return any(unicodedata.combining(char) for char in _nfc(text))


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
    """The QR code drawn as vector squares (sharp at any zoom): one filled path of one
    rectangle per dark run, written as a single content-stream operation."""
    # A fixed mask skips segno's mask scoring, the slowest part of encoding; any mask scans.
    matrix = segno.make(verify_url, error="m", mask=0, boost_error=False).matrix
    k, module = pdf.k, element["size"] / len(matrix)
    left, top = element["x"] * k, (pdf.h - element["y"]) * k
    step = module * k
    runs = []
    for row, cells in enumerate(matrix):
        y = top - (row + 1) * step
        for dark, group in itertools.groupby(enumerate(cells), key=lambda cell: cell[1]):
            if dark:
                group = list(group)
                runs.append(f"{left + group[0][0] * step:.2f} {y:.2f} "
                            f"{len(group) * step:.2f} {step:.2f} re")
    pdf.set_fill_color(0, 0, 0)
    # fpdf2 has no public call for a path of many rectangles; `rect` per run cost ~15% of
    # a certificate. `_out` appends to the page's content stream, as `rect` itself does.
    pdf._out("\n".join(runs) + "\nf")  # noqa: SLF001


def _text(pdf, layout, element, text):
    """One line of text, shrunk until it fits its box (so it never wraps)."""
    text = _nfc(text)
    x = element.get("x", 20)
    width = element.get("w", pdf.w - 2 * x)
    style = element.get("style", "")
    size = element.get("size", 12)
    pdf.set_font(FAMILY, style, size)
    natural = _advance(pdf.current_font, text) * size / 1000 / pdf.k  # width at `size`
    if natural > width:
        size = max(6, math.floor(size * width / natural * 2) / 2)
        pdf.set_font_size(size)
    pdf.set_text_color(*_rgb(layout, element.get("colour")))
    pdf.set_xy(x, element["y"])
    pdf.cell(w=width, h=size * 0.5, text=text, align=element.get("align", "C"))


def _advance(font, text: str) -> int:
    """The text's advance width in thousandths of the font size, from the font's metrics.

    The fonts carry no kerning or substitution tables, so this is what shaping yields; a
    combining mark that survives NFC has no advance of its own.
    """
    return sum(0 if unicodedata.combining(char) else font.cw[ord(char)] for char in text)
