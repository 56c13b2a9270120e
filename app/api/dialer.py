"""Click-to-call places its calls through the configured call-control backend
(``DIALER_BACKEND``): the simulator, or FreeSWITCH over ESL. There is no shared
factory in ``telephony`` yet, so this small dialer builds the backend it needs."""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass

from telephony.callcontrol import CallControl, CallEvent, OriginateRequest

RING_TIMEOUT_S = 30


@dataclass(frozen=True)
class PlacedCall:
    call_uuid: str


class ClickToCallDialer:
    """Rings the pool line (the agent's extension) and the number to call: the
    backend originates one call carrying the line as a channel variable."""

    def __init__(self, control: CallControl) -> None:
        self.control = control

    def place(self, *, tenant_id: int, line: str, destination: str, group: str) -> PlacedCall:
        call_uuid = str(uuid.uuid4())
        self.control.originate(OriginateRequest(
            call_id=call_uuid, tenant_id=tenant_id, campaign_id=0, lead_id=None, destination=destination,
            caller_id=line, ring_timeout_s=RING_TIMEOUT_S,
            variables={"carillon_click2call": "1", "carillon_agent_line": line, "carillon_group": group},
        ))
        return PlacedCall(call_uuid)


_lock = threading.Lock()
_dialer: ClickToCallDialer | None = None


def _simulated() -> CallControl:
    from telephony.dialer.simulator import ShiftProfile, Simulator

    # The simulator's outcome model (answered, busy, no answer); its events are not
    # consumed by click-to-call, which only needs the originate to be accepted.
    return Simulator(ShiftProfile(agents=0, human=0.4, machine=0.2, busy_invalid=0.2), seed=0)


def _freeswitch() -> CallControl:
    from telephony.freeswitch.backend import FreeSwitchCallControl
    from telephony.freeswitch.nodes import FreeSwitchNode

    settings = [s for s in os.environ.get("FREESWITCH_ESL", "").split(",") if s.strip()]
    if not settings:
        raise RuntimeError("DIALER_BACKEND=freeswitch needs FREESWITCH_ESL=host:port:password[,...]")
    nodes = [FreeSwitchNode.from_esl_setting(s.strip()) for s in settings]

    def ignore(_event: CallEvent) -> None:
        """Call progress is tracked by the dialer service, not by the web process."""

    control = FreeSwitchCallControl(nodes, ignore)
    control.start(wait_s=5.0)
    return control


def current_dialer() -> ClickToCallDialer:
    global _dialer
    with _lock:
        if _dialer is None:
            from app.runtime import current_config

            backend = current_config().DIALER_BACKEND
            _dialer = ClickToCallDialer(_freeswitch() if backend == "freeswitch" else _simulated())
        return _dialer


def set_dialer(dialer: ClickToCallDialer | None) -> None:
    """Swap the process's dialer (tests use a backend that fails on purpose)."""
    global _dialer
    with _lock:
        _dialer = dialer
