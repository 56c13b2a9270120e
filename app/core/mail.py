"""Outgoing email behind one small interface: SMTP in production, a file or the
console in development and tests."""

from __future__ import annotations

import email.message
import email.utils
import logging
import pathlib
import smtplib
from dataclasses import dataclass
from typing import Protocol

from app.config import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None


class Mailer(Protocol):
    def send(self, mail: Mail) -> None: ...


def build_message(mail: Mail, sender: str) -> email.message.EmailMessage:
    msg = email.message.EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = email.utils.make_msgid(domain="carillon.invalid")
    msg.set_content(mail.text)
    if mail.html:
        msg.add_alternative(mail.html, subtype="html")
    return msg


@dataclass
class ConsoleMailer:
    sender: str

    def send(self, mail: Mail) -> None:
        log.info("email to=%s subject=%s\n%s", mail.to, mail.subject, mail.text)


@dataclass
class FileMailer:
    sender: str
    directory: pathlib.Path

    def send(self, mail: Mail) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        msg = build_message(mail, self.sender)
        stamp = msg["Message-ID"].strip("<>").split("@")[0]
        (self.directory / f"{stamp}.eml").write_bytes(bytes(msg))


@dataclass
class SmtpMailer:
    sender: str
    host: str
    port: int
    user: str
    password: str
    starttls: bool

    def send(self, mail: Mail) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(build_message(mail, self.sender))


def mailer_from_config(config: Config) -> Mailer:
    if config.MAIL_BACKEND == "smtp":
        return SmtpMailer(
            config.MAIL_FROM, config.SMTP_HOST, config.SMTP_PORT, config.SMTP_USER,
            config.SMTP_PASSWORD, config.SMTP_STARTTLS,
        )
    if config.MAIL_BACKEND == "file":
        return FileMailer(config.MAIL_FROM, pathlib.Path(config.MAIL_FILE_DIR))
    return ConsoleMailer(config.MAIL_FROM)
