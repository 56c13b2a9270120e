"""Dynamic scripts (C5): pages of blocks, versions, rendering against a lead, answers.

Content of a version::

    {"pages": [{"key": "p1", "title": "Présentation", "blocks": [
        {"type": "text", "text": "Bonjour {first_name}, ..."},
        {"type": "question", "key": "owner", "label": "Propriétaire ?", "answer_type": "yes_no",
         "choices": [], "branches": [{"answer": "no", "page": "p3"}]},
        {"type": "button", "label": "Vente", "status": "VT"}]}]}

A published version never changes (calls record which one they used); edits go to
the script's draft, a new version copied from the last one.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from app.campaigns.models import Script, ScriptAnswer, ScriptVersion
from app.db import utcnow
from app.extensions import Session
from app.leads.models import CustomField

PLACEHOLDER = re.compile(r"\{([^{}\s]*)\}")
LEAD_PLACEHOLDERS: tuple[str, ...] = (
    "first_name", "last_name", "company", "phone_number", "alt_phone", "email", "address1", "address2",
    "city", "postal_code", "state", "country_code", "vendor_lead_code", "comments",
)
BLOCK_TYPES = ("text", "question", "button")
ANSWER_TYPES = ("text", "choice", "yes_no", "date")
YES_NO = ("yes", "no")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_TEXT = 5000
MAX_ANSWER = 2000


class ScriptError(ValueError):
    """Content or answers that cannot be saved; ``errors`` are user-facing messages."""

    def __init__(self, errors: list[Any]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


# ------------------------------------------------------------------ content
def empty_content() -> dict:
    return {"pages": [{"key": "p1", "title": "Introduction", "blocks": []}]}


def known_placeholders() -> set[str]:
    """Lead fields and the tenant's custom fields, the names a script may use."""
    return set(LEAD_PLACEHOLDERS) | set(Session.scalars(sa.select(CustomField.key)))


def validate_content(content: object, placeholders: set[str]) -> list[Any]:
    """Every problem found, in reading order; an empty list means the content is valid."""
    if not isinstance(content, dict) or not isinstance(content.get("pages"), list) or not content["pages"]:
        return [_l("A script needs at least one page.")]
    errors: list[Any] = []
    page_keys = [page.get("key") for page in content["pages"] if isinstance(page, dict)]
    if len(page_keys) != len(content["pages"]) or len(set(page_keys)) != len(page_keys):
        errors.append(_l("Every page needs its own key."))
    question_keys: list[str] = []
    for number, page in enumerate(content["pages"], start=1):
        if not isinstance(page, dict) or not isinstance(page.get("blocks"), list):
            errors.append(_l("Page %(n)s is malformed.", n=number))
            continue
        if not str(page.get("title", "")).strip():
            errors.append(_l("Page %(n)s needs a title.", n=number))
        for block in page["blocks"]:
            errors.extend(_block_errors(block, number, set(page_keys), placeholders, question_keys))
    duplicates = sorted({key for key in question_keys if question_keys.count(key) > 1})
    if duplicates:
        errors.append(_l("Question keys must be unique: %(keys)s.", keys=", ".join(duplicates)))
    return errors


def _block_errors(block: object, page: int, page_keys: set[str], placeholders: set[str],
                  question_keys: list[str]) -> list[Any]:
    if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
        return [_l("Page %(n)s has a block of an unknown type.", n=page)]
    kind = block["type"]
    errors: list[Any] = []
    texts = [str(block.get("text", ""))] if kind == "text" else [str(block.get("label", ""))]
    for text in texts:
        if len(text) > MAX_TEXT:
            errors.append(_l("Page %(n)s: a block is longer than %(max)s characters.", n=page, max=MAX_TEXT))
        unknown = sorted({name for name in PLACEHOLDER.findall(text) if name not in placeholders})
        if unknown:
            errors.append(_l("Page %(n)s: unknown placeholder %(names)s. Use a lead field or a custom field.",
                             n=page, names=", ".join("{" + name + "}" for name in unknown)))
    if kind == "question":
        errors.extend(_question_errors(block, page, page_keys, question_keys))
    elif kind == "button":
        code = str(block.get("status", "")).strip().upper()
        if not str(block.get("label", "")).strip() or not (2 <= len(code) <= 3 and code.isalnum()):
            errors.append(_l("Page %(n)s: a button needs a label and a status code of 2 or 3 characters.", n=page))
    elif not str(block.get("text", "")).strip():
        errors.append(_l("Page %(n)s: a text block is empty.", n=page))
    return errors


