"""Answering-machine detection behind one small interface (mod_amd or mod_avmd).

A detector says what to run when the customer answers (dialplan applications on the
leg, or api commands sent by the backend), which events to subscribe to, and how to
read a verdict out of an event. The backend does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from telephony.callcontrol import EventKind
from telephony.freeswitch.commands import check_uuid
from telephony.freeswitch.protocol import EslEvent


@dataclass(frozen=True, slots=True)
class AmdVerdict:
    kind: EventKind  # EventKind.HUMAN or EventKind.MACHINE
    result: str  # the detector's own word: HUMAN, MACHINE, NOTSURE, BEEP ...
    cause: str = ""


class AnsweringMachineDetector(Protocol):
    name: str
    subscriptions: tuple[str, ...]

    def answer_applications(self) -> list[tuple[str, str]]:
        """Applications the answered leg runs before it parks (blocking detectors)."""
        ...

    def answer_commands(self, uuid: str) -> list[str]:
        """api commands the backend sends on CHANNEL_ANSWER (media-bug detectors)."""
        ...

    def classify(self, event: EslEvent) -> AmdVerdict | None:
        """The verdict carried by ``event``, or None when it carries none."""
        ...


class ModAmd:
    """mod_amd (Asterisk's algorithm): the blocking ``amd`` application sets
    ``amd_result`` (HUMAN / MACHINE / NOTSURE) and ``amd_cause``; the application's
    CHANNEL_EXECUTE_COMPLETE carries them. Forks that also fire ``amd::info`` are read
    the same way. NOTSURE counts as a person: dropping a live person is the costlier
    mistake for a predictive dialer (an abandoned call), so only MACHINE is a machine.
    """

    name = "mod_amd"
    subscriptions: tuple[str, ...] = ("CHANNEL_EXECUTE_COMPLETE", "CUSTOM amd::info")

    def answer_applications(self) -> list[tuple[str, str]]:
        return [("amd", "")]

    def answer_commands(self, uuid: str) -> list[str]:
        return []

    def classify(self, event: EslEvent) -> AmdVerdict | None:
        is_app_done = event.name == "CHANNEL_EXECUTE_COMPLETE" and event.get("Application") == "amd"
        if not (is_app_done or event.key == "amd::info"):
            return None
        result = (event.variable("amd_result") or "").upper()
        cause = event.variable("amd_cause") or ""
        if result == "MACHINE":
            return AmdVerdict(EventKind.MACHINE, result, cause)
        if result in ("HUMAN", "NOTSURE", "NOT_SURE"):
            return AmdVerdict(EventKind.HUMAN, result, cause)
        return None


class ModAvmd:
    """mod_avmd: a media bug started with ``avmd <uuid> start`` on answer. It fires
    ``avmd::beep`` when it hears a voicemail beep (a machine); when it stops or times
    out without one (``Beep-Status: NOTDETECTED``) the far end is taken as a person.
    """

    name = "mod_avmd"
    subscriptions: tuple[str, ...] = ("CUSTOM avmd::beep avmd::stop avmd::timeout",)

    def answer_applications(self) -> list[tuple[str, str]]:
        return []

    def answer_commands(self, uuid: str) -> list[str]:
        return [f"avmd {check_uuid(uuid)} start"]

    def classify(self, event: EslEvent) -> AmdVerdict | None:
        if event.key == "avmd::beep":
            return AmdVerdict(EventKind.MACHINE, "BEEP", event.get("Frequency"))
        if event.key in ("avmd::stop", "avmd::timeout"):
            status = event.get("Beep-Status").upper()
            if status == "DETECTED":
                return AmdVerdict(EventKind.MACHINE, "BEEP", status)
            return AmdVerdict(EventKind.HUMAN, "NOBEEP", status or event.key)
        return None
