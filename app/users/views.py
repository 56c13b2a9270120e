from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice

from app.auth import services
from app.auth.forms import GroupForm, UserForm
from app.auth.models import Role, User, UserGroup
from app.auth.permissions import Permission, require
from app.core.loaders import get_or_404
from app.core.nav import SECTION_ADMIN, NavItem, register_nav
from app.core.rendering import render
from app.extensions import Session

bp = Blueprint("users", __name__, url_prefix="/admin")
register_nav(SECTION_ADMIN, NavItem(_l("Users"), "users.index", Permission.MANAGE_USERS, "user"))
register_nav(SECTION_ADMIN, NavItem(_l("Groups"), "users.groups", Permission.MANAGE_USERS, "inbox"))


def _group_choices() -> list[SelectChoice]:
    return [SelectChoice(0, _("— none —"))] + [
        SelectChoice(gr.id, f"{gr.name} ({gr.code})") for gr in services.list_groups()
    ]


@bp.get("/users")
@require(Permission.MANAGE_USERS)
def index():
    query = request.args.get("q", "").strip()
    stmt = sa.select(User).order_by(User.display_name)
    if query:
        like = f"%{query}%"
        stmt = stmt.where(sa.or_(User.display_name.ilike(like), User.email.ilike(like)))
    users = list(Session.scalars(stmt))
    return render("users/index.html", users=users, q=query)


def _save(form: UserForm, user: User | None) -> User | None:
    if services.email_taken(form.email.data, exclude_id=user.id if user else None):
        form.email.errors.append(_("Another account already uses this address."))
        return None
    group_id = form.group_id.data or None
    if user is None:
        if not form.password.data:
            form.password.errors.append(_("A password is required for a new user."))
            return None
        group = Session.get(UserGroup, group_id) if group_id else None
        return services.create_user(
            email=form.email.data, display_name=form.display_name.data, password=form.password.data,
            role=Role(form.role.data), level=form.level.data, group=group, tenant_id=g.tenant.id,
        )
    if user.id == g.user.id and (not form.active.data or form.role.data != Role.ADMIN):
        form.active.errors.append(_("You cannot deactivate or demote yourself."))
        return None
    services.update_user(user, display_name=form.display_name.data, email=form.email.data,
                         role=form.role.data, level=form.level.data, group_id=group_id, active=form.active.data)
    if form.password.data:
        services.set_password(user, form.password.data)
    return user


@bp.route("/users/new", methods=["GET", "POST"])
@require(Permission.MANAGE_USERS)
def create():
    form = UserForm(level=1)
    form.group_id.choices = _group_choices()
    if form.validate_on_submit() and (user := _save(form, None)) is not None:
        flash(_("User %(name)s created.", name=user.display_name), "success")
        return redirect(url_for("users.index"))
    return render("users/form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require(Permission.MANAGE_USERS)
def edit(user_id: int):
    user = get_or_404(User, user_id)
    form = UserForm(obj=user)
    form.group_id.choices = _group_choices()
    if request.method == "GET":
        form.group_id.data = user.group_id or 0
    if form.validate_on_submit() and _save(form, user) is not None:
        flash(_("Changes saved."), "success")
        return redirect(url_for("users.index"))
    return render("users/form.html", form=form, user=user)


@bp.post("/users/<int:user_id>/deactivate")
@require(Permission.MANAGE_USERS)
def deactivate(user_id: int):
    user = get_or_404(User, user_id)
    if user.id == g.user.id:
        abort(400)
    services.update_user(user, active=False)
    flash(_("%(name)s is deactivated and logged out.", name=user.display_name), "success")
    return redirect(url_for("users.index"))


@bp.route("/groups", methods=["GET", "POST"])
@require(Permission.MANAGE_USERS)
def groups():
    form = GroupForm()
    if form.validate_on_submit():
        code = form.code.data.strip().upper()
        if Session.scalar(sa.select(UserGroup.id).where(UserGroup.code == code)):
            form.code.errors.append(_("This code is already used."))
        else:
            services.create_group(code, form.name.data)
            flash(_("Group created."), "success")
            return redirect(url_for("users.groups"))
    counts = dict(Session.execute(sa.select(User.group_id, sa.func.count()).group_by(User.group_id)).all())
    return render("users/groups.html", form=form, groups=services.list_groups(), counts=counts)
