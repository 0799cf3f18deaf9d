"""Reading downloaded spreadsheets back: a CSV (with its BOM) or an XLSX response as rows."""

import csv
import io

from openpyxl import load_workbook


def read_csv(response):
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def read_xlsx(response):
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]
