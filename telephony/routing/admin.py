"""Creating and editing carriers, trunks and media nodes (the platform's pages).

Every function checks its input first and raises ``RoutingInputError`` (field →
message) before writing anything; it then writes, audits (a platform event, never a
password) and flushes. Committing queues the Kamailio sync (``app.telephony_http.tasks``).
A trunk's password is write-only: it is never returned to a page; an empty password
on edit keeps the current one.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import lazy_gettext as _l

from app.audit.services import record_event
from telephony.routing.models import CODECS, MAX_GATEWAY_PORT, TRANSPORTS, Carrier, MediaNode, Trunk
from tenants.scoping import unscoped

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")
_NAME = re.compile(r"^[\w .'()&+-]{1,80}$")
_TOKEN = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=%-]{1,64}$")  # a SIP digest user name


class RoutingInputError(ValueError):
    def __init__(self, errors: dict[str, object]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def check_host(host: str) -> object | None:
    """An IPv4/IPv6 address or a DNS name Kamailio can resolve; ``None`` if it is one."""
    if not host:
        return _l("Required.")
    if len(host) > 64:
        return _l("At most 64 characters.")
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if re.fullmatch(r"[\d.]+", host):
        return _l("Not a valid IPv4 address.")
    if not _HOSTNAME.match(host):
        return _l("Not an IP address or a host name.")
    return None


def _check_port(port: int | None, highest: int) -> object | None:
    if port is None or not 1 <= port <= highest:
        return _l("A port between 1 and %(highest)d.", highest=highest)
    return None


def _check_name(name: str) -> object | None:
    if not name:
        return _l("Required.")
    if not _NAME.match(name):
        return _l("Letters, digits, spaces and . ' ( ) & + - only, at most 80 characters.")
    return None


def _audit(action: str, target_type: str, target_id: int, details: dict[str, object]) -> None:
    # a platform event (no tenant): row-level security lets it in only unscoped
    with unscoped():
        record_event(action, target_type=target_type, target_id=target_id, details=details)


def _changes(obj: object, values: dict[str, object]) -> list[str]:
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, values[name])
    return changed


# -- carriers ---------------------------------------------------------------------------


def save_carrier(session: so.Session, carrier: Carrier | None, *, name: str, enabled: bool) -> Carrier:
    name = name.strip()
    errors: dict[str, object] = {}
    if problem := _check_name(name):
        errors["name"] = problem
    elif session.scalar(sa.select(Carrier.id).where(Carrier.name == name,
                                                    Carrier.id != (carrier.id if carrier else -1))):
        errors["name"] = _l("Another carrier has this name.")
    if errors:
        raise RoutingInputError(errors)
    created = carrier is None
    if carrier is None:
        carrier = Carrier(name=name, enabled=enabled)
        session.add(carrier)
        changed = ["name", "enabled"]
    else:
        changed = _changes(carrier, {"name": name, "enabled": enabled})
    session.flush()
    if changed:
        _audit("routing.carrier_created" if created else "routing.carrier_changed", "carrier", carrier.id,
               {"name": name, "enabled": enabled, "changed": changed})
    return carrier


# -- trunks -------------------------------------------------------------------------------


@dataclass
class TrunkValues:
    name: str
    host: str
    port: int | None
    transport: str
    codecs: list[str] = field(default_factory=lambda: ["PCMA", "PCMU"])
    channel_limit: int | None = None
    full_cli: bool = False
    enabled: bool = True
    weight: int | None = 1
    strip_digits: int | None = 0
    tech_prefix: str = ""
    username: str = ""
    password: str = ""  # empty on edit: keep the current one
    clear_credentials: bool = False

    def problems(self) -> dict[str, object]:
        errors: dict[str, object] = {}
        if problem := _check_name(self.name):
            errors["name"] = problem
        if problem := check_host(self.host):
            errors["host"] = problem
        if problem := _check_port(self.port, MAX_GATEWAY_PORT):
            errors["port"] = problem
        if self.transport not in TRANSPORTS:
            errors["transport"] = _l("Choose UDP, TCP or TLS.")
        if not self.codecs or any(codec not in CODECS for codec in self.codecs):
            errors["codecs"] = _l("Choose at least one codec.")
        if self.channel_limit is not None and self.channel_limit < 1:
            errors["channel_limit"] = _l("A positive number, or empty for unlimited.")
        if self.weight is None or not 1 <= self.weight <= 254:
            errors["weight"] = _l("Between 1 and 254.")
        if self.strip_digits is None or not 0 <= self.strip_digits <= 15:
            errors["strip_digits"] = _l("Between 0 and 15.")
        if not re.fullmatch(r"[0-9#*]{0,16}", self.tech_prefix):
            errors["tech_prefix"] = _l("Digits, # and * only, at most 16.")
        if self.username and not _TOKEN.match(self.username):
            errors["username"] = _l("At most 64 characters, no spaces or quotes.")
        if len(self.password) > 128 or any(ch in self.password for ch in "\r\n"):
            errors["password"] = _l("At most 128 characters on one line.")
        return errors


def save_trunk(session: so.Session, carrier: Carrier, trunk: Trunk | None, values: TrunkValues) -> Trunk:
    values.name, values.host = values.name.strip(), values.host.strip().lower()
    values.username = values.username.strip()
    errors = values.problems()
    if "name" not in errors and session.scalar(
            sa.select(Trunk.id).where(Trunk.carrier_id == carrier.id, Trunk.name == values.name,
                                      Trunk.id != (trunk.id if trunk else -1))):
        errors["name"] = _l("This carrier has another trunk with this name.")
    if not values.clear_credentials:
        keeps_password = bool(values.password or (trunk is not None and trunk.password))
        if values.username and not keeps_password:
            errors["password"] = _l("A password goes with the user name.")
        if values.password and not values.username:
            errors["username"] = _l("A user name goes with the password.")
    if errors:
        raise RoutingInputError(errors)
    created = trunk is None
    if trunk is None:
        trunk = Trunk(carrier_id=carrier.id)
        session.add(trunk)
    fields: dict[str, object] = {
        "name": values.name, "host": values.host, "port": values.port, "transport": values.transport,
        "codecs": list(values.codecs), "channel_limit": values.channel_limit, "full_cli": values.full_cli,
        "enabled": values.enabled, "weight": values.weight, "strip_digits": values.strip_digits,
        "tech_prefix": values.tech_prefix,
    }
    changed = ["name", *fields] if created else _changes(trunk, fields)
    if created:
        for name, value in fields.items():
            setattr(trunk, name, value)
    credentials_changed = False
    if values.clear_credentials:
        credentials_changed = bool(trunk.username or trunk.password)
        trunk.username = trunk.password = None
    else:
        if (values.username or None) != trunk.username:
            trunk.username, credentials_changed = values.username or None, True
        if values.password and values.password != trunk.password:
            trunk.password, credentials_changed = values.password, True
    session.flush()
    if changed or credentials_changed:
        # the details name what changed, never a credential's value
        _audit("routing.trunk_created" if created else "routing.trunk_changed", "trunk", trunk.id,
               {"carrier_id": carrier.id, "name": trunk.name, "changed": sorted(set(changed)),
                "credentials_changed": credentials_changed, "enabled": trunk.enabled})
    return trunk


# -- media nodes ----------------------------------------------------------------------------


@dataclass
class MediaNodeValues:
    name: str
    host: str
    sip_port: int | None = 5080
    transport: str = "udp"
    weight: int | None = 1
    enabled: bool = True

    def problems(self) -> dict[str, object]:
        errors: dict[str, object] = {}
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", self.name):
            errors["name"] = _l("Letters, digits, . _ - only, at most 64 characters.")
        if problem := check_host(self.host):
            errors["host"] = problem
        if problem := _check_port(self.sip_port, 65535):
            errors["sip_port"] = problem
        if self.transport not in TRANSPORTS:
            errors["transport"] = _l("Choose UDP, TCP or TLS.")
        if self.weight is None or not 1 <= self.weight <= 100:
            errors["weight"] = _l("Between 1 and 100.")
        return errors


def save_media_node(session: so.Session, node: MediaNode | None, values: MediaNodeValues) -> MediaNode:
    values.name, values.host = values.name.strip(), values.host.strip().lower()
    errors = values.problems()
    if "name" not in errors and session.scalar(
            sa.select(MediaNode.id).where(MediaNode.name == values.name, MediaNode.id != (node.id if node else -1))):
        errors["name"] = _l("Another media node has this name.")
    if errors:
        raise RoutingInputError(errors)
    created = node is None
    fields: dict[str, object] = {"name": values.name, "host": values.host, "sip_port": values.sip_port,
                                 "transport": values.transport, "weight": values.weight, "enabled": values.enabled}
    if node is None:
        node = MediaNode(**fields)
        session.add(node)
        changed = list(fields)
    else:
        changed = _changes(node, fields)
    session.flush()
    if changed:
        _audit("routing.media_node_created" if created else "routing.media_node_changed", "media_node", node.id,
               {"name": node.name, "changed": changed, "enabled": node.enabled})
    return node
