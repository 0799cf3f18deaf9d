"""Report files for Excel: CSV and XLSX streamed in constant memory, safe from formula
injection, Vietnamese text and file names intact."""

import csv
import io
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote

from flask import Response, stream_with_context
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

Cell = str | int | float | Decimal | date | None

CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BATCH_ROWS = 500
CHUNK_BYTES = 64 * 1024
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_AS_IS = (int, float, Decimal, date)  # numbers (negative ones too) and dates stay typed
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_SPOOL_BYTES = 8 * 1024 * 1024  # a bigger workbook goes to a temporary file on disk


def safe_cell(value: object) -> Cell:
    """The value, or its text with a leading apostrophe if a spreadsheet would run it."""
    if value is None or isinstance(value, _AS_IS):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv_cell(value: object) -> Cell:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")  # the wall-clock time given; zone is the caller's
    if isinstance(value, date):
        return value.isoformat()
    return safe_cell(value)


def csv_stream(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """CSV text for Excel (UTF-8 BOM, CRLF), the header alone first, then batches of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # the excel dialect: CRLF line ends, minimal quoting
    writer.writerow([_csv_cell(v) for v in header])
    yield "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for count, row in enumerate(rows, start=1):
        writer.writerow([_csv_cell(v) for v in row])
        if count % BATCH_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def _disposition(filename: str) -> dict[str, str]:
    """Content-Disposition filename parameters: an ASCII fallback and the UTF-8 name
    (RFC 6266, RFC 5987), without path separators, quotes or control characters."""
    name = "".join(c for c in unicodedata.normalize("NFC", filename)
                   if c.isprintable() and c not in '/\\"') or "export"
    # NFKD splits off the tones and vowel marks; đ has no decomposition of its own.
    ascii_name = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_name = ascii_name.encode("ascii", "ignore").decode("ascii").strip() or "export"
    return {"filename": ascii_name,
            "filename*": "UTF-8''" + quote(name, safe="!#$&+-.^_`|~")}


def _download(chunks: Iterator[str] | Iterator[bytes], filename: str,
              content_type: str) -> Response:
    response = Response(stream_with_context(chunks), content_type=content_type)
    response.headers.set("Content-Disposition", "attachment", **_disposition(filename))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"  # reports hold personal data
    return response


def csv_response(filename: str, header: Sequence[str],
                 rows: Iterable[Sequence[object]]) -> Response:
    """A streamed CSV download (call inside the request)."""
    return _download(csv_stream(header, rows), filename, CSV_MIMETYPE)


def _sheet_title(title: str) -> str:
    """A title Excel accepts: no []:*?/\\, no apostrophe at either end, 31 characters."""
    title = " ".join(_SHEET_FORBIDDEN.sub("-", unicodedata.normalize("NFC", title)).split())
    return title[:31].strip(" '") or "Sheet1"


def _xlsx_row(sheet: object, values: Sequence[object]) -> list[object]:
    """Cells for one row: text made safe, dates as Excel dates."""
    cells = []
    for value in values:
        if isinstance(value, datetime):
            # Excel has no time zones: the wall-clock time given is kept, as in the CSV.
            value = WriteOnlyCell(sheet, value.replace(tzinfo=None))
            value.number_format = "yyyy-mm-dd hh:mm"
        else:
            value = safe_cell(value)
            if isinstance(value, str):
                # openpyxl refuses control characters; a formula they hid ("\x01=...")
                # must not come out of their removal runnable.
                value = safe_cell(ILLEGAL_CHARACTERS_RE.sub("", value))
        cells.append(value)
    return cells


def xlsx_bytes(sheet_title: str, header: Sequence[str],
               rows: Iterable[Sequence[object]]) -> Iterator[bytes]:
    """An XLSX workbook of one sheet (bold, frozen header), in chunks of bytes."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_sheet_title(sheet_title))
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for index, value in enumerate(_xlsx_row(sheet, header), start=1):
        width = min(max(len(str(value)) + 2, 10), 50)
        sheet.column_dimensions[get_column_letter(index)].width = width
        cell = WriteOnlyCell(sheet, value)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        sheet.append(_xlsx_row(sheet, row))
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk


def xlsx_response(filename: str, sheet_title: str, header: Sequence[str],
                  rows: Iterable[Sequence[object]]) -> Response:
    """A streamed XLSX download (call inside the request)."""
    return _download(xlsx_bytes(sheet_title, header, rows), filename, XLSX_MIMETYPE)
