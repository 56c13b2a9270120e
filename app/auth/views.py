from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _

from app.audit.services import record_event
from app.auth import services
from app.auth.forms import TIMEZONES, ForgotPasswordForm, LoginForm, ResetPasswordForm, SignupForm, TotpForm
from app.auth.permissions import login_required
from app.core.notifications import send_password_reset, send_verification
from app.core.rendering import render
from tenants.scoping import set_request_tenant, unscoped
from tenants.services import signup_tenant

bp = Blueprint("auth", __name__)

MESSAGES = {
    "invalid": _("Wrong email or password."),
    "locked": _("Too many failed attempts: this account is locked for a while. Try again later or reset your password."),
    "inactive": _("This account is deactivated. Ask your administrator."),
    "unverified": _("Confirm your email address first: we sent you a link."),
}


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("core.home")


def _start_session(user) -> None:
    locale = session.get("locale")  # the language chosen on the login page stays
    session.clear()
    if locale:
        session["locale"] = locale
    session["uid"] = user.id
    session["epoch"] = user.session_epoch
    session.permanent = True
    g.user = user
    set_request_tenant(user.tenant_id)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data)
        except services.AuthError as error:
            form.form_errors.append(_(MESSAGES[error.code]))
            return render("auth/login.html", form=form), 200
        if user.totp_enabled:
            session.clear()
            session["pending_uid"] = user.id
            session["next"] = _safe_next(request.args.get("next"))
            return redirect(url_for("auth.login_totp"))
        services.complete_login(user)
        _start_session(user)
        if services.needs_totp_enrolment(user):
            flash(_("Your organisation requires two-factor authentication: set it up now."), "warning")
            return redirect(url_for("auth.totp_setup"))
        return redirect(_safe_next(request.args.get("next")))
    return render("auth/login.html", form=form)


@bp.route("/login/2fa", methods=["GET", "POST"])
def login_totp():
    user_id = session.get("pending_uid")
    if not user_id:
        return redirect(url_for("auth.login"))
    with unscoped():
        user = services.Session.get(services.User, user_id)
    if user is None or not user.active:
        session.clear()
        return redirect(url_for("auth.login"))
    form = TotpForm()
    if form.validate_on_submit():
        if services.check_totp(user.totp_secret, form.code.data):
            target = session.get("next")
            services.complete_login(user)
            _start_session(user)
            return redirect(_safe_next(target))
        user.failed_logins += 1
        record_event("login.2fa_failure", actor=user, tenant_id=user.tenant_id)
        if user.failed_logins >= services.current_config().LOGIN_MAX_FAILURES:
            services.lock_user(user)
            session.clear()
            services.save_own_account(user)
            flash(_(MESSAGES["locked"]), "error")
            return redirect(url_for("auth.login"))
        services.save_own_account(user)
        form.code.errors = [_("This code is not valid. Check your phone's clock.")]
    return render("auth/login_totp.html", form=form)


@bp.post("/logout")
def logout():
    user = g.get("user")
    if user is not None:
        record_event("logout", actor=user, tenant_id=user.tenant_id)
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere():
    user = g.user
    user.session_epoch += 1
    record_event("logout.everywhere", actor=user, tenant_id=user.tenant_id)
    services.save_own_account(user)
    session.clear()
    flash(_("All your sessions are closed."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        user = services.find_user_by_email(form.email.data)
        if user is not None and user.active:
            send_password_reset(user, services.make_reset_token(user))
            record_event("password.reset_requested", actor=user, tenant_id=user.tenant_id)
        # same answer whether the address exists or not
        flash(_("If an account exists for this address, a reset link is on its way."), "info")
        return redirect(url_for("auth.login"))
    return render("auth/forgot.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    user = services.user_from_reset_token(token)
    if user is None:
        flash(_("This reset link is invalid or has expired. Ask for a new one."), "error")
        return redirect(url_for("auth.forgot_password"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        with unscoped():
            services.set_password(user, form.password.data)
            record_event("password.reset", actor=user, tenant_id=user.tenant_id)
        flash(_("Your password is changed. You can log in."), "success")
        return redirect(url_for("auth.login"))
    return render("auth/reset.html", form=form)


@bp.route("/account/2fa", methods=["GET", "POST"])
@login_required
def totp_setup():
    user = g.user
    secret = session.get("totp_setup_secret") or services.new_totp_secret()
    session["totp_setup_secret"] = secret
    form = TotpForm()
    if form.validate_on_submit():
        if services.enable_totp(user, secret, form.code.data):
            session.pop("totp_setup_secret", None)
            flash(_("Two-factor authentication is on."), "success")
            return redirect(url_for("core.home"))
        form.code.errors = [_("This code is not valid. Check your phone's clock.")]
    uri = services.totp_uri(user, secret)
    return render("auth/totp_setup.html", form=form, qr_svg=services.totp_qr_svg(uri), secret=secret,
                  enabled=user.totp_enabled)


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    form = SignupForm()
    if form.validate_on_submit():
        if services.email_taken(form.email.data):
            form.email.errors = [_("An account already uses this address. Log in or reset your password.")]
            return render("auth/signup.html", form=form)
        tenant, admin = signup_tenant(
            company=form.company.data, country=form.country.data, timezone=TIMEZONES[form.country.data],
            admin_name=form.admin_name.data, email=form.email.data, password=form.password.data,
        )
        send_verification(admin, services.make_verify_token(admin))
        return render("auth/signup_done.html", email=admin.email)
    return render("auth/signup.html", form=form)


@bp.get("/verify/<token>")
def verify_email(token: str):
    user = services.verify_email_token(token)
    if user is None:
        abort(404)
    with unscoped():
        record_event("user.email_verified", actor=user, tenant_id=user.tenant_id)
    flash(_("Your email address is confirmed. Welcome!"), "success")
    return redirect(url_for("auth.login"))
