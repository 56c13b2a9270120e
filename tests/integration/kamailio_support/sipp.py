"""SIPp parties for the routing tests: carriers (UAS) and a media node placing calls (UAC).

The scenarios start from SIPp's own built-in ones (``sipp -sd uas|uac``) and are edited
for a record-routing proxy in the path: the built-in UAS does not echo Record-Route
and the built-in UAC ignores it, so in-dialog ACK/BYE would miss Kamailio.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.integration.kamailio_support.harness import LOOPBACK, stop_process

CALL_TIMEOUT_S = 20


def builtin_scenario(name: str) -> str:
    # sipp -sd exits with 99 after printing the scenario, so success is judged by it.
    dumped = subprocess.run(["sipp", "-sd", name], capture_output=True, text=True, timeout=10, check=False)
    if "<scenario" not in dumped.stdout:
        raise AssertionError(f"sipp -sd {name} printed no scenario: {dumped.stderr[-500:]}")
    return dumped.stdout


def answering_carrier_scenario(carrier: str) -> str:
    """The built-in UAS, echoing Record-Route and naming itself in its 200 OK."""
    text = builtin_scenario("uas")
    text = text.replace("[last_CSeq:]\n", "[last_CSeq:]\n      [last_Record-Route:]\n", 2)
    text = _replace_once(text, "SIP/2.0 200 OK\n", f"SIP/2.0 200 OK\n      X-Carrier: {carrier}\n")
    return text


def refusing_carrier_scenario(status: int = 503, reason: str = "Service Unavailable") -> str:
    """The built-in UAS cut down to: take the INVITE, refuse it, take the ACK."""
    text = builtin_scenario("uas")
    head, _, rest = text.partition('<recv request="INVITE"')
    invite_recv = '<recv request="INVITE"' + rest[: rest.index("</recv>") + len("</recv>")]
    refusal = f"""
  <send>
    <![CDATA[

      SIP/2.0 {status} {reason}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>

  <recv request="ACK" crlf="true">
  </recv>
</scenario>
"""
    return head + invite_recv + refusal


def media_node_scenario(headers: dict[str, str] | None = None) -> str:
    """The built-in UAC, sending extra INVITE headers, following the route set for ACK
    and BYE, and logging which carrier answered."""
    text = builtin_scenario("uac")
    extra = "".join(f"      {name}: {value}\n" for name, value in (headers or {}).items())
    text = _replace_once(text, "      Max-Forwards: 70\n", "      Max-Forwards: 70\n" + extra)
    text = _replace_once(
        text,
        '<recv response="200" rtd="true">\n  </recv>',
        '<recv response="200" rtd="true" rrs="true">\n'
        "    <action>\n"
        '      <ereg regexp="X-Carrier: *([A-Za-z0-9_-]+)" search_in="msg" assign_to="whole,carrier"/>\n'
        '      <log message="answered-by=[$carrier] from [$whole]"/>\n'
        "    </action>\n"
        "  </recv>",
    )
    for method in ("ACK", "BYE"):
        text = re.sub(
            rf"{method} sip:\[service\]@\[remote_ip\]:\[remote_port\] SIP/2.0\n",
            f"{method} [next_url] SIP/2.0\n      [routes]\n",
            text,
        )
    # Headers added before Max-Forwards appear in the ACK and BYE too; only the INVITE
    # carries them, so strip them again after the INVITE.
    invite_end = text.index("</send>")
    return text[:invite_end] + text[invite_end:].replace(extra, "")


def _replace_once(text: str, old: str, new: str) -> str:
    if old not in text:
        raise AssertionError(f"SIPp's built-in scenario changed: {old!r} not found")
    return text.replace(old, new, 1)


@dataclass
class Carrier:
    """A SIPp UAS standing for a carrier's SBC."""

    name: str
    port: int
    media_port: int
    process: subprocess.Popen[bytes]
    messages: Path

    def received_invites(self) -> int:
        if not self.messages.exists():
            return 0
        return len(re.findall(r"^INVITE sip:", self.messages.read_text(errors="replace"), re.MULTILINE))

    def stop(self) -> None:
        stop_process(self.process)


def start_carrier(directory: Path, name: str, port: int, media_port: int, scenario: str) -> Carrier:
    directory.mkdir(parents=True, exist_ok=True)
    scenario_file = directory / f"{name}.xml"
    scenario_file.write_text(scenario)
    messages = directory / f"{name}_messages.log"
    process = subprocess.Popen(
        [
            "sipp",
            "-sf",
            str(scenario_file),
            "-i",
            LOOPBACK,
            "-p",
            str(port),
            "-mp",
            str(media_port),
            "-nostdin",
            "-trace_msg",
            "-message_file",
            str(messages),
            "-trace_err",
            "-error_file",
            str(directory / f"{name}_errors.log"),
        ],  # fmt: skip
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return Carrier(name, port, media_port, process, messages)


@dataclass(frozen=True)
class CallResult:
    returncode: int
    answered_by: str | None
    log: str
    errors: str


def place_call(
    directory: Path,
    proxy_port: int,
    local_port: int,
    media_port: int,
    number: str,
    headers: dict[str, str] | None = None,
    hold_ms: int = 0,
) -> CallResult:
    """One call from a media node through Kamailio, bounded by SIPp's own timeout and
    by the subprocess timeout above it."""
    directory.mkdir(parents=True, exist_ok=True)
    scenario_file = directory / f"uac_{number}_{local_port}.xml"
    scenario_file.write_text(media_node_scenario(headers))
    log_file = directory / f"uac_{number}_{local_port}_logs.log"
    error_file = directory / f"uac_{number}_{local_port}_errors.log"
    for stale in (log_file, error_file):
        stale.unlink(missing_ok=True)
    command = [
        "sipp", f"{LOOPBACK}:{proxy_port}",
        "-sf", str(scenario_file),
        "-s", number,
        "-m", "1",
        "-d", str(hold_ms),
        "-i", LOOPBACK,
        "-p", str(local_port),
        "-mp", str(media_port),
        "-nostdin",
        "-timeout", f"{CALL_TIMEOUT_S - 5}s",
        "-timeout_error",
        "-trace_logs", "-log_file", str(log_file),
        "-trace_err", "-error_file", str(error_file),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        returncode = process.wait(timeout=CALL_TIMEOUT_S)
    finally:
        stop_process(process)
    log = log_file.read_text(errors="replace") if log_file.exists() else ""
    errors = error_file.read_text(errors="replace") if error_file.exists() else ""
    match = re.search(r"answered-by=([A-Za-z0-9_-]+)", log)
    return CallResult(returncode, match.group(1) if match else None, log, errors)
