"""Dashboard tables: one structure drawn as an HTML table (with an optional chart over it) and
exported as CSV or XLSX, so the three always show the same figures."""

import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.http import HttpResponse
from django.utils.html import escape
from django.utils.safestring import mark_safe

from pbr.csv_export import csv_response, safe_cell


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"  # text, int, num, money, pct, tag
    chart: str = ""  # "bar" or "line": drawn as a series of the table's chart; "" not drawn

    @property
    def numeric(self):
        return self.kind in ("int", "num", "money", "pct")


@dataclass
class Cell:
    value: object  # the raw value exported: int, Decimal, str or None
    text: str  # as shown on the page
    href: str = ""
    tag: str = ""  # govuk-tag colour for red/amber/green cells
    numeric: bool = False


@dataclass
class Table:
    slug: str
    caption: str
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)
    chart: str = ""  # "bar" or "line": a chart is drawn over the table by static/js/charts.js
    empty: str = "Nothing to show yet."
    stacked: bool = False
    note: str = ""
    hidden_rows: int = 0  # the oldest rows left off the page (all are exported)
    more: str = ""  # said under the table when the page shows only part of it

    def add(self, *values, href=None, tags=None):
        """Add a row from raw values, formatted by each column's kind."""
        cells = []
        for i, (column, value) in enumerate(zip(self.columns, values, strict=True)):
            cells.append(Cell(value=value, text=fmt(value, column.kind),
                              href=(href or {}).get(i, ""), tag=(tags or {}).get(i, ""),
                              numeric=column.numeric))
        self.rows.append(cells)
        return cells

    @property
    def visible(self):
        return self.rows[self.hidden_rows:]

    def body_html(self):
        """The visible rows as table rows. Built here rather than by a template loop: a
        programme's tables have hundreds of cells, and the template engine's per-cell lookups
        were most of the page's time (docs/performance.md, Dashboards)."""
        out = []
        for row in self.visible:
            cells = []
            for i, cell in enumerate(row):
                text = escape(cell.text)
                if cell.tag:
                    text = f'<strong class="govuk-tag govuk-tag--{escape(cell.tag)}">{text}</strong>'
                elif cell.href:
                    text = f'<a class="govuk-link" href="{escape(cell.href)}">{text}</a>'
                if i == 0:
                    cells.append(f'<th scope="row" class="govuk-table__header">{text}</th>')
                    continue
                value = "" if cell.value is None else escape(str(cell.value))
                numeric = " govuk-table__cell--numeric" if cell.numeric else ""
                cells.append(f'<td class="govuk-table__cell{numeric}" data-value="{value}">'
                             f'{text}</td>')
            out.append(f'<tr class="govuk-table__row">{"".join(cells)}</tr>')
        return mark_safe("\n".join(out))  # noqa: S308 - every value above is escaped

    @property
    def charted(self):
        return bool(self.chart) and any(c.chart for c in self.columns) and len(self.rows) > 0


def fmt(value, kind):
    if value is None or value == "":
        return "–"
    if kind == "money":
        value = Decimal(value)
        return f"-£{-value:,.2f}" if value < 0 else f"£{value:,.2f}"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "pct":
        return f"{Decimal(value):.1f}%"
    if kind == "num":
        text = f"{Decimal(value):,.2f}"
        return text[:-3] if text.endswith(".00") else text
    return str(value)


def _export_value(cell, column):
    if cell.value is None:
        return ""
    if column.numeric:
        return cell.value
    return cell.value if isinstance(cell.value, str) else cell.text


def csv_download(table, filename):
    return csv_response(f"{filename}.csv", [c.label for c in table.columns],
                        ([_export_value(cell, col) for cell, col in zip(row, table.columns, strict=True)]
                         for row in table.rows))


def xlsx_download(table, filename):
    """One sheet: the header and the rows. Numbers are numbers (money as the exact decimal),
    text is always stored as text, so no cell can be read as a formula."""
    from openpyxl import Workbook

    book = Workbook(write_only=False)
    sheet = book.active
    sheet.title = table.slug[:31]
    sheet.append([c.label for c in table.columns])
    for row in table.rows:
        sheet.append([None] * len(row))
        excel_row = sheet.max_row
        for i, (cell, column) in enumerate(zip(row, table.columns, strict=True), start=1):
            value = _export_value(cell, column)
            target = sheet.cell(row=excel_row, column=i)
            if column.numeric and value != "":
                target.value = value if isinstance(value, (int, Decimal)) else Decimal(str(value))
                if column.kind == "money":
                    target.number_format = "#,##0.00"
            else:
                target.value = safe_cell(value)
                target.data_type = "s"
    for i in range(1, len(table.columns) + 1):
        sheet.cell(row=1, column=i).data_type = "s"
    out = io.BytesIO()
    book.save(out)
    response = HttpResponse(
        out.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response


def download(request, tables, prefix):
    """The export asked for by ?download=csv|xlsx&table=<slug>, or None."""
    kind = request.GET.get("download")
    slug = request.GET.get("table")
    if kind not in ("csv", "xlsx") or not slug:
        return None
    table = next((t for t in tables if t.slug == slug), None)
    if table is None:
        return None
    filename = f"{prefix}-{table.slug}"
    return csv_download(table, filename) if kind == "csv" else xlsx_download(table, filename)
