"""Every report as CSV, XLSX or PDF (WeasyPrint, with the tenant's name and colour)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from flask import render_template
from openpyxl import Workbook

FORMATS = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "pdf": "application/pdf"}


def _value(row: dict, key: str, kind: str) -> object:
    """A cell of a CSV or XLSX file: numbers stay numbers (money: EUR to the millionth,
    as stored); no value (a call no rate priced) is an empty cell."""
    value = row.get(key)
    if kind == "duration" and isinstance(value, int | float | Decimal):
        return round(float(value), 1)
    return "" if value is None else value if isinstance(value, int | float | Decimal) else str(value)


def _footers(totals: dict | None, averages: dict | None) -> list[dict]:
    return [footer for footer in (totals, averages) if footer]


def render_csv(columns: list[tuple[str, str, str]], rows: list[dict], totals: dict | None,
               averages: dict | None = None) -> bytes:
    buffer = io.StringIO()
    buffer.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow([str(label) for _, label, _ in columns])
    for row in rows:
        writer.writerow([_value(row, key, kind) for key, _, kind in columns])
    for footer in _footers(totals, averages):
        writer.writerow([_value(footer, key, kind) for key, _, kind in columns])
    return buffer.getvalue().encode()


def render_xlsx(title: str, columns: list[tuple[str, str, str]], rows: list[dict], totals: dict | None,
                averages: dict | None = None) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet((title or "Report")[:31])
    sheet.append([str(label) for _, label, _ in columns])
    for row in rows:
        sheet.append([_value(row, key, kind) for key, _, kind in columns])
    for footer in _footers(totals, averages):
        sheet.append([_value(footer, key, kind) for key, _, kind in columns])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def render_pdf(title: str, subtitle: str, columns: list[tuple[str, str, str]], rows: list[dict],
               totals: dict | None, tenant: object | None, averages: dict | None = None) -> bytes:
    from weasyprint import HTML

    html = render_template("reports/pdf.html", title=title, subtitle=subtitle, columns=columns, rows=rows,
                           footers=_footers(totals, averages), tenant=tenant,
                           brand=getattr(tenant, "brand_color", None) or "#2453a6")
    return HTML(string=html).write_pdf()


def render(file_format: str, title: str, subtitle: str, columns: list[tuple[str, str, str]], rows: list[dict],
           totals: dict | None, tenant: object | None, averages: dict | None = None) -> bytes:
    """The file; ``totals`` and ``averages`` are footer rows (text columns show what
    they hold, e.g. a label in the first one)."""
    if file_format == "csv":
        return render_csv(columns, rows, totals, averages)
    if file_format == "xlsx":
        return render_xlsx(title, columns, rows, totals, averages)
    return render_pdf(title, subtitle, columns, rows, totals, tenant, averages)
