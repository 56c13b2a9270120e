"""Regenerates the binary sample files (XLSX, XLS) of the lead-import tests; the
text samples are written by hand. Run from the repository root:
.venv/bin/python tests/data/make_samples.py
The legacy XLS file needs ``xlwt``, which is not a project dependency: it is
written only when xlwt is importable (e.g. from a scratch virtualenv)."""

import pathlib

import openpyxl

HERE = pathlib.Path(__file__).resolve().parent
ROWS = [
    ["Nom", "Prénom", "Téléphone", "Email", "Code postal", "Ville"],
    ["Martin", "Élodie", "06 12 34 56 78", "elodie.martin@example.fr", "75011", "Paris"],
    ["Bernard", "Loïc", 612345679, "loic@example.fr", "69003", "Lyon"],
    ["Petit", "Zoé", "+33 7 81 22 33 44", "", "13001", "Marseille"],
    ["Durand", "Noël", "12", "", "33000", "Bordeaux"],
]


def contacts_xlsx() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Notes"
    sheet.append(["Ce classeur contient les contacts dans la feuille Contacts"])
    contacts = book.create_sheet("Contacts")
    for row in ROWS:
        contacts.append(row)
    book.save(HERE / "contacts.xlsx")


def merged_xlsx() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in ROWS:
        sheet.append(row)
    sheet.merge_cells("F2:F3")
    book.save(HERE / "merged_cells.xlsx")


def contacts_xls() -> None:
    try:
        import xlwt
    except ImportError:
        print("xlwt not installed: contacts.xls left as it is")
        return
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Contacts")
    for r, row in enumerate(ROWS):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.save(str(HERE / "contacts.xls"))


if __name__ == "__main__":
    contacts_xlsx()
    merged_xlsx()
    contacts_xls()