def _question_errors(block: dict, page: int, page_keys: set[str], question_keys: list[str]) -> list[Any]:
    errors: list[Any] = []
    key = str(block.get("key", ""))
    question_keys.append(key)
    if not KEY.match(key):
        errors.append(_l("Page %(n)s: question key %(key)s must be lower-case letters, digits or _.",
                         n=page, key=key or "∅"))
    if not str(block.get("label", "")).strip():
        errors.append(_l("Page %(n)s: a question needs a label.", n=page))
    answer_type = block.get("answer_type")
    if answer_type not in ANSWER_TYPES:
        errors.append(_l("Page %(n)s: question %(key)s has an unknown answer type.", n=page, key=key))
    choices = block.get("choices") or []
    if answer_type == "choice" and len([c for c in choices if str(c).strip()]) < 2:
        errors.append(_l("Page %(n)s: question %(key)s needs at least two choices.", n=page, key=key))
    allowed = set(YES_NO) if answer_type == "yes_no" else {str(c) for c in choices}
    for branch in block.get("branches") or []:
        if branch.get("page") not in page_keys:
            errors.append(_l("Page %(n)s: question %(key)s branches to a page that does not exist.",
                             n=page, key=key))
        elif answer_type in ("choice", "yes_no") and str(branch.get("answer")) not in allowed:
            errors.append(_l("Page %(n)s: question %(key)s branches on an answer it does not offer.",
                             n=page, key=key))
    return errors


def normalise_content(content: dict) -> dict:
    """Trimmed strings, upper-case status codes, no empty choices or branches."""
    pages = []
    for page in content.get("pages", []):
        blocks = []
        for block in page.get("blocks", []):
            kind = block.get("type")
            if kind == "text":
                blocks.append({"type": "text", "text": str(block.get("text", "")).strip()})
            elif kind == "question":
                blocks.append({
                    "type": "question", "key": str(block.get("key", "")).strip(),
                    "label": str(block.get("label", "")).strip(), "answer_type": block.get("answer_type"),
                    "choices": [str(c).strip() for c in block.get("choices") or [] if str(c).strip()],
                    "branches": [{"answer": str(b.get("answer", "")).strip(), "page": b.get("page")}
                                 for b in block.get("branches") or [] if b.get("page")],
                })
            else:
                blocks.append({"type": kind, "label": str(block.get("label", "")).strip(),
                               "status": str(block.get("status", "")).strip().upper()})
        pages.append({"key": str(page.get("key", "")).strip(), "title": str(page.get("title", "")).strip(),
                      "blocks": blocks})
    return {"pages": pages}


# ----------------------------------------------------------------- versions
def name_taken(name: str, exclude_id: int | None = None) -> bool:
    stmt = sa.select(Script.id).where(sa.func.lower(Script.name) == name.strip().lower())
    if exclude_id is not None:
        stmt = stmt.where(Script.id != exclude_id)
    return Session.scalar(stmt) is not None


def create_script(name: str, content: dict | None = None) -> Script:
    if name_taken(name):
        raise ScriptError([_l("Another script already has this name.")])
    script = Script(name=name.strip())
    Session.add(script)
    Session.flush()
    Session.add(ScriptVersion(script_id=script.id, number=1, content=content or empty_content()))
    Session.flush()
    return script


def latest_version(script: Script) -> ScriptVersion:
    return Session.scalars(sa.select(ScriptVersion).where(ScriptVersion.script_id == script.id)
                           .order_by(ScriptVersion.number.desc()).limit(1)).one()


