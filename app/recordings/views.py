"""Recordings pages: search, play (HTTP range requests), download, retention; the
card-payment pause/resume endpoints used by the agent's screen and the API."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

from flask import Blueprint, Response, abort, flash, g, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.auth.permissions import Permission, can, require
from app.calls.models import Call
from app.core.loaders import get_or_404
from app.core.nav import SECTION_MANAGE, NavItem, register_nav
from app.core.rendering import render
from app.extensions import Session
from app.realtime import bus
from app.recordings import services
from app.recordings.forms import RetentionForm
from app.recordings.models import Recording, RecordingStatus
from app.recordings.storage import storage_from_config
from app.runtime import current_config

bp = Blueprint("recordings", __name__, url_prefix="/recordings")
register_nav(SECTION_MANAGE, NavItem(_l("Recordings"), "recordings.index", Permission.SUPERVISE, "volume"))

PAGE = 50
CHUNK = 256 * 1024


def _date(name: str) -> dt.date | None:
    raw = request.args.get(name, "").strip()
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@bp.get("/")
@require(Permission.SUPERVISE)
def index():
    args = request.args
    filters = services.RecordingFilters(
        day_from=_date("from"), day_to=_date("to"), agent_id=args.get("agent", type=int),
        campaign_id=args.get("campaign", type=int), phone=args.get("phone", "").strip()[:20],
        status=args.get("status", "") if args.get("status") in set(RecordingStatus) else "",
        min_duration_s=args.get("min_s", type=int), max_duration_s=args.get("max_s", type=int),
    )
    results = services.search_recordings(filters, before_id=args.get("before", type=int), limit=PAGE + 1)
    next_url = None
    if len(results) > PAGE:
        results = results[:PAGE]
        query = {k: v for k, v in args.items() if v and k != "before"}
        next_url = url_for("recordings.index", **query, before=results[-1].newest_id)
    agents, campaigns = services.filter_choices()
    return render("recordings/index.html", results=results, next_url=next_url, args=args, agents=agents,
                  campaigns=campaigns, statuses=list(RecordingStatus),
                  agent_names={a.id: a.display_name for a in agents}, campaign_names={c.id: c.name for c in campaigns})


@bp.app_template_global()
def call_recordings(events: list) -> dict[str, list[Recording]]:
    """For the contact history: the recording parts of its calls, by call id, in order
    (nothing for a user who may not listen to recordings)."""
    if not can(g.user, Permission.SUPERVISE):
        return {}
    call_ids = []
    for event in events:
        try:
            call_ids.append(uuid.UUID(str((event.data or {}).get("call_id"))))
        except ValueError:
            continue
    return {str(call_id): parts for call_id, parts in services.call_parts(call_ids).items()}


def _ready(recording_id: object) -> Recording:
    recording = get_or_404(Recording, recording_id)
    if recording.status != RecordingStatus.READY or not recording.path:
        abort(404)
    return recording


def _stream(recording: Recording, *, attachment: bool) -> Response:
    """The MP3 with HTTP range support, so that the browser's player can seek."""
    storage = storage_from_config(current_config())
    key = recording.path or ""
    try:
        size = storage.size(key)
    except FileNotFoundError:
        abort(404)
    start, stop, status = 0, size, 200
    ranges = request.range
    if ranges is not None and ranges.units == "bytes" and len(ranges.ranges) == 1:
        span = ranges.range_for_length(size)
        if span is None:
            response = Response(status=416)
            response.headers["Content-Range"] = f"bytes */{size}"
            return response
        (start, stop), status = span, 206

    def body() -> Iterator[bytes]:
        position = start
        while position < stop:
            chunk = storage.read(key, position, min(stop, position + CHUNK))
            if not chunk:
                return
            position += len(chunk)
            yield chunk

    response = Response(body(), status=status, mimetype="audio/mpeg", direct_passthrough=True)
    response.headers["Accept-Ranges"] = "bytes"
    response.content_length = stop - start
    if status == 206:
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    name = f"recording-{recording.call.started_at:%Y%m%d-%H%M%S}-{recording.id}.mp3"
    disposition = "attachment" if attachment else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
    return response


@bp.get("/<int:recording_id>/audio")
@require(Permission.SUPERVISE)
def audio(recording_id: int):
    return _stream(_ready(recording_id), attachment=False)


@bp.get("/<int:recording_id>/download")
@require(Permission.SUPERVISE)
def download(recording_id: int):
    recording = _ready(recording_id)
    services.record_download(recording, g.user)
    return _stream(recording, attachment=True)


@bp.route("/settings", methods=["GET", "POST"])
@require(Permission.MANAGE_TENANT)
def settings():
    default_days = current_config().RECORDINGS_RETENTION_DAYS
    current = services.recording_settings(default_days)
    form = RetentionForm(obj=current)
    if form.validate_on_submit():
        services.update_retention(form.retention_days.data, default_days, form.max_part_minutes.data)
        flash(_("Retention saved."), "success")
        return redirect(url_for("recordings.settings"))
    return render("recordings/settings.html", form=form)


# -- card-payment pause (agent screen, API) ------------------------------------------


def _call_for_pause(call_id: str) -> Call:
    """The call, if it is this tenant's and the user may pause its recording: a
    supervisor any call, an agent only the call they are on."""
    try:
        key = uuid.UUID(call_id)
    except ValueError:
        abort(404)
    call = Session.get(Call, key, populate_existing=True)
    if call is None:
        abort(404)
    user = g.user
    if not can(user, Permission.SUPERVISE):
        state = bus.agent_state(call.tenant_id, user.id)
        if state.get("call_id") != str(call.id):
            abort(403)
    return call


def _pause_response(recording: Recording):
    gaps = [{"start": gap["start"], "end": gap.get("end")} for gap in recording.gaps]
    paused = any(gap["end"] is None for gap in gaps)
    return jsonify({"success": True, "call_id": str(recording.call_id), "paused": paused, "gaps": gaps})


@bp.post("/calls/<call_id>/pause")
@require(Permission.AGENT_WORKSPACE)
def pause(call_id: str):
    call = _call_for_pause(call_id)
    try:
        recording = services.pause_recording(call, g.user)
    except services.PauseRefused as refused:
        return jsonify({"success": False, "error": str(refused)}), 409
    return _pause_response(recording)


@bp.post("/calls/<call_id>/resume")
@require(Permission.AGENT_WORKSPACE)
def resume(call_id: str):
    call = _call_for_pause(call_id)
    try:
        recording = services.resume_recording(call, g.user)
    except services.PauseRefused as refused:
        return jsonify({"success": False, "error": str(refused)}), 409
    return _pause_response(recording)
