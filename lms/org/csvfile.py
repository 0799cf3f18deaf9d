"""Reading a roster CSV file: decoding, header and cell checks, errors by file, row and column."""

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from flask import has_request_context
from flask_babel import gettext

KINDS = ("units", "staff")
COLUMNS = {
    "units": ("code", "name", "parent_code", "head_employee_id"),
    "staff": ("employee_id", "full_name", "email", "unit_code", "category", "role"),
}
OPTIONAL = {"head_employee_id", "role"}  # a file may leave these columns out entirely
_FOREIGN_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE,
                 codecs.BOM_UTF16_BE)
_BINARY_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF")


class Message:
    """A message translated when shown: the reader's language on the web, English elsewhere."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid, params):
        self.msgid, self.params = msgid, params

    def __str__(self):
        if has_request_context():
            return gettext(self.msgid, **self.params)
        return self.msgid % self.params if self.params else self.msgid


def lazy_message(msgid, **params):
    """Mark a message for translation; it is rendered later, in the reader's language."""
    return Message(msgid, params)


# pybabel extracts the msgids of `_(...)` calls, so every import module calls it by that name.
_ = lazy_message


@dataclass
class RowError:
    """A problem at a row (and column) of a file, as a spreadsheet shows them."""

    file: str
    row: int
    column: str
    message: Message

    def __str__(self):
        where = f"{self.file}:{self.row}:{self.column}" if self.column else \
            f"{self.file}:{self.row}"
        return f"{where}: {self.message}"


@dataclass
class Table:
    """A parsed CSV file: rows as (spreadsheet row number, {column: raw value})."""

    name: str
    kind: str
    rows: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def error(self, row, column, message):
        self.errors.append(RowError(self.name, row, column, message))


def content_problem(head):
    """Why these bytes (a whole file or its start) are not a UTF-8 CSV text file, or None."""
    if not head:
        return _("The file is empty.")
    if head.startswith(_FOREIGN_BOMS):
        return _("The file is saved as UTF-16 or UTF-32 text: save it as “CSV UTF-8”.")
    if head.startswith(_BINARY_MAGIC) or b"\x00" in head:
        return _("This is not a CSV text file (a spreadsheet or a document?): "
                 "save it as “CSV UTF-8”.")
    return None


def read_table(source, name, kind):
    """Decode and parse a CSV file (bytes or a path) of `kind`, collecting every problem."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    table = Table(name, kind)
    problem = content_problem(data)
    if problem is not None:
        table.error(1, "", problem)
        return table
    data = data.removeprefix(codecs.BOM_UTF8)  # Excel's "CSV UTF-8" writes one
    try:
        text, broken = data.decode("utf-8"), False
    except UnicodeDecodeError:
        # Keep the bad bytes as surrogates so that each can be reported at its row and column.
        text, broken = data.decode("utf-8", "surrogateescape"), True
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number, header = 0, None
    try:
        for number, cells in enumerate(reader, start=1):
            if header is None:
                header = _read_header(table, cells, broken)
                if header is None:
                    return table
            elif any(cell.strip() for cell in cells):
                table.rows.append((number, _read_row(table, number, header, cells, broken)))
    except csv.Error as exc:
        table.error(number + 1, "", _("The file cannot be read as CSV: %(reason)s",
                                      reason=str(exc)))
    if header is None:
        table.error(1, "", _("The file is empty."))
    elif not table.rows and not table.errors:
        table.error(2, "", _("The file has a header but no data rows."))
    return table


def _read_header(table, cells, broken):
    header = [cell.strip().lower() for cell in cells]
    while header and not header[-1]:
        header.pop()
    expected = COLUMNS[table.kind]
    start = len(table.errors)
    for i, column in enumerate(header):
        if broken and _has_bad_bytes(column):
            table.error(1, _letter(i), _("Invalid UTF-8 text: save the file as “CSV UTF-8”."))
        elif column not in expected:
            table.error(1, column or _letter(i), _(
                "Unknown column “%(column)s”; the columns are: %(expected)s.",
                column=column, expected=", ".join(expected)))
        elif column in header[:i]:
            table.error(1, column, _("The column “%(column)s” appears twice.", column=column))
    for column in expected:
        if column not in header and column not in OPTIONAL:
            table.error(1, column, _("Missing column “%(column)s”.", column=column))
    return None if len(table.errors) > start else header


def _read_row(table, number, header, cells, broken):
    values = dict.fromkeys(COLUMNS[table.kind], "")
    for i, cell in enumerate(cells):
        if i >= len(header):
            if cell.strip():
                table.error(number, _letter(i), _(
                    "This row has more cells than the header has columns."))
                break
            continue
        if broken and _has_bad_bytes(cell):
            table.error(number, header[i],
                        _("Invalid UTF-8 text: save the file as “CSV UTF-8”."))
            cell = cell.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        elif "\n" in cell or "\r" in cell:
            table.error(number, header[i], _(
                "This value runs over several lines: is a quote (\") left open?"))
        values[header[i]] = cell
    return values


def _has_bad_bytes(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _letter(index):
    """The spreadsheet column letter of a 0-based index (A, B, ..., Z, AA, ...)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
