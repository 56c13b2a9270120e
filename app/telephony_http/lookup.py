"""``XmlCurlLookup`` over the application's data, for ``handle_xml_curl``.

FreeSWITCH asks without a tenant: each answer is looked up inside the scope of the
tenant the request names (the SIP username ``t<tenant>a<user>`` or the dialplan
context ``tenant-<id>``), never across tenants."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.auth.models import User
from app.campaigns.models import Campaign
from app.db import utcnow
from app.extensions import Session
from app.inbound import services as inbound
from app.inbound.models import Did, InboundQueue
from app.inbound.models import IvrMenu as InboundIvr
from app.leads.phones import normalize_phone
from app.realtime import bus
from kamailio.tables import subscriber
from telephony.freeswitch import commands
from telephony.freeswitch.xmlcurl import ChannelInfo, DidRoute, IvrMenu, IvrOption, QueueRoute, SipUser
from tenants.models import Tenant, TenantStatus
from tenants.scoping import tenant_scope, unscoped

# app.agent.services.sip_username: the tenant and the user, in the SIP username
_AGENT_USERNAME = re.compile(r"^t(\d+)a(\d+)$")


class DatabaseLookup:
    def __init__(self, sip_domain: str) -> None:
        self.sip_domain = sip_domain

    def _active_tenant(self, tenant_id: int) -> bool:
        status = Session.scalar(sa.select(Tenant.status).where(Tenant.id == tenant_id))
        return status is not None and status != TenantStatus.SUSPENDED

    def sip_user(self, domain: str, username: str) -> SipUser | None:
        match = _AGENT_USERNAME.match(username)
        if domain != self.sip_domain or match is None:
            return None
        tenant_id, user_id = int(match.group(1)), int(match.group(2))
        if not self._active_tenant(tenant_id):
            return None
        a1_hash = Session.scalar(
            sa.select(subscriber.c.ha1).where(subscriber.c.username == username, subscriber.c.domain == domain)
        )
        if not a1_hash:
            return None
        with tenant_scope(tenant_id):
            user = Session.get(User, user_id)
            if user is None or not user.active or user.tenant_id != tenant_id:
                return None
            return SipUser(tenant_id=tenant_id, agent_id=user.id, username=username, domain=domain,
                           a1_hash=a1_hash, display_name=user.display_name)

    # -- inbound (app.inbound) ---------------------------------------------------------
    def did_route(self, did: str) -> DidRoute | None:
        """The number is the one thing FreeSWITCH gives: which tenant holds it is looked
        up across tenants (numbers are unique platform-wide), everything else inside
        that tenant's scope. Unknown, inactive, suspended tenant, or closed with no
        closed destination: None ("not found", FreeSWITCH rejects the call)."""
        number = normalize_phone(did, "FR").e164
        if number is None:
            return None
        with unscoped():
            tenant_id = Session.scalar(sa.select(Did.tenant_id).where(Did.number == number, Did.active))
        if tenant_id is None or not self._active_tenant(tenant_id):
            return None
        with tenant_scope(tenant_id):
            row = Session.scalar(sa.select(Did).where(Did.number == number))
            if row is None:
                return None
            destination, is_open = inbound.did_destination(row, utcnow())
            if destination is None:
                return None
            return DidRoute(tenant_id, number, destination.kind.value, destination.target, destination.number or "",
                            is_open)

    def queue(self, tenant_id: int, queue_id: int) -> QueueRoute | None:
        if not self._active_tenant(tenant_id):
            return None
        with tenant_scope(tenant_id):
            queue = Session.get(InboundQueue, queue_id)
            if queue is None or not queue.active or queue.tenant_id != tenant_id:
                return None
            position = None
            if queue.announce_position:
                waiting = bus.all_queues(tenant_id).get(queue_id, {}).get("waiting") or "0"
                position = int(waiting) + 1 if str(waiting).isdigit() else 1
            return QueueRoute(tenant_id, queue.id, queue.hold_music, position)

    def queue_entered(self, queue: QueueRoute, channel: ChannelInfo) -> None:
        """Tell the dialer service a caller entered the queue (it serves the queue)."""
        try:
            commands.check_uuid(channel.uuid)
        except ValueError:
            return
        bus.push_inbound_arrival(queue.queue_id, channel.arrival(queue))

    def ivr_menu(self, tenant_id: int, ivr_id: int) -> IvrMenu | None:
        if not self._active_tenant(tenant_id):
            return None
        with tenant_scope(tenant_id):
            menu = Session.get(InboundIvr, ivr_id)
            if menu is None or menu.tenant_id != tenant_id:
                return None

            def option(digit: str, kind: str | None, target: int | None, number: str | None) -> IvrOption | None:
                if not kind:
                    return None
                value = number if kind in ("external", "message") else str(target)
                return IvrOption(digit, kind, value or "")  # type: ignore[arg-type]

            options = tuple(o for o in (option(x.digit, x.dest_kind, x.dest_target, x.dest_number)
                                        for x in menu.options) if o is not None)
            return IvrMenu(
                tenant_id=tenant_id, ivr_id=menu.id, greeting=menu.greeting_audio,
                invalid_sound=menu.invalid_audio or "silence_stream://250", tries=menu.max_retries,
                timeout_ms=menu.timeout_s * 1000, options=options,
                timeout_option=option("", menu.timeout_kind, menu.timeout_target, menu.timeout_number))

    def agent_endpoint(self, tenant_id: int, agent_id: int) -> str | None:
        if not self._active_tenant(tenant_id):
            return None
        with tenant_scope(tenant_id):
            user = Session.get(User, agent_id)
            if user is None or not user.active or user.tenant_id != tenant_id:
                return None
        return f"user/t{tenant_id}a{agent_id}@{self.sip_domain}"

    def outbound_caller_id(self, tenant_id: int, agent_id: int) -> str | None:
        """The presented number of the campaign the agent is logged into (live bus),
        so a manual call leaves with the same identity as the dialler's calls."""
        if not self._active_tenant(tenant_id):
            return None
        campaign_id = bus.agent_state(tenant_id, agent_id).get("campaign_id", "")
        if not str(campaign_id).isdigit():
            return None
        with tenant_scope(tenant_id):
            campaign = Session.get(Campaign, int(campaign_id))
            if campaign is None or campaign.tenant_id != tenant_id:
                return None
            return campaign.caller_id or (campaign.dids[0] if campaign.dids else None)
