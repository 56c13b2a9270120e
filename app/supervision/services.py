"""The supervisor's actions on an agent: listen, whisper, barge, take over, a message,
force pause, force logout. Each is permission-checked by the view, applied through the
live bus, and audited (refusals too)."""

from __future__ import annotations

import enum
import functools
import importlib.util
import uuid
from dataclasses import dataclass

from flask_babel import gettext as _

from app.audit.services import record_event
from app.auth.models import User
from app.calls.models import Call
from app.extensions import Session
from app.oncommit import after_commit
from app.realtime import bus
from telephony.callcontrol import SupervisionMode

# The pause code a forced pause carries (shown on the wallboard and in the pause report).
FORCED_PAUSE_CODE = "SUP"
# Backends whose calls carry audio the supervisor can join.
AUDIO_BACKENDS = frozenset({"freeswitch"})


class Action(enum.StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"
    TAKE_OVER = "take_over"
    MESSAGE = "message"
    FORCE_PAUSE = "force_pause"
    FORCE_LOGOUT = "force_logout"

    @property
    def is_supervision(self) -> bool:
        return self in (Action.LISTEN, Action.WHISPER, Action.BARGE, Action.TAKE_OVER)


class ActionRefused(Exception):
    """The action cannot be done now; the message is shown to the supervisor."""


@dataclass(frozen=True)
class ActionResult:
    action: Action
    agent_id: int
    message: str


def _live_state(agent: User) -> dict[str, str]:
    state = bus.agent_state(agent.tenant_id, agent.id)  # type: ignore[arg-type]
    if state.get("state", "logged_out") == "logged_out":
        raise ActionRefused(_("%(name)s is not logged in.", name=agent.display_name))
    return state


def _campaign_id(agent: User, state: dict[str, str]) -> int:
    try:
        return int(state["campaign_id"])
    except (KeyError, ValueError) as exc:
        raise ActionRefused(_("%(name)s is on no campaign.", name=agent.display_name)) from exc


def _audit(supervisor: User, action: Action, agent: User, **details: object) -> None:
    record_event(f"supervision.{action.value}", actor=supervisor, target_type="user", target_id=agent.id,
                 details={key: value for key, value in details.items() if value is not None})


def supervise_call(supervisor: User, agent: User, action: Action) -> ActionResult:
    """Listen, whisper, barge or take over the agent's current call."""
    if not action.is_supervision:
        raise ValueError(action)
    try:
        state = _live_state(agent)
        call_id = state.get("call_id") or ""
        if state.get("state") != "in_call" or not call_id:
            raise ActionRefused(_("%(name)s is not in a call.", name=agent.display_name))
        try:
            call = Session.get(Call, uuid.UUID(call_id))
        except ValueError:
            call = None
        backend = call.backend if call is not None else "simulated"
        if backend not in AUDIO_BACKENDS:
            raise ActionRefused(_("This call runs on the simulated telephony backend, which carries no audio: "
                                  "listening, whispering, barging and taking over need the FreeSWITCH backend."))
    except ActionRefused as refused:
        _audit(supervisor, action, agent, refused=str(refused))
        raise
    bus.send_supervision(agent.tenant_id, _campaign_id(agent, state), {  # type: ignore[arg-type]
        "call_id": call_id, "agent_id": agent.id, "supervisor_id": supervisor.id,
        "mode": SupervisionMode(action.value).value})
    _audit(supervisor, action, agent, call_id=call_id)
    labels = {Action.LISTEN: _("Listening to %(name)s's call: your phone will ring."),
              Action.WHISPER: _("Whispering to %(name)s: your phone will ring."),
              Action.BARGE: _("Joining %(name)s's call: your phone will ring."),
              Action.TAKE_OVER: _("Taking over %(name)s's call: your phone will ring.")}
    return ActionResult(action, agent.id, labels[action] % {"name": agent.display_name})


def force_pause(supervisor: User, agent: User) -> ActionResult:
    state = _live_state(agent)
    if state.get("state") in ("in_call", "ringing"):
        refused = ActionRefused(_("%(name)s is in a call: force the pause once the call is over.",
                                  name=agent.display_name))
        _audit(supervisor, Action.FORCE_PAUSE, agent, refused=str(refused))
        raise refused
    bus.send_command(bus.AgentCommand("pause", agent.tenant_id, _campaign_id(agent, state),  # type: ignore[arg-type]
                                      agent.id, pause_code=FORCED_PAUSE_CODE))
    _audit(supervisor, Action.FORCE_PAUSE, agent, state=state.get("state"))
    return ActionResult(Action.FORCE_PAUSE, agent.id, _("%(name)s will be paused.", name=agent.display_name))


def force_logout(supervisor: User, agent: User) -> ActionResult:
    state = _live_state(agent)
    bus.send_command(bus.AgentCommand("logout", agent.tenant_id, _campaign_id(agent, state),  # type: ignore[arg-type]
                                      agent.id))
    _audit(supervisor, Action.FORCE_LOGOUT, agent, state=state.get("state"))
    return ActionResult(Action.FORCE_LOGOUT, agent.id, _("%(name)s will be logged out.", name=agent.display_name))


MESSAGE_MAX_LENGTH = 2000


def messaging_available() -> bool:
    return importlib.util.find_spec("app.messaging") is not None


def send_message(supervisor: User, agent: User, text: str) -> ActionResult:
    """A message to the agent: through the internal messaging when the product has it
    (stored, announced on the agent's live stream once the transaction commits),
    otherwise as a message event on the tenant's live bus."""
    if messaging_available():
        from app.messaging import services as messaging

        try:
            message = messaging.send_message(supervisor, text, agent.id)
        except messaging.MessageError as error:
            raise ActionRefused(str(error.message)) from error
        after_commit(Session(), functools.partial(messaging.announce, agent.tenant_id, message))
        _audit(supervisor, Action.MESSAGE, agent, message_id=message.id)
    else:
        text = (text or "").strip()
        if not text:
            raise ActionRefused(_("Write a message first."))
        if len(text) > MESSAGE_MAX_LENGTH:
            raise ActionRefused(_("A message has at most %(n)d characters.", n=MESSAGE_MAX_LENGTH))
        bus.publish(agent.tenant_id, {"type": "message", "agent_id": agent.id, "recipient_id": agent.id,  # type: ignore[arg-type]
                                      "text": text, "sender_id": supervisor.id, "sender_name": supervisor.display_name})
        _audit(supervisor, Action.MESSAGE, agent, length=len(text))
    return ActionResult(Action.MESSAGE, agent.id, _("Message sent to %(name)s.", name=agent.display_name))


def apply_action(supervisor: User, agent: User, action: Action, text: str = "") -> ActionResult:
    if action.is_supervision:
        return supervise_call(supervisor, agent, action)
    if action is Action.FORCE_PAUSE:
        return force_pause(supervisor, agent)
    if action is Action.FORCE_LOGOUT:
        return force_logout(supervisor, agent)
    return send_message(supervisor, agent, text)
