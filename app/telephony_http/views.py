"""``POST /freeswitch/directory`` and ``/freeswitch/dialplan`` for mod_xml_curl.

Two locks: the request must come from an allowed address (the media nodes) and carry
the shared secret (HTTP basic). No session, no CSRF token: FreeSWITCH is the client."""

from __future__ import annotations

import ipaddress
import logging

from flask import Blueprint, Response, request

from app.extensions import csrf
from app.runtime import current_config
from app.telephony_http import tasks  # noqa: F401  (routing changes made in the web queue a Kamailio sync)
from app.telephony_http.lookup import DatabaseLookup
from telephony.freeswitch.xmlcurl import XML_CURL_USER, check_basic_auth, handle_xml_curl, render_not_found

bp = Blueprint("freeswitch_http", __name__, url_prefix="/freeswitch")
csrf.exempt(bp)
log = logging.getLogger("carillon.freeswitch")


def allowed_networks(setting: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(item.strip(), strict=False) for item in setting.split(",") if item.strip()]


def source_allowed(address: str | None, setting: str) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in allowed_networks(setting))


def _refused(status: int, reason: str) -> Response:
    log.warning("xml_curl %s refused from %s: %s", request.path, request.remote_addr, reason)
    response = Response(reason + "\n", status=status, mimetype="text/plain")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="freeswitch"'
    return response


def _answer(section: str) -> Response:
    config = current_config()
    if not source_allowed(request.remote_addr, config.FREESWITCH_XMLCURL_ALLOW):
        return _refused(403, "source address not allowed")
    if not check_basic_auth(request.headers.get("Authorization"), XML_CURL_USER, config.FREESWITCH_XMLCURL_SECRET):
        return _refused(401, "credentials required")
    form = request.form.to_dict()
    if form.get("section") != section:  # each binding asks for its own section only
        return Response(render_not_found(), mimetype="text/xml")
    document = handle_xml_curl(form, DatabaseLookup(config.SIP_DOMAIN))
    return Response(document, mimetype="text/xml")


@bp.post("/directory")
def directory():
    return _answer("directory")


@bp.post("/dialplan")
def dialplan():
    return _answer("dialplan")
