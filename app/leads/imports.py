"""Lead import pipeline (spec L2, N3, N5).

upload (``save_upload``) → preview (``preview``) → mapping (``apply_mapping``) →
validation job (``validate``) → import job (``execute``) → report.

Both jobs stream the file once, in chunks. A background thread reads each row and
normalises it in Python (phones, emails, custom fields), noting the rows that repeat
an earlier one of the file; meanwhile the job's connection sends the previous chunk
with ``COPY`` into a temporary table, matches it against the existing leads and
inserts its new leads, in a few set-based statements. The strategy for the rows
matching a lead (ignore, replace, merge) is one statement at the end. The import is
one transaction: if anything fails, or the worker dies, no lead of the file is kept.
Progress is written on a separate short connection so the UI sees it while the
import transaction is still open.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import pathlib
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, TypeVar

import sqlalchemy as sa

from app.extensions import Session, engine
from app.leads.fields import CUSTOM_PREFIX, NAME_FIELDS, STANDARD_FIELDS, STANDARD_NAMES, fold, suggest_field
from app.leads.models import CustomField, CustomFieldKind, ImportJob, ImportStatus, LeadList
from app.leads.phones import normalize_phone
from app.leads.readers import (
    SHEET_FORMATS,
    FileShape,
    ImportFileError,
    detect_shape,
    open_rows,
    sheet_names,
)
from tenants.models import Tenant
from tenants.scoping import current_tenant_id

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
STRATEGIES = ("ignore", "replace", "merge")
DEDUP_KEYS = ("phone", "email", "name")
SCOPES = ("list", "campaign", "tenant")
MAX_CELL = 1000
# Lead columns with a length limit (the others are unbounded text): a longer value
# is a rejected row, never a failed import.
_BOUNDED = (("postal_code", 20), ("vendor_lead_code", 64))
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COPY_SPECIALS = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def max_upload_bytes() -> int:
    return int(os.environ.get("LEADS_IMPORT_MAX_BYTES", str(200 * 1024 * 1024)))


def import_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("LEADS_IMPORT_DIR", str(ROOT / "var" / "imports")))


class ImportBusyError(RuntimeError):
    """Another worker is running this import (or its connection is not closed yet)."""


class MappingError(ValueError):
    def __init__(self, codes: list[str]) -> None:
        super().__init__(", ".join(codes))
        self.codes = codes


# --------------------------------------------------------------------------- upload


def save_upload(stream: IO[bytes], filename: str, lead_list: LeadList, *, user_id: int | None,
                max_bytes: int | None = None) -> ImportJob:
    """Store the uploaded file and describe it; a file that cannot be imported is
    deleted and nothing is written (``ImportFileError``)."""
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    directory = import_dir() / str(current_tenant_id())
    directory.mkdir(parents=True, exist_ok=True)
    extension = os.path.splitext(filename)[1].lower()[:6]
    path = directory / f"{uuid.uuid4().hex}{extension}"
    try:
        size = _copy_limited(stream, path, limit)
        if size == 0:
            raise ImportFileError("empty")
        shape = detect_shape(str(path), filename)
        # reading the first rows now reports merged cells, bad encodings or an
        # unreadable sheet at upload time instead of in the background job
        if not _first_rows(str(path), shape, 2):
            raise ImportFileError("empty")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    imp = ImportJob(list_id=lead_list.id, created_by=user_id, filename=filename[:255], stored_path=str(path),
                     size_bytes=size, file_format=shape.file_format, encoding=shape.encoding,
                     delimiter=shape.delimiter, sheet=shape.sheet, has_header=True, mapping={},
                     dedup_keys=["phone"], dedup_scope="campaign", strategy="ignore",
                     status=ImportStatus.UPLOADED, counts={})
    Session.add(imp)
    Session.flush()
    return imp


def _copy_limited(stream: IO[bytes], path: pathlib.Path, limit: int) -> int:
    size = 0
    with open(path, "wb") as out:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise ImportFileError("too_large", str(limit))
            out.write(chunk)
    return size


def shape_of(imp: ImportJob) -> FileShape:
    return FileShape(imp.file_format, imp.encoding, imp.delimiter, imp.sheet)


def _first_rows(path: str, shape: FileShape, count: int) -> list[list[str]]:
    rows, reader = open_rows(path, shape)
    found: list[list[str]] = []
    try:
        for row in rows:
            if any(cell.strip() for cell in row):
                found.append(row)
            if len(found) >= count:
                break
    finally:
        if reader is not None:
            reader.close()
    return found


def delete_import_files(imp: ImportJob) -> None:
    for path in (imp.stored_path, imp.rejects_path):
        if path:
            pathlib.Path(path).unlink(missing_ok=True)


# --------------------------------------------------------------------------- preview and mapping


@dataclass
class Preview:
    rows: list[list[str]]
    columns: int
    header_guess: bool
    sheets: list[str] = field(default_factory=list)

    def header(self, has_header: bool) -> list[str] | None:
        return self.rows[0] if has_header and self.rows else None

    def body(self, has_header: bool) -> list[list[str]]:
        return self.rows[1:] if has_header else self.rows


def preview(imp: ImportJob, limit: int = 8) -> Preview:
    rows = _first_rows(imp.stored_path, shape_of(imp), limit + 1)
    columns = max((len(r) for r in rows), default=0)
    padded = [r + [""] * (columns - len(r)) for r in rows]
    sheets = sheet_names(imp.stored_path) if imp.file_format in SHEET_FORMATS else []
    return Preview(padded, columns, _guess_header(padded), sheets)


def _looks_like_phone(cell: str) -> bool:
    return sum(ch.isdigit() for ch in cell) >= 8


def _guess_header(rows: list[list[str]]) -> bool:
    if not rows:
        return False
    first = rows[0]
    if any(suggest_field(cell, {}) for cell in first if cell):
        return True
    return not any(_looks_like_phone(c) for c in first) and any(_looks_like_phone(c) for r in rows[1:] for c in r)


def custom_fields() -> list[CustomField]:
    return list(Session.scalars(sa.select(CustomField).order_by(CustomField.position, CustomField.label)))


def field_choices(customs: list[CustomField]) -> list[tuple[str, str]]:
    return [(f.name, str(f.label)) for f in STANDARD_FIELDS] + [
        (CUSTOM_PREFIX + c.key, c.label) for c in customs
    ]


def suggest_mapping(imp: ImportJob, header: list[str] | None, columns: int,
                    customs: list[CustomField]) -> dict[int, str]:
    """Column index → field: the list's last mapping where it applies, otherwise
    the header names."""
    last = imp.lead_list.last_mapping or {}
    allowed = {value for value, _label in field_choices(customs)}
    by_header: dict[str, str] = last.get("by_header", {})
    by_index: dict[str, str] = last.get("by_index", {})
    custom_keys = {fold(c.label): c.key for c in customs} | {fold(c.key): c.key for c in customs}
    mapping: dict[int, str] = {}
    for index in range(columns):
        name = header[index] if header and index < len(header) else ""
        guess = by_header.get(fold(name)) if name else None
        if guess is None and header is None:
            guess = by_index.get(str(index))
        if guess is None and name:
            guess = suggest_field(name, custom_keys)
        if guess in allowed and guess not in mapping.values():
            mapping[index] = guess
    return mapping


@dataclass(frozen=True)
class ImportOptions:
    mapping: dict[int, str]
    has_header: bool
    strategy: str = "ignore"
    dedup_keys: tuple[str, ...] = ("phone",)
    dedup_scope: str = "campaign"
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None


def check_mapping(mapping: dict[int, str], customs: list[CustomField]) -> list[str]:
    """Error codes for a mapping that cannot produce valid leads (L2 mandatory
    fields: a phone, a name or a company)."""
    allowed = {value for value, _label in field_choices(customs)}
    fields = [f for f in mapping.values() if f]
    errors = [f"unknown_field:{f}" for f in fields if f not in allowed]
    errors += sorted({f"mapped_twice:{f}" for f in fields if fields.count(f) > 1})
    if "phone_number" not in fields:
        errors.append("missing_phone")
    if not any(name in fields for name in NAME_FIELDS):
        errors.append("missing_name")
    errors += [f"missing_custom:{c.key}" for c in customs if c.required and CUSTOM_PREFIX + c.key not in fields]
    return errors


def apply_mapping(imp: ImportJob, options: ImportOptions, header: list[str] | None) -> None:
    customs = custom_fields()
    mapping = {i: f for i, f in options.mapping.items() if f}
    errors = check_mapping(mapping, customs)
    if options.strategy not in STRATEGIES:
        errors.append("strategy")
    if not options.dedup_keys or any(k not in DEDUP_KEYS for k in options.dedup_keys):
        errors.append("dedup_keys")
    if options.dedup_scope not in SCOPES:
        errors.append("dedup_scope")
    if errors:
        raise MappingError(errors)
    imp.mapping = {str(i): f for i, f in sorted(mapping.items())}
    imp.has_header = options.has_header
    imp.strategy = options.strategy
    imp.dedup_keys = list(options.dedup_keys)
    imp.dedup_scope = options.dedup_scope
    if options.sheet and imp.file_format in SHEET_FORMATS:
        imp.sheet = options.sheet
    if options.encoding and imp.file_format not in SHEET_FORMATS:
        imp.encoding = options.encoding
    if options.delimiter and imp.file_format not in SHEET_FORMATS:
        imp.delimiter = options.delimiter
    remembered: dict[str, dict[str, str]] = {"by_index": dict(imp.mapping), "by_header": {}}
    if header:
        remembered["by_header"] = {fold(header[i]): f for i, f in mapping.items() if i < len(header) and header[i]}
    imp.lead_list.last_mapping = remembered
    imp.status = ImportStatus.UPLOADED
    imp.counts = {}
    Session.flush()


def mark_queued(imp: ImportJob, status: ImportStatus) -> None:
    imp.status = status
    imp.progress = 0
    imp.processed_rows = 0
    imp.error = None
    Session.flush()


# --------------------------------------------------------------------------- staging

STAGE_DDL = """
CREATE TEMP TABLE import_rows (
    row_no integer NOT NULL, outcome text, reason text, phone_raw text,
    existing_id bigint, match_key text,
    first_name text, last_name text, company text, phone_number text, alt_phone text, email text,
    address1 text, address2 text, address3 text, city text, state text, province text,
    postal_code text, country_code text, comments text, vendor_lead_code text,
    consent_source text, consent_at timestamptz, consent_text text, consent_proof text,
    custom jsonb
) ON COMMIT DROP
"""
# The file goes through ``import_chunk`` CHUNK_ROWS rows at a time; ``import_rows``
# keeps only the rows that are not new leads (rejected, duplicate, matching a lead),
# for the strategy, the summary and the rejects report.
CHUNK_DDL = "CREATE TEMP TABLE import_chunk (LIKE import_rows) ON COMMIT DROP"
CHUNK_ROWS = 50_000
# Lead columns an import writes, in staging order.
LEAD_COLUMNS = ("first_name", "last_name", "company", "phone_number", "alt_phone", "email", "address1",
                "address2", "address3", "city", "state", "province", "postal_code", "country_code",
                "comments", "vendor_lead_code", "consent_source", "consent_at", "consent_text",
                "consent_proof")


def _copy_text(value: str | None) -> str:
    if value is None:
        return "\\N"
    if _COPY_SPECIALS.search(value):
        return _COPY_SPECIALS.sub(lambda m: _COPY_ESCAPES[m.group()], value)
    return value


def _copy_plain(value: str | None) -> str:
    return "\\N" if value is None else value


def _parse_date(text: str) -> dt.date | None:
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y", "%Y-%m-%d %H:%M:%S",
                "%d/%m/%Y %H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class CustomSpec:
    """What the import needs of a custom field, copied out of the ORM object: rows
    are read in a background thread, which must not touch the session."""

    key: str
    kind: str
    choices: tuple[str, ...]
    required: bool

    @classmethod
    def of(cls, definition: CustomField) -> CustomSpec:
        return cls(definition.key, definition.kind, tuple(definition.choices or ()), definition.required)


def custom_value(definition: CustomField | CustomSpec, text: str) -> tuple[object, str | None]:
    """Typed value of a custom field, or the reason code it is not valid."""
    if definition.kind == CustomFieldKind.NUMBER:
        try:
            number = float(text.replace(" ", "").replace(",", "."))
        except ValueError:
            return None, f"custom:{definition.key}"
        return (int(number) if number.is_integer() else number), None
    if definition.kind == CustomFieldKind.DATE:
        parsed = _parse_date(text)
        return (parsed.isoformat(), None) if parsed else (None, f"custom:{definition.key}")
    if definition.kind == CustomFieldKind.CHOICE:
        folded = {fold(str(c)): c for c in definition.choices or []}
        return (folded[fold(text)], None) if fold(text) in folded else (None, f"custom:{definition.key}")
    return text, None


class RowStager:
    """Turns one file row into one COPY line for the staging table: normalised
    values, and the outcome already known from the row and the rows before it
    (invalid, or a duplicate of an earlier row of the file)."""

    def __init__(self, mapping: dict[str, str], customs: list[CustomField], region: str,
                 dedup_keys: tuple[str, ...] | list[str] = ()) -> None:
        self.region = region
        specs = [CustomSpec.of(c) for c in customs]
        by_key = {c.key: c for c in specs}
        pairs = [(int(i), f) for i, f in mapping.items()]
        self.standard = [(i, f) for i, f in pairs if f in STANDARD_NAMES]
        self.custom = [(i, by_key[f[len(CUSTOM_PREFIX):]]) for i, f in pairs
                       if f.startswith(CUSTOM_PREFIX) and f[len(CUSTOM_PREFIX):] in by_key]
        self.required_custom = [c for c in specs if c.required]
        mapped = [f for _i, f in self.standard]
        self.columns = [c for c in LEAD_COLUMNS if c in mapped]
        self.copy_columns = ["row_no", "outcome", "reason", "phone_raw", *self.columns, "custom"]
        self.dedup_keys = tuple(dedup_keys)
        # the keys of the valid rows seen so far, per deduplication key
        self._seen: dict[str, set[object]] = {key: set() for key in self.dedup_keys}

    def line(self, row_no: int, row: list[str]) -> str:
        width = len(row)
        values: dict[str, str | None] = {}
        for index, name in self.standard:
            cell = row[index].strip() if index < width else ""
            values[name] = cell[:MAX_CELL] if cell else None
        reason = self._normalise(values)
        custom: dict[str, object] = {}
        for index, definition in self.custom:
            cell = row[index].strip() if index < width else ""
            if not cell:
                continue
            value, problem = custom_value(definition, cell[:MAX_CELL])
            reason = reason or problem
            if problem is None:
                custom[definition.key] = value
        for definition in self.required_custom:
            if definition.key not in custom:
                reason = reason or f"missing:{definition.key}"
        phone_raw = None
        if reason is not None:
            outcome = "invalid"
            phone_raw = next((row[i].strip() for i, f in self.standard if f == "phone_number" and i < width), None)
        else:
            duplicate_key = self._duplicate_key(values)
            outcome = "\\N"
            if duplicate_key is not None:
                outcome, reason = "duplicate", f"duplicate_in_file:{duplicate_key}"
        # the values come from the cells (trimmed, cased, reformatted): when no cell
        # holds a character COPY must escape, no value does, one test for the row
        text = _copy_text if _COPY_SPECIALS.search("".join(row)) else _copy_plain
        parts = [str(row_no), outcome, text(reason), text(phone_raw)]
        parts += [text(values.get(c)) for c in self.columns]
        parts.append(_copy_text(json.dumps(custom, ensure_ascii=False)) if custom else "\\N")
        return "\t".join(parts)

    def _duplicate_key(self, values: dict[str, str | None]) -> str | None:
        """The first deduplication key on which a valid row repeats an earlier valid
        row of the file (the first one wins). A row found a duplicate on one key
        counts no more for the keys after it."""
        for key in self.dedup_keys:
            if key == "phone":
                value: object = values.get("phone_number")
            elif key == "email":
                value = values.get("email")
            else:
                last, first = values.get("last_name"), values.get("first_name")
                value = (last.lower(), first.lower()) if last is not None and first is not None else None
            if value is None:
                continue
            seen = self._seen[key]
            if value in seen:
                return key
            seen.add(value)
        return None

    def _normalise(self, values: dict[str, str | None]) -> str | None:
        reason = None
        country = values.get("country_code")
        if country is not None:
            country = country.upper()
            if len(country) != 2 or not country.isalpha():
                reason = "country"
            values["country_code"] = country
        region = country if country and reason is None else self.region
        phone = normalize_phone(values.get("phone_number"), region)
        values["phone_number"] = phone.e164
        if phone.e164 is None:
            reason = reason or f"phone:{phone.reason}"
        if values.get("alt_phone") is not None:
            alt = normalize_phone(values["alt_phone"], region)
            values["alt_phone"] = alt.e164
            if alt.e164 is None:
                reason = reason or f"alt_phone:{alt.reason}"
        if not any(values.get(n) for n in NAME_FIELDS):
            reason = reason or "missing_name"
        for name, limit in _BOUNDED:
            value = values.get(name)
            if value is not None and len(value) > limit:
                reason = reason or f"too_long:{name}"
        email = values.get("email")
        if email is not None:
            values["email"] = email.lower()
            if not _EMAIL.match(email):
                reason = reason or "email"
        if values.get("consent_at") is not None:
            parsed = _parse_date(values["consent_at"] or "")
            values["consent_at"] = parsed.isoformat() if parsed else None
            if parsed is None:
                reason = reason or "consent_at"
        return reason


class ProgressWriter:
    """Writes an import's progress on its own short transactions, visible while the
    import's transaction is still open; at most a few times a second."""

    def __init__(self, import_id: int, tenant_id: int) -> None:
        self.import_id = import_id
        self.tenant_id = tenant_id
        self._last = 0.0

    def write(self, *, force: bool = False, **values: object) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.5:
            return
        self._last = now
        table = ImportJob.__table__
        with engine().begin() as conn:
            conn.execute(sa.text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(self.tenant_id)})
            conn.execute(table.update().where(table.c.id == self.import_id).values(**values))


