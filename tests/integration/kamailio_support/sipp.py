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


def answering_scenario(name: str) -> str:
    """The built-in UAS, echoing Record-Route and naming itself in its 200 OK."""
    text = builtin_scenario("uas")
    text = text.replace("[last_CSeq:]\n", "[last_CSeq:]\n      [last_Record-Route:]\n", 2)
    text = _replace_once(text, "SIP/2.0 200 OK\n", f"SIP/2.0 200 OK\n      X-Answered-By: {name}\n")
    return text


def refusing_scenario(status: int = 503, reason: str = "Service Unavailable") -> str:
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


def challenging_scenario(name: str, username: str, password: str, realm: str = "carrier.test") -> str:
    """``answering_scenario`` behind a digest challenge: the first INVITE gets a 401 (SIPp's
    verifyauth reads Authorization, not Proxy-Authorization), the second must carry
    valid credentials (else 403)."""
    text = answering_scenario(name)
    invite_end = text.index("</recv>", text.index('<recv request="INVITE"')) + len("</recv>")
    challenge = f"""

  <send>
    <![CDATA[

      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: Digest realm="{realm}", nonce="[pid]n[call_number]", algorithm=MD5
      Content-Length: 0

    ]]>
  </send>

  <recv request="ACK" crlf="true">
  </recv>

  <recv request="INVITE" crlf="true">
    <action>
      <verifyauth assign_to="authvalid" username="{username}" password="{password}"/>
    </action>
  </recv>

  <nop hide="true" test="authvalid" next="1"/>

  <send next="2">
    <![CDATA[

      SIP/2.0 403 Bad Credentials
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>

  <label id="1"/>
"""
    ending = text.index("<ResponseTimeRepartition")
    return text[:invite_end] + challenge + text[invite_end:ending] + '<label id="2"/>\n' + text[ending:]


def media_node_scenario(headers: dict[str, str] | None = None, domain: str | None = None) -> str:
    """The built-in UAC, sending extra INVITE headers, following the route set for ACK
    and BYE, and logging which party answered. With ``domain``, the INVITE's
    Request-URI is ``sip:<number>@<domain>`` (a call to an agent)."""
    text = builtin_scenario("uac")
    if domain:
        text = _replace_once(
            text,
            "INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0",
            f"INVITE sip:[service]@{domain} SIP/2.0",
        )
    extra = "".join(f"      {name}: {value}\n" for name, value in (headers or {}).items())
    text = _replace_once(text, "      Max-Forwards: 70\n", "      Max-Forwards: 70\n" + extra)
    text = _replace_once(
        text,
        '<recv response="200" rtd="true">\n  </recv>',
        '<recv response="200" rtd="true" rrs="true">\n'
        "    <action>\n"
        '      <ereg regexp="X-Answered-By: *([A-Za-z0-9_-]+)" search_in="msg" assign_to="whole,party"/>\n'
        '      <log message="answered-by=[$party] from [$whole]"/>\n'
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


def register_scenario(username: str, domain: str) -> str:
    """An agent registering with digest authentication (credentials from -au/-ap)."""
    request = f"""
  <send retrans="500">
    <![CDATA[

      REGISTER sip:{domain} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{username}@{domain}>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{username}@{domain}>
      Call-ID: [call_id]
      CSeq: %(cseq)d REGISTER
      Contact: <sip:{username}@[local_ip]:[local_port]>
      %(auth)s
      Expires: 300
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="agent registration">'
        + request % {"cseq": 1, "auth": ""}
        + '  <recv response="401" auth="true"/>\n'
        + request % {"cseq": 2, "auth": "[authentication]"}
        + '  <recv response="200"/>\n</scenario>\n'
    )


def agent_call_scenario(username: str, domain: str, headers: dict[str, str] | None = None) -> str:
    """The built-in UAC for an agent's own call, from its SIP identity: it answers the
    proxy's 407 challenge (credentials from -au/-ap), then follows the route set like
    ``media_node_scenario``."""
    text = media_node_scenario(headers).replace(
        "From: sipp <sip:sipp@[local_ip]:[local_port]>", f"From: <sip:{username}@{domain}>"
    )
    invite_start = text.index("<send")
    invite_end = text.index("</send>") + len("</send>")
    invite = text[invite_start:invite_end]
    authenticated = invite.replace("CSeq: 1 INVITE", "CSeq: 2 INVITE").replace(
        "      Max-Forwards: 70\n", "      [authentication]\n      Max-Forwards: 70\n", 1
    )
    challenge = """
  <recv response="407" auth="true"/>

  <send>
    <![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      [last_From:]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

  """
    rest = text[invite_end:].replace("CSeq: 1 ACK", "CSeq: 2 ACK").replace("CSeq: 2 BYE", "CSeq: 3 BYE")
    return text[:invite_start] + invite + challenge + authenticated + rest


def _replace_once(text: str, old: str, new: str) -> str:
    if old not in text:
        raise AssertionError(f"SIPp's built-in scenario changed: {old!r} not found")
    return text.replace(old, new, 1)


@dataclass
class Uas:
    """A SIPp UAS standing for a carrier's SBC, a media node or an agent's phone."""

    name: str
    port: int
    media_port: int
    process: subprocess.Popen[bytes]
    messages: Path

    def received_invites(self) -> int:
        if not self.messages.exists():
            return 0
        return len(re.findall(r"^INVITE sip:", self.messages.read_text(errors="replace"), re.MULTILINE))

    def received_text(self) -> str:
        return self.messages.read_text(errors="replace") if self.messages.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)


def start_uas(directory: Path, name: str, port: int, media_port: int, scenario: str) -> Uas:
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
    return Uas(name, port, media_port, process, messages)


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
    scenario: str | None = None,
    credentials: tuple[str, str] | None = None,
) -> CallResult:
    """One call through Kamailio (by default from a media node), bounded by SIPp's own
    timeout and by the subprocess timeout above it."""
    directory.mkdir(parents=True, exist_ok=True)
    scenario_file = directory / f"uac_{number}_{local_port}.xml"
    scenario_file.write_text(scenario or media_node_scenario(headers))
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
    if credentials:
        command += ["-au", credentials[0], "-ap", credentials[1]]
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
