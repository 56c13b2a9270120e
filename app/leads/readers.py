"""Reading uploaded lead files: format, encoding and delimiter detection, and one
streaming row iterator for CSV, TXT, XLSX and XLS."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass

from python_calamine import CalamineError, CalamineWorkbook

HEAD_BYTES = 256 * 1024
TEXT_FORMATS = ("csv", "txt")
SHEET_FORMATS = ("xlsx", "xls")
ENCODINGS = ("utf-8", "windows-1252", "iso-8859-1")
DELIMITERS = (";", ",", "\t", "|")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class ImportFileError(ValueError):
    """The file cannot be imported; ``code`` selects the message shown to the user."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class FileShape:
    file_format: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None


def detect_format(filename: str, head: bytes) -> str:
    extension = os.path.splitext(filename.lower())[1].lstrip(".")
    if not head.strip():
        raise ImportFileError("empty")
    if head.startswith(_ZIP_MAGIC):
        if extension not in ("xlsx", "xlsm", ""):
            raise ImportFileError("binary")
        return "xlsx"
    if head.startswith(_OLE_MAGIC):
        return "xls"
    if extension in ("xlsx", "xls"):
        raise ImportFileError("corrupt_sheet")
    if _looks_binary(head):
        raise ImportFileError("binary")
    return "txt" if extension == "txt" else "csv"


def _looks_binary(head: bytes) -> bool:
    sample = head[:8192]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13, 12))
    return controls > len(sample) * 0.02


def detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        # final=False: the sample may end in the middle of a multi-byte character
        decoder.decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    # Windows-1252 and ISO-8859-1 differ only on 0x80-0x9F (€, œ, ’...), which
    # ISO-8859-1 uses for control characters that never appear in a lead file.
    if any(0x80 <= b <= 0x9F for b in head):
        return "windows-1252"
    return "iso-8859-1"


def detect_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return ";"
    best, best_score = ";", -1.0
    for candidate in DELIMITERS:
        counts = [len(row) - 1 for row in csv.reader(lines, delimiter=candidate)]
        if not counts or max(counts) == 0:
            continue
        steady = sum(1 for c in counts if c == counts[0]) / len(counts)
        score = steady * 10 + min(counts[0], 50) / 50
        if score > best_score:
            best, best_score = candidate, score
    return best


def read_head(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(HEAD_BYTES)


def detect_shape(path: str, filename: str) -> FileShape:
    head = read_head(path)
    file_format = detect_format(filename, head)
    if file_format in SHEET_FORMATS:
        names = sheet_names(path)
        return FileShape(file_format, sheet=names[0] if names else None)
    encoding = detect_encoding(head)
    text = head.decode(encoding, errors="ignore")
    return FileShape(file_format, encoding=encoding, delimiter=detect_delimiter(text))


def sheet_names(path: str) -> list[str]:
    try:
        return list(CalamineWorkbook.from_path(path).sheet_names)
    except (CalamineError, ValueError, OSError) as exc:
        raise ImportFileError("corrupt_sheet", str(exc)) from exc


class CountingReader(io.RawIOBase):
    """A binary file that counts the bytes read, for the progress of a text import."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "rb")  # noqa: SIM115  (closed by close())
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        count = self._file.readinto(buffer)
        self.bytes_read += count or 0
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


def iter_text_rows(reader: CountingReader, encoding: str, delimiter: str) -> Iterator[list[str]]:
    text = io.TextIOWrapper(io.BufferedReader(reader, 1 << 20), encoding=encoding, newline="",
                            errors="strict")
    try:
        yield from csv.reader(text, delimiter=delimiter)
    except UnicodeDecodeError as exc:
        raise ImportFileError("encoding", str(exc)) from exc
    except csv.Error as exc:
        raise ImportFileError("malformed", str(exc)) from exc


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        # phone numbers typed as numbers come back as 612345678.0
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def iter_sheet_rows(path: str, sheet: str | None) -> Iterator[list[str]]:
    try:
        workbook = CalamineWorkbook.from_path(path)
        name = sheet or workbook.sheet_names[0]
        if name not in workbook.sheet_names:
            raise ImportFileError("no_sheet", name)
        data = workbook.get_sheet_by_name(name)
    except CalamineError as exc:
        raise ImportFileError("corrupt_sheet", str(exc)) from exc
    if data.merged_cell_ranges:
        # a merged cell's value sits in its first cell only: the other rows would
        # silently lose it, so the user unmerges first
        raise ImportFileError("merged_cells", name)
    for row in data.iter_rows():
        yield [_cell(value) for value in row]


def open_rows(path: str, shape: FileShape) -> tuple[Iterator[list[str]], CountingReader | None]:
    """Rows of the file and, for text files, the byte counter for progress."""
    if shape.file_format in SHEET_FORMATS:
        return iter_sheet_rows(path, shape.sheet), None
    reader = CountingReader(path)
    return iter_text_rows(reader, shape.encoding or "utf-8", shape.delimiter or ";"), reader
