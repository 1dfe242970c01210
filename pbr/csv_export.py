"""CSV exports that are safe to open in a spreadsheet.

A cell starting with = + - @ (or a tab/carriage return) can run as a formula in Excel or
Sheets (OWASP "CSV injection"); such cells are prefixed with an apostrophe.
"""

import csv

from django.http import StreamingHttpResponse

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        # Plain negative numbers are data, not formulas; keep them usable.
        if text.startswith("-") and _is_number(text):
            return text
        return "'" + text
    return text


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Echo:
    def write(self, value):
        return value


def csv_rows(header, rows):
    writer = csv.writer(_Echo())
    yield writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        yield writer.writerow([safe_cell(cell) for cell in row])


def csv_response(filename, header, rows):
    """Stream rows so a large export never sits whole in memory."""
    response = StreamingHttpResponse(csv_rows(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
