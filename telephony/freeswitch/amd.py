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
    ``avmd::beep`` when it hears a voicemail beep (a machine).

    Checked against a real FreeSWITCH 1.11.1 (docs/telephony.md, "Against a real
    FreeSWITCH"): mod_avmd has no detection time limit and no ``avmd::timeout`` event,
    so on a person it would never conclude. FreeSWITCH is therefore told to stop it
    after ``max_wait_s`` (``sched_api``), which fires ``avmd::stop``. That stop, sent by
    the ``avmd <uuid> stop`` api, always says ``Beep-Status: DETECTED`` (an unset enum,
    with ``Stop-status: ERROR ...`` beside it), so its status is not trusted: a beep
    shows up as ``avmd::beep`` before any stop, and a stop with no beep seen is a person.
    Only a stop from the media bug itself (no ``Stop-status``) is read for its status.
    """

    name = "mod_avmd"
    subscriptions: tuple[str, ...] = ("CUSTOM avmd::beep avmd::stop",)

    def __init__(self, max_wait_s: int = 10) -> None:
        if max_wait_s < 1:
            raise ValueError("max_wait_s must be at least 1 second")
        self.max_wait_s = int(max_wait_s)

    def answer_applications(self) -> list[tuple[str, str]]:
        return []

    def answer_commands(self, uuid: str) -> list[str]:
        check_uuid(uuid)
        return [f"avmd {uuid} start", f"sched_api +{self.max_wait_s} none avmd {uuid} stop"]

    def classify(self, event: EslEvent) -> AmdVerdict | None:
        if event.key == "avmd::beep":
            return AmdVerdict(EventKind.MACHINE, "BEEP", event.get("Frequency"))
        if event.key == "avmd::stop":
            status = event.get("Beep-Status").upper()
            if status == "DETECTED" and not event.get("Stop-status"):
                return AmdVerdict(EventKind.MACHINE, "BEEP", status)
            cause = "NOTDETECTED" if status == "DETECTED" else status or event.key
            return AmdVerdict(EventKind.HUMAN, "NOBEEP", cause)
        return None