def published_version(script: Script) -> ScriptVersion | None:
    """The version calls use: the last published one."""
    return Session.scalars(sa.select(ScriptVersion).where(
        ScriptVersion.script_id == script.id, ScriptVersion.published_at.is_not(None))
        .order_by(ScriptVersion.number.desc()).limit(1)).first()


def draft_version(script: Script) -> ScriptVersion:
    """The editable version: the latest if unpublished, else a new copy of it."""
    latest = latest_version(script)
    if not latest.published:
        return latest
    draft = ScriptVersion(script_id=script.id, number=latest.number + 1, content=dict(latest.content))
    Session.add(draft)
    Session.flush()
    return draft


def save_draft(script: Script, content: dict) -> ScriptVersion:
    """Validate and store ``content`` in the draft; published versions stay untouched."""
    content = normalise_content(content)
    errors = validate_content(content, known_placeholders())
    if errors:
        raise ScriptError(errors)
    draft = draft_version(script)
    draft.content = content
    Session.flush()
    return draft


def publish_script(script: Script) -> ScriptVersion:
    latest = latest_version(script)
    if latest.published:
        raise ScriptError([_l("There are no changes to publish.")])
    errors = validate_content(latest.content, known_placeholders())
    if errors:
        raise ScriptError(errors)
    latest.published_at = utcnow()
    Session.flush()
    return latest


def rename_script(script: Script, name: str) -> None:
    if name_taken(name, exclude_id=script.id):
        raise ScriptError([_l("Another script already has this name.")])
    script.name = name.strip()
    Session.flush()


# ---------------------------------------------------------------- rendering
@dataclass
class RenderedBlock:
    type: str
    html: Markup = Markup("")
    key: str = ""
    label: Markup = Markup("")
    answer_type: str = ""
    choices: list[str] = field(default_factory=list)
    branches: list[dict] = field(default_factory=list)
    status: str = ""

    @property
    def branch_map(self) -> dict[str, str]:
        return {str(branch.get("answer")): str(branch.get("page")) for branch in self.branches}

    @property
    def options(self) -> list[tuple[str, Any]]:
        if self.answer_type == "yes_no":
            return [("yes", _l("Yes")), ("no", _l("No"))]
        return [(choice, choice) for choice in self.choices]


@dataclass
class RenderedPage:
    key: str
    title: str
    blocks: list[RenderedBlock]


@dataclass
class RenderedScript:
    version_id: int
    number: int
    pages: list[RenderedPage]

    def page_title(self, key: str) -> str:
        return next((page.title for page in self.pages if page.key == key), key)


def render_script(version: ScriptVersion, lead: object) -> RenderedScript:
    """The script as the agent sees it: placeholders filled from ``lead`` (its fields,
    then ``lead.custom``), text escaped then lightly formatted (**bold**, *italic*,
    paragraphs)."""
    values = _lead_values(lead)
    pages = []
    for page in version.content.get("pages", []):
        blocks = [_render_block(block, values) for block in page.get("blocks", [])]
        pages.append(RenderedPage(page.get("key", ""), page.get("title", ""), blocks))
    return RenderedScript(version.id, version.number, pages)


def _render_block(block: dict, values: Mapping[str, str]) -> RenderedBlock:
    kind = block.get("type", "text")
    if kind == "text":
        return RenderedBlock("text", html=rich_text(block.get("text", ""), values))
    label = fill(block.get("label", ""), values)
    if kind == "button":
        return RenderedBlock("button", label=label, status=block.get("status", ""))
    return RenderedBlock("question", key=block.get("key", ""), label=label,
                         answer_type=block.get("answer_type", "text"), choices=list(block.get("choices") or []),
                         branches=list(block.get("branches") or []))


def _lead_values(lead: object) -> dict[str, str]:
    values = {name: getattr(lead, name, None) for name in LEAD_PLACEHOLDERS}
    values.update(getattr(lead, "custom", None) or {})
    return {key: "" if value is None else str(value) for key, value in values.items()}


