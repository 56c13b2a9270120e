"""ESL api command lines for the call-control backend, as pure functions.

Every value that ends up in a command line is validated here: a space or a line feed
in a uuid, a number or a file path would let one caller inject another command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")
_DTMF = re.compile(r"^[0-9A-Da-d*#wW]{1,64}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_.@:+=/\-]{1,200}$")
_HANGUP_CAUSE = re.compile(r"^[A-Z_]{1,64}$")
# Audio accepted by playback/broadcast: a file path or a tone/local stream, no blanks.
_AUDIO = re.compile(r"^[A-Za-z0-9_.:/\-%(),;=@+]{1,500}$")

MIN_RING_TIMEOUT_S = 15  # spec R4: prospecting calls ring at least 15 seconds


def check_uuid(value: str) -> str:
    if not _UUID.match(value):
        raise ValueError(f"not a channel uuid: {value!r}")
    return value


def check_number(value: str) -> str:
    if not _NUMBER.match(value):
        raise ValueError(f"not a dialable number: {value!r}")
    return value


def check_token(value: str, what: str = "value") -> str:
    if not _TOKEN.match(value):
        raise ValueError(f"unsafe {what}: {value!r}")
    return value


def check_audio(value: str) -> str:
    if not _AUDIO.match(value):
        raise ValueError(f"unsafe audio spec: {value!r}")
    return value


def quote_variable_value(value: str) -> str:
    """A channel variable value for ``{name=value}``: commas escaped, blanks quoted."""
    if any(ch in value for ch in "\n\r'{}"):
        raise ValueError(f"channel variable value cannot hold newlines, quotes or braces: {value!r}")
    escaped = value.replace(",", "\\,")
    return f"'{escaped}'" if " " in escaped else escaped


def format_variables(variables: Mapping[str, str]) -> str:
    """``{a=1,b=2}`` for an originate dial string (``""`` when there are none)."""
    parts = []
    for name, value in variables.items():
        if not _VARIABLE_NAME.match(name):
            raise ValueError(f"bad channel variable name: {name!r}")
        parts.append(f"{name}={quote_variable_value(str(value))}")
    return "{" + ",".join(parts) + "}" if parts else ""


def inline_dialplan(applications: Sequence[tuple[str, str]]) -> str:
    """``'app1:arg1,app2' inline``: applications run in order on the answered leg."""
    steps = []
    for app, arg in applications:
        check_token(app, "application")
        if arg and ("," in arg or "'" in arg or any(ch.isspace() for ch in arg)):
            raise ValueError(f"inline dialplan argument cannot hold commas, quotes or blanks: {arg!r}")
        steps.append(f"{app}:{arg}" if arg else app)
    return "'" + ",".join(steps) + "' inline"


def originate(dial_string: str, variables: Mapping[str, str], applications: Sequence[tuple[str, str]]) -> str:
    """``originate {vars}<dial string> <apps>``; a single ``park`` stays ``&park()``."""
    if any(ch.isspace() for ch in dial_string):
        raise ValueError(f"dial string cannot hold blanks: {dial_string!r}")
    target = "&park()" if list(applications) == [("park", "")] else inline_dialplan(applications)
    return f"originate {format_variables(variables)}{dial_string} {target}"


def ring_timeout(seconds: int) -> int:
    return max(MIN_RING_TIMEOUT_S, int(seconds))


def uuid_kill(uuid: str, cause: str = "NORMAL_CLEARING") -> str:
    if not _HANGUP_CAUSE.match(cause):
        raise ValueError(f"bad hangup cause: {cause!r}")
    return f"uuid_kill {check_uuid(uuid)} {cause}"


def uuid_transfer_inline(uuid: str, applications: Sequence[tuple[str, str]]) -> str:
    """Move a channel out of what it runs now (park, conference) into inline apps."""
    steps = ",".join(f"{app}:{arg}" if arg else app for app, arg in applications)
    inline_dialplan(applications)  # validation only
    return f"uuid_transfer {check_uuid(uuid)} {steps} inline"


def uuid_transfer_extension(uuid: str, extension: str, context: str) -> str:
    return f"uuid_transfer {check_uuid(uuid)} {check_token(extension, 'extension')} XML {check_token(context, 'context')}"


def uuid_broadcast(uuid: str, audio: str, leg: str = "aleg") -> str:
    if leg not in ("aleg", "bleg", "both"):
        raise ValueError(f"bad broadcast leg {leg!r}")
    return f"uuid_broadcast {check_uuid(uuid)} {check_audio(audio)} {leg}"


def uuid_record(uuid: str, action: str, path: str) -> str:
    """``start``/``stop``/``mask``/``unmask`` (mask writes silence: card payments)."""
    if action not in ("start", "stop", "mask", "unmask"):
        raise ValueError(f"bad uuid_record action {action!r}")
    return f"uuid_record {check_uuid(uuid)} {action} {check_audio(path)}"


def uuid_setvar(uuid: str, name: str, value: str) -> str:
    """Set one channel variable on a live channel (``+OK`` when it exists)."""
    if not _VARIABLE_NAME.match(name):
        raise ValueError(f"bad channel variable name: {name!r}")
    return f"uuid_setvar {check_uuid(uuid)} {name} {check_token(value, 'variable value')}"


def uuid_setvar_multi(uuid: str, variables: Mapping[str, str]) -> str:
    """Set several channel variables at once: ``uuid_setvar_multi <uuid> a=1;b=2``."""
    parts = []
    for name, value in variables.items():
        if not _VARIABLE_NAME.match(name):
            raise ValueError(f"bad channel variable name: {name!r}")
        parts.append(f"{name}={check_token(value, 'variable value')}")
    if not parts:
        raise ValueError("no variable to set")
    return f"uuid_setvar_multi {check_uuid(uuid)} {';'.join(parts)}"


def uuid_hold(uuid: str, on: bool) -> str:
    return f"uuid_hold {check_uuid(uuid)}" if on else f"uuid_hold off {check_uuid(uuid)}"


def uuid_send_dtmf(uuid: str, digits: str) -> str:
    if not _DTMF.match(digits):
        raise ValueError(f"bad DTMF digits {digits!r}")
    return f"uuid_send_dtmf {check_uuid(uuid)} {digits}"


def uuid_exists(uuid: str) -> str:
    return f"uuid_exists {check_uuid(uuid)}"


def uuid_dump_json(uuid: str) -> str:
    return f"uuid_dump {check_uuid(uuid)} json"


def uuid_getvar(uuid: str, name: str) -> str:
    if not _VARIABLE_NAME.match(name):
        raise ValueError(f"bad channel variable name: {name!r}")
    return f"uuid_getvar {check_uuid(uuid)} {name}"


def conference_member(conference: str, action: str, member_id: str, *extra: str) -> str:
    """``conference <name> mute|unmute|deaf|undeaf|hup|relate <member> ...``."""
    if action not in ("mute", "unmute", "deaf", "undeaf", "hup", "kick", "relate"):
        raise ValueError(f"bad conference action {action!r}")
    if not member_id.isdigit() or not all(part.isalnum() for part in extra):
        raise ValueError("conference member ids are numbers")
    return " ".join(["conference", check_token(conference, "conference"), action, member_id, *extra])