@dataclass(frozen=True)
class _Chunk:
    text: str  # COPY lines
    rows: int  # rows of the file read so far
    fraction: float  # of the file read so far


def _read_chunks(imp: ImportJob, stager: RowStager) -> Iterator[_Chunk]:
    rows, reader = open_rows(imp.stored_path, shape_of(imp))
    size = max(imp.size_bytes, 1)
    count = 0

    def chunk(lines: list[str]) -> _Chunk:
        lines.append("")
        fraction = reader.bytes_read / size if reader else (count / imp.total_rows if imp.total_rows else 0.0)
        return _Chunk("\n".join(lines), count, min(fraction, 1.0))

    try:
        batch: list[str] = []
        first = imp.has_header
        for row in rows:
            if first:
                first = False
                continue
            if not row or not any(row):
                continue
            count += 1
            batch.append(stager.line(count, row))
            if len(batch) >= CHUNK_ROWS:
                yield chunk(batch)
                batch = []
        if batch:
            yield chunk(batch)
    finally:
        if reader is not None:
            reader.close()


_T = TypeVar("_T")


def _read_ahead(items: Iterator[_T], depth: int = 2) -> Iterator[_T]:
    """``items`` produced by a background thread, at most ``depth`` ahead: the
    worker reads and checks the next chunk of the file while PostgreSQL matches and
    inserts this one (the two take turns on one core otherwise). An exception of the
    producer is raised here; leaving the loop early stops the producer."""
    pending: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                pending.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((False, item)):
                    return
            put((True, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((True, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="import-reader", daemon=True)
    thread.start()
    try:
        while True:
            finished, value = pending.get()
            if finished:
                if value is not None:
                    raise value  # type: ignore[misc]
                return
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


def _stage(cur, run: _Run, *, insert: bool, on_progress: Callable[[int, float], None]) -> tuple[int, int, int]:
    """Streams the file through ``import_chunk``: each chunk is copied in, matched
    against the existing leads and, when ``insert``, its new leads are inserted;
    (rows, new rows, inserted leads)."""
    imp, stager = run.imp, run.stager
    cur.execute(STAGE_DDL)
    cur.execute(CHUNK_DDL)
    copy_sql = f"COPY import_chunk ({', '.join(stager.copy_columns)}) FROM STDIN"
    match = _has_candidates(cur, imp, run.params)
    total = new = inserted = 0
    for chunk in _read_ahead(_read_chunks(imp, stager)):
        with cur.copy(copy_sql) as copy:
            copy.write(chunk.text)
        if match:
            _match_existing(cur, imp, run.params)
        cur.execute("INSERT INTO import_rows SELECT * FROM import_chunk "
                    "WHERE outcome IS NOT NULL OR existing_id IS NOT NULL")
        new += chunk.rows - total - cur.rowcount
        if insert:
            inserted += _insert_new(cur, stager.columns, run.params)
        cur.execute("TRUNCATE import_chunk")
        total = chunk.rows
        on_progress(total, chunk.fraction)
    if total == 0:
        raise ImportFileError("no_rows")
    return total, new, inserted


# --------------------------------------------------------------------------- set-based decisions


def _scope_sql(imp: ImportJob) -> str:
    if imp.dedup_scope == "list":
        return "l.list_id = %(list_id)s"
    if imp.dedup_scope == "campaign":
        return "l.list_id IN (SELECT id FROM lead_lists WHERE campaign_id = %(campaign_id)s)"
    return "TRUE"


_DB_MATCH = {
    "phone": ("l.phone_number = s.phone_number", "s.phone_number IS NOT NULL"),
    # the *_key columns are lower-case copies; see the indexes of Lead for why
    "email": ("l.email_key = s.email", "s.email IS NOT NULL"),
    "name": ("l.last_name_key = lower(s.last_name) AND l.first_name_key = lower(s.first_name)",
             "s.last_name IS NOT NULL AND s.first_name IS NOT NULL"),
}


def _has_candidates(cur, imp: ImportJob, params: dict[str, object]) -> bool:
    """Notes the last lead id before the import (the leads a row can match: never
    one this import inserted) and whether any lead of the scope exists at all (a
    new list in a new campaign needs no matching)."""
    cur.execute("SELECT COALESCE(pg_sequence_last_value(pg_get_serial_sequence('leads', 'id')::regclass), 0)")
    params["before"] = cur.fetchone()[0]
    cur.execute(f"SELECT EXISTS (SELECT 1 FROM leads l WHERE l.tenant_id = %(tenant_id)s AND {_scope_sql(imp)})",
                params)
    return bool(cur.fetchone()[0])


def _match_existing(cur, imp: ImportJob, params: dict[str, object]) -> None:
    """Matches the chunk's remaining rows with the leads that existed before the
    import, key after key. Explicit ``tenant_id`` conditions are for the planner
    (the indexes lead with it); row-level security filters by tenant anyway."""
    scope = _scope_sql(imp)
    for key in imp.dedup_keys:
        match, present = _DB_MATCH[key]
        cur.execute(f"""
            UPDATE import_chunk t SET existing_id = m.id, match_key = '{key}'
            FROM (SELECT DISTINCT ON (s.row_no) s.row_no, l.id
                  FROM import_chunk s JOIN leads l ON {match}
                  WHERE s.outcome IS NULL AND s.existing_id IS NULL AND {present}
                    AND l.tenant_id = %(tenant_id)s AND l.id <= %(before)s AND {scope}
                  ORDER BY s.row_no, l.id) m
            WHERE t.row_no = m.row_no""", params)


def _second_matches(cur) -> None:
    """Two rows of the file matching the same existing lead: the first one wins."""
    cur.execute("""
        UPDATE import_rows s SET outcome = 'duplicate', reason = 'duplicate_in_file:existing'
        FROM (SELECT row_no, row_number() OVER (PARTITION BY existing_id ORDER BY row_no) AS rn
              FROM import_rows WHERE outcome IS NULL AND existing_id IS NOT NULL) d
        WHERE d.rn > 1 AND s.row_no = d.row_no""")


def _summary(cur, total: int, new: int) -> dict[str, object]:
    cur.execute("SELECT outcome, reason, match_key, count(*) FROM import_rows GROUP BY 1, 2, 3")
    counts: dict[str, object] = {"rows": total, "invalid": {}, "duplicate_in_file": {}, "existing": {}}
    invalid, in_file, existing = counts["invalid"], counts["duplicate_in_file"], counts["existing"]
    for outcome, reason, match_key, n in cur.fetchall():
        if outcome == "invalid":
            invalid[reason] = invalid.get(reason, 0) + n  # type: ignore[union-attr]
        elif outcome == "duplicate":
            key = reason.split(":", 1)[1]
            in_file[key] = in_file.get(key, 0) + n  # type: ignore[union-attr]
        else:
            existing[match_key] = existing.get(match_key, 0) + n  # type: ignore[union-attr]
    counts["invalid_total"] = sum(invalid.values())  # type: ignore[union-attr]
    counts["duplicate_in_file_total"] = sum(in_file.values())  # type: ignore[union-attr]
    counts["existing_total"] = sum(existing.values())  # type: ignore[union-attr]
    counts["new"] = new
    return counts


def _assignments(columns: list[str], merge: bool) -> str:
    parts = []
    for column in columns:
        value = f"s.{column}"
        parts.append(f"{column} = COALESCE({value}, l.{column})" if merge else f"{column} = {value}")
    return ", ".join(parts)


def _apply_existing(cur, imp: ImportJob, columns: list[str], params: dict[str, object]) -> int:
    if imp.strategy == "ignore":
        cur.execute("UPDATE import_rows SET outcome = 'ignored', reason = 'existing:' || match_key "
                    "WHERE outcome IS NULL AND existing_id IS NOT NULL")
        return 0
    merge = imp.strategy == "merge"
    # the phone is the lead's identity in the dialer: never blanked by a replace
    writable = [c for c in columns if c != "phone_number" or merge]
    sets = _assignments(writable, merge)
    move = "" if merge else ", list_id = %(list_id)s"
    cur.execute(f"""
        UPDATE leads l SET {sets + ', ' if sets else ''}custom = l.custom || COALESCE(s.custom, '{{}}'::jsonb),
               updated_at = now(){move}
        FROM import_rows s
        WHERE s.outcome IS NULL AND s.existing_id = l.id AND l.tenant_id = %(tenant_id)s""", params)
    changed = cur.rowcount
    cur.execute("UPDATE import_rows SET outcome = %s WHERE outcome IS NULL AND existing_id IS NOT NULL",
                ("merged" if merge else "replaced",))
    return changed


VENDOR_CODE_SQL = ("'EXT-' || (extract(epoch FROM clock_timestamp()) * 1000)::bigint || '-' || "
                   "lpad(to_hex((random() * 4294967295)::bigint), 8, '0')")


def _insert_new(cur, columns: list[str], params: dict[str, object]) -> int:
    """The chunk's new leads, in file order."""
    plain = [c for c in columns if c not in ("vendor_lead_code", "country_code")]
    target = ", ".join(["tenant_id", "list_id", *plain, "vendor_lead_code", "country_code", "custom"])
    source = ", ".join(["%(tenant_id)s", "%(list_id)s", *(f"s.{c}" for c in plain),
                        f"COALESCE(s.vendor_lead_code, {VENDOR_CODE_SQL})" if "vendor_lead_code" in columns
                        else VENDOR_CODE_SQL,
                        "COALESCE(s.country_code, %(country)s)" if "country_code" in columns else "%(country)s",
                        "COALESCE(s.custom, '{}'::jsonb)"])
    cur.execute(f"INSERT INTO leads ({target}) SELECT {source} FROM import_chunk s "
                "WHERE s.outcome IS NULL AND s.existing_id IS NULL ORDER BY s.row_no", params)
    return cur.rowcount


def _write_rejects(cur, imp: ImportJob, columns: list[str]) -> str:
    path = f"{imp.stored_path}.rejects.csv"
    shown = ", ".join(f"s.{c}" for c in columns if c != "phone_number")
    query = (f"COPY (SELECT s.row_no AS line, s.reason, COALESCE(s.phone_number, s.phone_raw) AS phone_number"
             f"{', ' + shown if shown else ''} FROM import_rows s "
             "WHERE s.outcome IN ('invalid', 'duplicate', 'ignored') ORDER BY s.row_no) "
             "TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';')")
    with open(path, "wb") as out, cur.copy(query) as copy:
        for data in copy:
            out.write(data)
    return path


# --------------------------------------------------------------------------- the two jobs


@dataclass
class _Run:
    imp: ImportJob
    params: dict[str, object]
    stager: RowStager
    progress: ProgressWriter


def _prepare(import_id: int) -> _Run | None:
    imp = Session.get(ImportJob, import_id, populate_existing=True)
    if imp is None:
        return None
    # one worker per import, whatever the broker redelivers
    locked = Session.execute(sa.text("SELECT pg_try_advisory_xact_lock(hashtext('lead_import'), :id)"),
                             {"id": import_id}).scalar()
    if not locked:
        raise ImportBusyError(str(import_id))
    # the list-count trigger's transition table and the end's window over up to
    # millions of matched rows: in memory rather than in temporary files (this
    # transaction only)
    Session.execute(sa.text("SET LOCAL work_mem = '192MB'"))
    # a worker killed mid-statement: PostgreSQL notices its closed socket within a
    # second and aborts, releasing the import's lock for the broker's redelivery,
    # instead of finishing a statement for nobody
    Session.execute(sa.text("SET LOCAL client_connection_check_interval = '1s'"))
    tenant = Session.get(Tenant, imp.tenant_id)
    region = (tenant.country if tenant else "FR") or "FR"
    params = {"tenant_id": imp.tenant_id, "list_id": imp.list_id, "campaign_id": imp.lead_list.campaign_id,
              "country": region}
    return _Run(imp, params, RowStager(imp.mapping, custom_fields(), region, imp.dedup_keys),
                ProgressWriter(imp.id, imp.tenant_id))


def _staging_progress(run: _Run, share: float) -> Callable[[int, float], None]:
    def report(count: int, fraction: float) -> None:
        run.progress.write(processed_rows=count, progress=int(fraction * share))

    return report


def validate(import_id: int) -> ImportJob | None:
    """The validation job: counts what the import would do; writes no lead."""
    run = _prepare(import_id)
    if run is None:
        return None
    imp = run.imp
    run.progress.write(force=True, status=ImportStatus.VALIDATING, progress=0, processed_rows=0, error=None)
    cur = Session.connection().connection.driver_connection.cursor()
    total, new, _inserted = _stage(cur, run, insert=False, on_progress=_staging_progress(run, 95))
    _second_matches(cur)
    imp.counts = _summary(cur, total, new)
    cur.execute("DROP TABLE import_rows, import_chunk")
    imp.total_rows = total
    imp.processed_rows = total
    imp.progress = 100
    imp.status = ImportStatus.VALIDATED
    Session.flush()
    return imp


def execute(import_id: int) -> ImportJob | None:
    """The import job: all rows of the file in one transaction."""
    run = _prepare(import_id)
    if run is None:
        return None
    imp = run.imp
    if imp.status == ImportStatus.DONE:
        return imp
    now = dt.datetime.now(dt.UTC)
    run.progress.write(force=True, status=ImportStatus.RUNNING, progress=0, processed_rows=0, error=None,
                       started_at=now)
    cur = Session.connection().connection.driver_connection.cursor()
    total, new, inserted = _stage(cur, run, insert=True, on_progress=_staging_progress(run, 90))
    run.progress.write(force=True, progress=90, processed_rows=total)
    _second_matches(cur)
    counts = _summary(cur, total, new)
    columns = run.stager.columns
    counts["updated"] = _apply_existing(cur, imp, columns, run.params)
    counts["inserted"] = inserted
    counts["strategy"] = imp.strategy
    imp.rejects_path = _write_rejects(cur, imp, columns)
    cur.execute("DROP TABLE import_rows, import_chunk")
    imp.counts = counts
    imp.total_rows = total
    imp.processed_rows = total
    imp.progress = 100
    imp.status = ImportStatus.DONE
    imp.finished_at = dt.datetime.now(dt.UTC)
    Session.flush()
    return imp


def record_failure(import_id: int, tenant_id: int, error: str) -> None:
    """After a rollback: the import failed, and says why (its own transaction)."""
    ProgressWriter(import_id, tenant_id).write(force=True, status=ImportStatus.FAILED, error=error[:2000],
                                               progress=0)


def iter_rejects(imp: ImportJob) -> Iterator[list[str]]:
    """Rows of the rejects report (header first), for the download view."""
    if not imp.rejects_path or not os.path.exists(imp.rejects_path):
        return
    with open(imp.rejects_path, encoding="utf-8", newline="") as handle:
        yield from csv.reader(handle, delimiter=";")
