"""Documents served to FreeSWITCH's mod_xml_curl: directory and dialplan per tenant.

Pure functions from plain dataclasses to XML text, plus ``handle_xml_curl`` that
reads the POSTed form FreeSWITCH sends and asks a small ``XmlCurlLookup`` for data.
The Flask endpoint (``/freeswitch/directory`` and ``/freeswitch/dialplan``) only has
to check ``check_basic_auth(request.headers.get("Authorization"), XML_CURL_USER,
secret)`` (the secret is the node's ``CARILLON_XML_CURL_SECRET``), then return
``handle_xml_curl(request.form, lookup)`` as ``text/xml``.

Contexts: agents' calls run in ``tenant-<id>`` (set per SIP user); calls arriving
from Kamailio (carriers, DIDs) in ``public``; customer legs sent from another media
node to an agent conference held here in ``interconnect``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from telephony.freeswitch.commands import check_uuid
from telephony.freeswitch.tracker import agent_conference_name, parse_agent_conference

XML_CURL_USER = "freeswitch"  # the user name in conf/autoload_configs/xml_curl.conf.xml
PUBLIC_CONTEXT = "public"
INTERCONNECT_CONTEXT = "interconnect"
AGENT_LOGIN_EXTENSION = "login"
OUTBOUND_GATEWAY = "kamailio"
_TENANT_CONTEXT = re.compile(r"^tenant-(\d+)$")
_QUEUE_EXTENSION = re.compile(r"^queue-(\d+)$")
_IVR_EXTENSION = re.compile(r"^ivr-(\d+)$")
_IVR_CHOICE = re.compile(r"^ivr-(\d+)-([0-9*#]?)$")
_AGENT_EXTENSION = re.compile(r"^agent-(\d+)$")
_DIALLED_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


def tenant_context(tenant_id: int) -> str:
    return f"tenant-{tenant_id}"


@dataclass(frozen=True, slots=True)
class SipUser:
    """An agent's SIP account in its tenant's domain. ``a1_hash`` is
    md5(username:domain:password), so the application need not keep the password."""

    tenant_id: int
    agent_id: int
    username: str
    domain: str
    a1_hash: str | None = None
    password: str | None = None
    display_name: str = ""


Target = Literal["queue", "ivr", "agent", "external", "message"]


@dataclass(frozen=True, slots=True)
class DidRoute:
    """Where a call to ``did`` goes now: ``target_id`` for a queue, IVR menu or agent,
    ``value`` for an external number or a message's audio file. ``is_open`` False:
    the opening hours are closed and this is the closed destination."""

    tenant_id: int
    did: str
    target: Target
    target_id: int | None = None
    value: str = ""
    is_open: bool = True


@dataclass(frozen=True, slots=True)
class QueueRoute:
    tenant_id: int
    queue_id: int
    hold_music: str = "local_stream://moh"
    position: int | None = None  # announced on entry when the queue says so
    position_prompt: str = "carillon/queue-position.wav"


@dataclass(frozen=True, slots=True)
class IvrOption:
    digit: str  # one key: 0-9, * or #
    target: Target
    value: str  # queue id, ivr id, agent id, E.164 number or audio file


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """The caller's channel, from the fields mod_xml_curl posts with a dialplan fetch.

    ``call_id`` is the call the channel carries: its uuid, or the call id the dialer
    set (``carillon_call_id``) on a customer it handed to a queue, with
    ``transferred_from`` (the campaign's call), the customer's number and lead."""

    uuid: str
    caller: str
    did: str
    host: str
    call_id: str = ""
    transferred_from: str = ""
    lead_id: int | None = None

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> ChannelInfo:
        uuid = form.get("Unique-ID") or form.get("Channel-Call-UUID", "")
        transferred_from = _uuid_or_empty(form.get("variable_carillon_transferred_from", ""))
        call_id = _uuid_or_empty(form.get("variable_carillon_call_id", "")) if transferred_from else ""
        lead = form.get("variable_carillon_lead_id", "")
        caller = form.get("variable_carillon_caller", "") if call_id else ""
        return cls(
            uuid=uuid,
            caller=caller or form.get("Caller-Caller-ID-Number", ""),
            did=form.get("variable_carillon_did", ""),
            host=form.get("FreeSWITCH-IPv4") or form.get("FreeSWITCH-Hostname", ""),
            call_id=call_id or uuid,
            transferred_from=transferred_from if call_id else "",
            lead_id=int(lead) if call_id and lead.isdigit() else None,
        )

    @property
    def handed_over(self) -> bool:
        """A customer an agent transferred to a queue: a call of its own on this channel."""
        return bool(self.transferred_from)

    def arrival(self, queue: QueueRoute) -> dict[str, object]:
        """What the dialer serving ``queue`` is told when this channel enters it."""
        return {"call_id": self.call_id, "channel": self.uuid, "tenant_id": queue.tenant_id,
                "queue_id": queue.queue_id, "caller": self.caller[:32], "did": self.did[:20],
                "host": self.host[:64], "lead_id": self.lead_id, "transferred_from": self.transferred_from}


def _uuid_or_empty(value: str) -> str:
    try:
        return check_uuid(value)
    except ValueError:
        return ""


@dataclass(frozen=True, slots=True)
class IvrMenu:
    tenant_id: int
    ivr_id: int
    greeting: str  # audio file played while waiting for a key
    invalid_sound: str = "silence_stream://250"
    tries: int = 3
    timeout_ms: int = 5000
    options: tuple[IvrOption, ...] = field(default_factory=tuple)
    timeout_option: IvrOption | None = None  # what no key (or all tries wrong) does


class XmlCurlLookup(Protocol):
    """What the documents need from the application's data (tenant-scoped there)."""

    def sip_user(self, domain: str, username: str) -> SipUser | None: ...

    def did_route(self, did: str) -> DidRoute | None: ...

    def queue(self, tenant_id: int, queue_id: int) -> QueueRoute | None: ...

    def ivr_menu(self, tenant_id: int, ivr_id: int) -> IvrMenu | None: ...

    def outbound_caller_id(self, tenant_id: int, agent_id: int) -> str | None: ...

    # Optional (inbound queues): ``queue_entered`` tells the dialer service a caller
    # entered a queue; ``agent_endpoint`` is the dial string of an agent's phone.


# -- documents -------------------------------------------------------------------------


def _document(section: str) -> tuple[ET.Element, ET.Element]:
    document = ET.Element("document", type="freeswitch/xml")
    return document, ET.SubElement(document, "section", name=section)


def _text(document: ET.Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(document, encoding="unicode")


def render_not_found() -> str:
    """FreeSWITCH falls back to its own files (or rejects the call) on this."""
    document, section = _document("result")
    ET.SubElement(section, "result", status="not found")
    return _text(document)


def render_directory(user: SipUser) -> str:
    document, section = _document("directory")
    domain = ET.SubElement(section, "domain", name=user.domain)
    params = ET.SubElement(domain, "params")
    # Reach the user where it registered (through Kamailio's Path/contact).
    ET.SubElement(
        params,
        "param",
        name="dial-string",
        value="{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}"
        "${sofia_contact(*/${dialed_user}@${dialed_domain})}",
    )
    users = ET.SubElement(ET.SubElement(ET.SubElement(domain, "groups"), "group", name="default"), "users")
    element = ET.SubElement(users, "user", id=user.username)
    user_params = ET.SubElement(element, "params")
    if user.a1_hash:
        ET.SubElement(user_params, "param", name="a1-hash", value=user.a1_hash)
    elif user.password:
        ET.SubElement(user_params, "param", name="password", value=user.password)
    else:
        raise ValueError(f"SIP user {user.username}@{user.domain} has no credentials")
    variables = ET.SubElement(element, "variables")
    for name, value in (
        ("user_context", tenant_context(user.tenant_id)),
        ("carillon_tenant_id", str(user.tenant_id)),
        ("carillon_agent_id", str(user.agent_id)),
        ("effective_caller_id_name", user.display_name or user.username),
        ("effective_caller_id_number", user.username),
    ):
        ET.SubElement(variables, "variable", name=name, value=value)
    return _text(document)


def _extension(
    context_name: str, name: str, expression: str, actions: Sequence[tuple[str, str]]
) -> tuple[ET.Element, ET.Element]:
    document, section = _document("dialplan")
    context = ET.SubElement(section, "context", name=context_name)
    extension = ET.SubElement(context, "extension", name=name)
    condition = ET.SubElement(extension, "condition", field="destination_number", expression=expression)
    for application, data in actions:
        attributes = {"application": application}
        if data:
            attributes["data"] = data
        ET.SubElement(condition, "action", attributes)
    return document, condition


def _exact(value: str) -> str:
    return "^" + re.escape(value) + "$"


def render_agent_login(tenant_id: int, agent_id: int, profile: str = "default") -> str:
    """The agent's long call: answered and parked in its personal conference; when
    the agent leg leaves, the conference ends (no customer is left alone in it)."""
    conference = agent_conference_name(tenant_id, agent_id)
    actions = [
        ("set", f"carillon_tenant_id={tenant_id}"),
        ("set", f"carillon_agent_id={agent_id}"),
        ("answer", ""),
        ("conference", f"{conference}@{profile}+flags{{endconf}}"),
    ]
    document, _ = _extension(tenant_context(tenant_id), "agent-login", _exact(AGENT_LOGIN_EXTENSION), actions)
    return _text(document)


def render_conference_link(tenant_id: int, agent_id: int, profile: str = "default") -> str:
    """A customer leg bridged from another media node into the agent's conference."""
    conference = agent_conference_name(tenant_id, agent_id)
    actions = [("answer", ""), ("conference", f"{conference}@{profile}")]
    document, _ = _extension(INTERCONNECT_CONTEXT, "conference-link", _exact(conference), actions)
    return _text(document)


def _destination_actions(tenant_id: int, target: str, target_id: int | None, value: str) -> list[tuple[str, str]]:
    """The applications that send a call to a destination of its tenant."""
    if target == "external":
        if not _DIALLED_NUMBER.match(value):
            raise ValueError(f"bad external number {value!r}")
        return [("set", "hangup_after_bridge=true"), ("bridge", f"sofia/gateway/{OUTBOUND_GATEWAY}/{value}")]
    if target == "message":
        if not _AUDIO.match(value):
            raise ValueError(f"bad audio file {value!r}")
        return [("answer", ""), ("playback", value), ("hangup", "NORMAL_CLEARING")]
    if target not in ("queue", "ivr", "agent") or target_id is None:
        raise ValueError(f"bad destination {target!r} {target_id!r}")
    return [("transfer", f"{target}-{int(target_id)} XML {tenant_context(tenant_id)}")]


_AUDIO = re.compile(r"^[A-Za-z0-9_.:/\-%(),;@+=]{1,255}$")


def render_did(route: DidRoute) -> str:
    actions = [
        ("set", f"carillon_tenant_id={route.tenant_id}"),
        ("set", f"carillon_did={route.did}"),
        ("set", f"carillon_did_open={'true' if route.is_open else 'false'}"),
        *_destination_actions(route.tenant_id, route.target, route.target_id, route.value),
    ]
    document, _ = _extension(PUBLIC_CONTEXT, "did", _exact(route.did), actions)
    return _text(document)


def render_queue(route: QueueRoute, handed_over: bool = False) -> str:
    """Inbound queue: the caller is answered and hears hold music (after its position,
    when the queue announces it); the application has told the dialer service, which
    picks the longest-idle agent and moves the channel into the agent's conference
    with ``uuid_transfer`` (as for outbound calls), or to the overflow. A customer an
    agent ``handed_over`` keeps the call id the dialer gave it."""
    actions = [
        ("set", f"carillon_tenant_id={route.tenant_id}"),
        ("set", f"carillon_queue_id={route.queue_id}"),
        *([] if handed_over else [("set", "carillon_call_id=${uuid}")]),
        ("answer", ""),
    ]
    if route.position is not None:
        actions += [("playback", route.position_prompt), ("say", f"fr number pronounced {int(route.position)}")]
    # A hold-music source the node lacks ends endless_playback at once (FreeSWITCH
    # 1.11: "Unknown source moh"), and the channel would hang up; park keeps the
    # caller waiting, in silence, until the dialer moves it.
    actions += [("endless_playback", route.hold_music), ("park", "")]
    name = f"queue-{route.queue_id}"
    document, _ = _extension(tenant_context(route.tenant_id), name, _exact(name), actions)
    return _text(document)


def render_ivr(menu: IvrMenu) -> str:
    """The menu: play the greeting, read one key, go to ``ivr-<id>-<key>``."""
    keys = "".join(re.escape(o.digit) for o in menu.options) or "0"
    context = tenant_context(menu.tenant_id)
    prompt = " ".join(
        [
            "1",
            "1",
            str(menu.tries),
            str(menu.timeout_ms),
            "#",
            menu.greeting,
            menu.invalid_sound,
            "carillon_ivr_choice",
            f"^[{keys}]$",
        ]
    )
    actions = [
        ("set", f"carillon_tenant_id={menu.tenant_id}"),
        ("set", f"carillon_ivr_id={menu.ivr_id}"),
        ("answer", ""),
        ("play_and_get_digits", prompt),
        ("transfer", f"ivr-{menu.ivr_id}-${{carillon_ivr_choice}} XML {context}"),
    ]
    name = f"ivr-{menu.ivr_id}"
    document, _ = _extension(context, name, _exact(name), actions)
    return _text(document)


def render_ivr_choice(menu: IvrMenu, digit: str) -> str | None:
    """Where key ``digit`` (empty: no valid key) leads, or None when nowhere."""
    option = next((o for o in menu.options if o.digit == digit), None) if digit else menu.timeout_option
    if option is None:
        return None
    context = tenant_context(menu.tenant_id)
    if option.target in ("external", "message"):
        try:
            actions = _destination_actions(menu.tenant_id, option.target, None, option.value)
        except ValueError:
            raise ValueError(f"IVR option {digit!r} has a bad value {option.value!r}") from None
    else:
        actions = [("transfer", f"{option.target}-{int(option.value)} XML {context}")]
    name = f"ivr-{menu.ivr_id}-{digit}"
    document, _ = _extension(context, name, _exact(name), actions)
    return _text(document)


def render_agent_direct(tenant_id: int, agent_id: int, endpoint: str) -> str:
    """A DID or menu option straight to one agent: their phone rings (as a second
    call next to the login call); unanswered, the caller hears a busy tone."""
    actions = [
        ("set", f"carillon_agent_id={agent_id}"),
        ("set", "call_timeout=30"),
        ("set", "hangup_after_bridge=true"),
        ("bridge", endpoint),
    ]
    name = f"agent-{agent_id}"
    document, _ = _extension(tenant_context(tenant_id), name, _exact(name), actions)
    return _text(document)


def render_outbound(tenant_id: int, agent_id: int, number: str, caller_id: str) -> str:
    """A manual call from an agent's phone, out through Kamailio (LCR there)."""
    actions = [
        ("set", f"carillon_tenant_id={tenant_id}"),
        ("set", f"carillon_agent_id={agent_id}"),
        ("set", f"effective_caller_id_number={caller_id}"),
        ("set", "hangup_after_bridge=true"),
        ("bridge", f"sofia/gateway/{OUTBOUND_GATEWAY}/{number}"),
    ]
    document, _ = _extension(tenant_context(tenant_id), "outbound", _exact(number), actions)
    return _text(document)


# -- request handling --------------------------------------------------------------------


def handle_xml_curl(form: Mapping[str, str], lookup: XmlCurlLookup) -> str:
    """The document answering one mod_xml_curl POST (``not found`` when none fits)."""
    section = form.get("section", "")
    if section == "directory":
        return _directory(form, lookup)
    if section == "dialplan":
        return _dialplan(form, lookup) or render_not_found()
    return render_not_found()


def _directory(form: Mapping[str, str], lookup: XmlCurlLookup) -> str:
    username, domain = form.get("user", ""), form.get("domain", "")
    if not username or not domain:
        return render_not_found()
    user = lookup.sip_user(domain, username)
    return render_directory(user) if user is not None else render_not_found()


def _dialplan(form: Mapping[str, str], lookup: XmlCurlLookup) -> str | None:
    context = form.get("Hunt-Context") or form.get("Caller-Context", "")
    destination = form.get("Hunt-Destination-Number") or form.get("Caller-Destination-Number", "")
    if context == PUBLIC_CONTEXT:
        route = lookup.did_route(destination)
        return render_did(route) if route is not None else None
    if context == INTERCONNECT_CONTEXT:
        parsed = parse_agent_conference(destination)
        return render_conference_link(*parsed) if parsed is not None else None
    match = _TENANT_CONTEXT.match(context)
    if match is None:
        return None
    return _tenant_dialplan(int(match.group(1)), destination, form, lookup)


def _tenant_dialplan(
    tenant_id: int, destination: str, form: Mapping[str, str], lookup: XmlCurlLookup
) -> str | None:
    agent_id = _caller_agent(tenant_id, form)
    if destination == AGENT_LOGIN_EXTENSION:
        return render_agent_login(tenant_id, agent_id) if agent_id is not None else None
    if match := _QUEUE_EXTENSION.match(destination):
        queue = lookup.queue(tenant_id, int(match.group(1)))
        if queue is None or queue.tenant_id != tenant_id:
            return None
        channel = ChannelInfo.from_form(form)
        document = render_queue(queue, channel.handed_over)
        entered = getattr(lookup, "queue_entered", None)
        if entered is not None and channel.uuid:
            entered(queue, channel)
        return document
    if match := _AGENT_EXTENSION.match(destination):
        endpoint_of = getattr(lookup, "agent_endpoint", None)
        endpoint = endpoint_of(tenant_id, int(match.group(1))) if endpoint_of is not None else None
        return render_agent_direct(tenant_id, int(match.group(1)), endpoint) if endpoint else None
    if match := _IVR_EXTENSION.match(destination):
        menu = lookup.ivr_menu(tenant_id, int(match.group(1)))
        return render_ivr(menu) if menu is not None and menu.tenant_id == tenant_id else None
    if match := _IVR_CHOICE.match(destination):
        menu = lookup.ivr_menu(tenant_id, int(match.group(1)))
        return (
            render_ivr_choice(menu, match.group(2))
            if menu is not None and menu.tenant_id == tenant_id
            else None
        )
    if agent_id is not None and _DIALLED_NUMBER.match(destination):
        caller_id = lookup.outbound_caller_id(tenant_id, agent_id)
        return render_outbound(tenant_id, agent_id, destination, caller_id) if caller_id else None
    return None


def _caller_agent(tenant_id: int, form: Mapping[str, str]) -> int | None:
    """The calling agent, from the variables its SIP user put on the channel; a
    channel of another tenant gets nothing here, whatever context it names."""
    tenant = form.get("variable_carillon_tenant_id", "")
    agent = form.get("variable_carillon_agent_id", "")
    if tenant != str(tenant_id) or not agent.isdigit():
        return None
    return int(agent)


# -- the shared secret ------------------------------------------------------------------


def check_basic_auth(authorization: str | None, username: str, secret: str) -> bool:
    """Check the ``Authorization: Basic`` header mod_xml_curl sends
    (``gateway-credentials`` with ``auth-scheme`` basic), in constant time."""
    if not authorization or not secret:
        return False
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    given_user, sep, given_secret = decoded.partition(":")
    if not sep:
        return False
    user_ok = hmac.compare_digest(given_user.encode(), username.encode())
    secret_ok = hmac.compare_digest(given_secret.encode(), secret.encode())
    return user_ok and secret_ok
