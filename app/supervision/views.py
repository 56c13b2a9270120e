"""The wallboard page, its event stream, and the supervisor's actions on an agent."""

from __future__ import annotations

from flask import Blueprint, Response, abort, g, jsonify, request, url_for
from flask_babel import lazy_gettext as _l

from app.auth.models import User
from app.auth.permissions import Permission, require
from app.core.loaders import get_or_404
from app.core.nav import SECTION_MANAGE, NavItem, register_nav
from app.core.rendering import render
from app.supervision import live, services, stream

bp = Blueprint("supervision", __name__, url_prefix="/supervision")
register_nav(SECTION_MANAGE, NavItem(_l("Wallboard"), "supervision.wallboard", Permission.SUPERVISE, "◉"))


def _filters() -> live.Filters:
    return live.Filters.parse(request.args.getlist("campaign"), request.args.get("group"))


@bp.get("/wallboard")
@require(Permission.SUPERVISE)
def wallboard():
    filters = _filters()
    directory = live.load_directory(g.tenant.id)
    groups, campaigns = live.groups_and_campaigns(directory)
    stream_url = url_for("supervision.wallboard_stream", campaign=sorted(filters.campaign_ids),
                         group=filters.group_id)
    return render("supervision/wallboard.html", filters=filters, groups=groups, campaigns=campaigns,
                  stream_url=stream_url, actions=services.Action, thresholds={
                      "long_pause_s": live.LONG_PAUSE_S, "long_call_s": live.LONG_CALL_S})


@bp.get("/wallboard/stream")
@require(Permission.SUPERVISE)
def wallboard_stream():
    # Everything the stream needs is read now: the generator touches neither the
    # request nor the database once the response has started.
    directory = live.load_directory(g.tenant.id)
    body = stream.wallboard_events(directory, _filters())
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


@bp.post("/agents/<int:agent_id>/<action>")
@require(Permission.SUPERVISE)
def agent_action(agent_id: int, action: str):
    try:
        chosen = services.Action(action)
    except ValueError:
        abort(404)
    agent = get_or_404(User, agent_id)
    try:
        result = services.apply_action(g.user, agent, chosen, request.form.get("text", ""))
    except services.ActionRefused as refused:
        # answered 200 so that the edge commits the audit event of the refusal
        return jsonify({"ok": False, "action": chosen.value, "message": str(refused)})
    return jsonify({"ok": True, "action": chosen.value, "message": result.message})
