"""The FreeSWITCH configuration set in telephony/freeswitch/conf parses and says what it must."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from telephony.freeswitch.xmlcurl import XML_CURL_USER

CONF = Path(__file__).parents[2] / "telephony" / "freeswitch" / "conf"
ALL_FILES = sorted(CONF.rglob("*.xml"))


def _load(relative: str) -> ET.Element:
    return ET.parse(CONF / relative).getroot()


def _params(root: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in root.iter("param")}


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(CONF)))
def test_every_file_is_well_formed_and_holds_no_secret(path: Path) -> None:
    ET.parse(path)
    text = path.read_text()
    assert "ClueCon" not in text
    assert not re.search(
        r'name="(password|gateway-credentials)" value="(?!\$\$\{)(?!freeswitch:\$\$\{)', text
    )


def test_secrets_and_addresses_come_from_the_environment() -> None:
    sets = {
        p.get("data", "").split("=", 1)[0]: p.get("data", "").split("=", 1)[1]
        for p in _load("vars.xml").iter("X-PRE-PROCESS")
        if p.get("cmd") == "env-set"
    }
    assert sets["esl_password"] == "$FREESWITCH_ESL_PASSWORD"
    assert sets["xml_curl_secret"] == "$CARILLON_XML_CURL_SECRET"
    assert {
        "app_url",
        "kamailio_address",
        "kamailio_cidr",
        "media_nodes_cidr",
        "recordings_dir",
    } <= sets.keys()


def test_event_socket_on_loopback_with_the_env_password() -> None:
    params = _params(_load("autoload_configs/event_socket.conf.xml"))
    assert params["listen-ip"] == "127.0.0.1"
    assert params["listen-port"] == "8021"
    assert params["password"] == "$${esl_password}"
    assert params["apply-inbound-acl"] == "loopback.auto"


def test_xml_curl_binds_directory_and_dialplan_to_the_app_with_basic_auth() -> None:
    bindings = {b.get("name"): b for b in _load("autoload_configs/xml_curl.conf.xml").iter("binding")}
    urls = {}
    for binding in bindings.values():
        url = next(p for p in binding.iter("param") if p.get("name") == "gateway-url")
        urls[url.get("bindings")] = url.get("value")
        params = _params(binding)
        assert params["gateway-credentials"] == f"{XML_CURL_USER}:$${{xml_curl_secret}}"
        assert params["auth-scheme"] == "basic"
    assert urls == {
        "directory": "$${app_url}/freeswitch/directory",
        "dialplan": "$${app_url}/freeswitch/dialplan",
    }


def test_required_modules_are_loaded() -> None:
    modules = {m.get("module") for m in _load("autoload_configs/modules.conf.xml").iter("load")}
    required = {
        "mod_sofia",
        "mod_event_socket",
        "mod_xml_curl",
        "mod_conference",
        "mod_commands",
        "mod_dptools",
        "mod_sndfile",
        "mod_dialplan_xml",
        "mod_avmd",
        "mod_amd",
        "mod_loopback",
        "mod_local_stream",
        "mod_tone_stream",
    }
    assert required <= modules


def test_sip_profiles_agents_behind_kamailio_and_trunks_towards_it() -> None:
    agents = _params(_load("sip_profiles/agents.xml"))
    assert agents["auth-calls"] == "true" and "apply-inbound-acl" not in agents
    assert agents["accept-blind-reg"] == "false"
    trunks_root = _load("sip_profiles/kamailio.xml")
    gateway = trunks_root.find("./gateways/gateway")
    assert gateway is not None and gateway.get("name") == "kamailio"
    assert _params(gateway)["proxy"] == "$${kamailio_address}"
    settings = {
        p.get("name"): p.get("value")
        for p in trunks_root.iter("param")
        if p not in list(gateway.iter("param"))
    }
    assert settings["context"] == "public"
    assert settings["apply-inbound-acl"] == "kamailio"
    interconnect = _params(_load("sip_profiles/interconnect.xml"))
    assert (interconnect["context"], interconnect["apply-inbound-acl"]) == ("interconnect", "media_nodes")
    ports = {
        _params(_load(f"sip_profiles/{name}.xml")).get("sip-port")
        for name in ("agents", "kamailio", "interconnect")
    }
    assert len(ports) == 3


def test_the_backend_defaults_match_the_configuration() -> None:
    from telephony.freeswitch.backend import FreeSwitchCallControl
    from telephony.freeswitch.nodes import FreeSwitchNode

    node = FreeSwitchNode(name="fs1", host="127.0.0.1")
    assert node.dial_string("+33612345678") == "sofia/gateway/kamailio/+33612345678"
    profiles = {
        p.get("name")
        for p in (_load(f"sip_profiles/{n}.xml") for n in ("agents", "kamailio", "interconnect"))
    }
    defaults = FreeSwitchCallControl.__init__.__kwdefaults__ or {}
    assert defaults["interconnect_profile"] in profiles
    conference_profiles = {
        p.get("name") for p in _load("autoload_configs/conference.conf.xml").iter("profile")
    }
    assert node.conference_profile in conference_profiles