def fill(text: str, values: Mapping[str, str]) -> Markup:
    """Escaped text with each placeholder replaced by the lead's value, marked up."""
    out = []
    position = 0
    for match in PLACEHOLDER.finditer(text):
        out.append(str(escape(text[position:match.start()])))
        value = values.get(match.group(1), "")
        out.append(f'<span class="script-var">{escape(value) if value else "—"}</span>')
        position = match.end()
    out.append(str(escape(text[position:])))
    return Markup("".join(out))


def rich_text(text: str, values: Mapping[str, str]) -> Markup:
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", text) if part.strip()]
    rendered = []
    for paragraph in paragraphs:
        html = str(fill(paragraph, values))
        html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html)
        html = re.sub(r"\*(.+?)\*", r"<em>\1</em>", html)
        rendered.append("<p>" + html.replace("\n", "<br>") + "</p>")
    return Markup("".join(rendered))


def sample_lead() -> SimpleNamespace:
    """A made-up lead for the editor's preview when the tenant has none to show."""
    custom = {key: f"[{key}]" for key in Session.scalars(sa.select(CustomField.key))}
    return SimpleNamespace(
        first_name="Camille", last_name="Martin", company="", phone_number="+33612345678", alt_phone="",
        email="camille.martin@exemple.fr", address1="12 rue de Paris", address2="", city="Montreuil",
        postal_code="93100", state="", country_code="FR", vendor_lead_code="DEMO-1", comments="",
        custom=custom, display_name="Camille Martin",
    )


# ------------------------------------------------------------------ answers
def questions(version: ScriptVersion) -> dict[str, dict]:
    return {block["key"]: block for page in version.content.get("pages", [])
            for block in page.get("blocks", []) if block.get("type") == "question"}


def save_answers(call_id: uuid.UUID, version: ScriptVersion, answers: Mapping[str, object]) -> ScriptAnswer:
    """Store the answers given during call ``call_id``, merged with earlier ones of the
    same call. A call answers one published version only."""
    if not version.published:
        raise ScriptError([_l("Answers are saved against a published version only.")])
    known = questions(version)
    errors: list[Any] = []
    cleaned: dict[str, object] = {}
    for key, value in answers.items():
        question = known.get(key)
        if question is None:
            errors.append(_l("Unknown question %(key)s.", key=key))
            continue
        try:
            cleaned[key] = _clean_answer(question, value)
        except ValueError:
            errors.append(_l("Invalid answer to question %(key)s.", key=key))
    if errors:
        raise ScriptError(errors)
    row = Session.get(ScriptAnswer, call_id, populate_existing=True)
    if row is None:
        row = ScriptAnswer(call_id=call_id, script_version_id=version.id, answers={})
        Session.add(row)
    elif row.script_version_id != version.id:
        raise ScriptError([_l("This call already answered another version of the script.")])
    row.answers = {**row.answers, **cleaned}
    row.saved_at = utcnow()
    Session.flush()
    return row


def _clean_answer(question: dict, value: object) -> object:
    kind = question.get("answer_type")
    if kind == "yes_no":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("yes", "no", "true", "false"):
            return str(value).lower() in ("yes", "true")
        raise ValueError(value)
    if kind == "date":
        return dt.date.fromisoformat(str(value)).isoformat()
    text = str(value).strip()
    if kind == "choice" and text not in question.get("choices", []):
        raise ValueError(value)
    if len(text) > MAX_ANSWER:
        raise ValueError(value)
    return text


def next_page(version: ScriptVersion, question_key: str, answer: object) -> str | None:
    """The page a question's answer branches to, if any."""
    question = questions(version).get(question_key)
    if question is None:
        return None
    wanted = ("yes" if answer else "no") if isinstance(answer, bool) else str(answer)
    return next((b["page"] for b in question.get("branches", []) if b.get("answer") == wanted), None)


def missing_status_codes(version: ScriptVersion, codes: set[str]) -> list[str]:
    """Status codes the version's buttons set that ``codes`` (a campaign's) lacks."""
    wanted = {block.get("status", "") for page in version.content.get("pages", [])
              for block in page.get("blocks", []) if block.get("type") == "button"}
    return sorted(wanted - codes)
