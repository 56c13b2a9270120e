"""Every report as CSV, XLSX or PDF (WeasyPrint, with the tenant's name and colour)."""

from __future__ import annotations

import csv
import io

from flask import render_template
from openpyxl import Workbook

FORMATS = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "pdf": "application/pdf"}


def _value(row: dict, key: str, kind: str) -> object:
    value = row.get(key)
    if kind == "duration" and isinstance(value, int | float):
        return round(float(value), 1)
    return "" if value is None else value if isinstance(value, int | float) else str(value)


def render_csv(columns: list[tuple[str, str, str]], rows: list[dict], totals: dict | None) -> bytes:
    buffer = io.StringIO()
    buffer.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow([str(label) for _, label, _ in columns])
    for row in rows:
        writer.writerow([_value(row, key, kind) for key, _, kind in columns])
    if totals:
        writer.writerow([_value(totals, key, kind) if kind != "text" else "" for key, _, kind in columns])
    return buffer.getvalue().encode()


def render_xlsx(title: str, columns: list[tuple[str, str, str]], rows: list[dict], totals: dict | None) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet((title or "Report")[:31])
    sheet.append([str(label) for _, label, _ in columns])
    for row in rows:
        sheet.append([_value(row, key, kind) for key, _, kind in columns])
    if totals:
        sheet.append([_value(totals, key, kind) if kind != "text" else "" for key, _, kind in columns])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def render_pdf(title: str, subtitle: str, columns: list[tuple[str, str, str]], rows: list[dict],
               totals: dict | None, tenant: object | None) -> bytes:
    from weasyprint import HTML

    html = render_template("reports/pdf.html", title=title, subtitle=subtitle, columns=columns, rows=rows,
                           totals=totals, tenant=tenant, brand=getattr(tenant, "brand_color", None) or "#2453a6")
    return HTML(string=html).write_pdf()


def render(file_format: str, title: str, subtitle: str, columns: list[tuple[str, str, str]], rows: list[dict],
           totals: dict | None, tenant: object | None) -> bytes:
    if file_format == "csv":
        return render_csv(columns, rows, totals)
    if file_format == "xlsx":
        return render_xlsx(title, columns, rows, totals)
    return render_pdf(title, subtitle, columns, rows, totals, tenant)
