"""The emails the product sends, built here and delivered by the mail job."""

from __future__ import annotations

from flask_babel import gettext as _

from app.runtime import current_config


def absolute_url(path: str) -> str:
    return current_config().BASE_URL.rstrip("/") + path


def _enqueue(to: str, subject: str, text: str) -> None:
    from app.core.tasks import send_email

    send_email.send(to, subject, text)


def send_password_reset(user, token: str) -> None:
    link = absolute_url(f"/password/reset/{token}")
    _enqueue(
        user.email,
        _("Reset your Carillon password"),
        _("Hello %(name)s,\n\nTo choose a new password, open this link within the hour:\n%(link)s\n\n"
          "If you did not ask for it, ignore this message: your password stays the same.",
          name=user.display_name, link=link),
    )


def send_verification(user, token: str) -> None:
    link = absolute_url(f"/verify/{token}")
    _enqueue(
        user.email,
        _("Confirm your email address for Carillon"),
        _("Hello %(name)s,\n\nWelcome to Carillon. Confirm your address to activate your account:\n%(link)s\n",
          name=user.display_name, link=link),
    )
