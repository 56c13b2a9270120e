"""FreeSWITCH media nodes as the backend sees them, and where agents' conferences live."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from telephony.freeswitch.tracker import parse_agent_conference


@dataclass(frozen=True, slots=True)
class FreeSwitchNode:
    """One FreeSWITCH box: its event socket and how calls leave it.

    ``dial_template`` builds the customer leg; ``{destination}`` is the E.164 number
    (outbound calls go to Kamailio, which picks the carrier). ``sip_address`` is where
    other nodes reach this one to join a customer to an agent conference held here.
    """

    name: str
    host: str
    port: int = 8021
    password: str = ""
    dial_template: str = "sofia/gateway/kamailio/{destination}"
    sip_address: str | None = None
    conference_profile: str = "default"

    @classmethod
    def from_esl_setting(cls, value: str, name: str | None = None) -> FreeSwitchNode:
        """Parse ``host:port:password`` (the ``FREESWITCH_ESL`` format)."""
        host, sep, rest = value.partition(":")
        port_text, sep2, password = rest.partition(":")
        if not (sep and sep2 and host and port_text.isdigit()):
            raise ValueError("expected host:port:password")
        return cls(name=name or host, host=host, port=int(port_text), password=password)

    def dial_string(self, destination: str) -> str:
        return self.dial_template.format(destination=destination)


@dataclass(slots=True)
class ConferenceInfo:
    name: str
    node: str
    members: dict[str, str] = field(default_factory=dict)  # channel uuid -> member id
    touched: int = 0  # directory sequence number of the last event about it


class ConferenceDirectory:
    """Agent conferences seen on each node, kept from conference::maintenance events.

    A snapshot (``conference json_list``) replaces a node's entries, except those an
    event touched after the snapshot was asked for: events keep flowing meanwhile.
    """

    def __init__(self) -> None:
        self._conferences: dict[str, ConferenceInfo] = {}
        self._sequence = 0
        self._destroyed: dict[str, int] = {}  # name -> sequence number of its destroy

    def get(self, name: str) -> ConferenceInfo | None:
        return self._conferences.get(name)

    def find_member(self, uuid: str) -> ConferenceInfo | None:
        return next((info for info in self._conferences.values() if uuid in info.members), None)

    def mark(self) -> int:
        """Call before asking for a snapshot; pass the result to ``load_json_list``."""
        return self._sequence

    def _touch(self, info: ConferenceInfo) -> None:
        self._sequence += 1
        info.touched = self._sequence

    def member_added(self, node: str, name: str, uuid: str, member_id: str) -> None:
        info = self._conferences.get(name)
        if info is None or info.node != node:
            info = self._conferences[name] = ConferenceInfo(name=name, node=node)
        info.members[uuid] = member_id
        self._touch(info)

    def member_removed(self, name: str, uuid: str) -> None:
        info = self._conferences.get(name)
        if info is not None:
            info.members.pop(uuid, None)
            self._touch(info)

    def destroyed(self, node: str, name: str) -> None:
        info = self._conferences.get(name)
        if info is not None and info.node == node:
            del self._conferences[name]
        self._sequence += 1
        self._destroyed[name] = self._sequence

    def forget_node(self, node: str) -> None:
        for name in [n for n, info in self._conferences.items() if info.node == node]:
            del self._conferences[name]

    def load_json_list(self, node: str, text: str, mark: int | None = None) -> None:
        """Refill a node's agent conferences from ``conference json_list`` output
        requested at ``mark`` (entries touched since then are kept as they are)."""
        newer = {
            name
            for name, info in self._conferences.items()
            if info.node == node and mark is not None and info.touched > mark
        }
        for name in [n for n, info in self._conferences.items() if info.node == node and n not in newer]:
            del self._conferences[name]
        since = mark if mark is not None else self._sequence
        newer |= {name for name, sequence in self._destroyed.items() if sequence > since}
        self._destroyed = {name: seq for name, seq in self._destroyed.items() if seq > since}
        stripped = text.strip()
        if not stripped.startswith("["):
            return  # "-ERR No active conferences." and the like
        try:
            conferences = json.loads(stripped)
        except json.JSONDecodeError:
            return
        for conference in conferences if isinstance(conferences, list) else []:
            name = str(conference.get("conference_name", ""))
            if parse_agent_conference(name) is None or name in newer:
                continue
            info = self._conferences[name] = ConferenceInfo(name=name, node=node)
            for member in conference.get("members", []):
                if member.get("uuid"):
                    info.members[str(member["uuid"])] = str(member.get("id", ""))
