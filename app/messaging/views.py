"""The messages page: history, writing one-to-one or (supervisors) to everyone."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.auth.permissions import Permission, can, require
from app.core.nav import SECTION_WORK, NavItem, register_nav
from app.core.rendering import render
from app.messaging import services
from app.messaging.forms import MessageForm

bp = Blueprint("messaging", __name__, url_prefix="/messages")
register_nav(SECTION_WORK, NavItem(_l("Messages"), "messaging.inbox", Permission.AGENT_WORKSPACE, "message"))


@bp.route("/", methods=["GET", "POST"])
@require(Permission.AGENT_WORKSPACE)
def inbox():
    form = MessageForm(recipients=services.recipients_for(g.user),
                       allow_broadcast=can(g.user, Permission.SUPERVISE))
    if form.validate_on_submit():
        try:
            message = services.send_message(g.user, form.body.data, form.recipient_id.data or None)
        except services.MessageError as error:
            form.body.errors.append(error.message)
        else:
            services.announce_after_commit(g.user.tenant_id, message)
            flash(_("Message sent."), "success")
            return redirect(url_for("messaging.inbox"))
    messages = services.conversation(g.user)
    services.mark_all_read(g.user)
    return render("messaging/inbox.html", form=form, messages=messages), 422 if form.errors else 200
