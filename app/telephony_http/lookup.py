"""``XmlCurlLookup`` over the application's data, for ``handle_xml_curl``.

FreeSWITCH asks without a tenant: each answer is looked up inside the scope of the
tenant the request names (the SIP username ``t<tenant>a<user>`` or the dialplan
context ``tenant-<id>``), never across tenants."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.auth.models import User
from app.campaigns.models import Campaign
from app.extensions import Session
from app.realtime import bus
from kamailio.tables import subscriber
from telephony.freeswitch.xmlcurl import DidRoute, IvrMenu, QueueRoute, SipUser
from tenants.models import Tenant, TenantStatus
from tenants.scoping import tenant_scope

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

    def did_route(self, did: str) -> DidRoute | None:
        # Inbound numbers are not routed to queues or IVRs yet (no DID inventory table):
        # FreeSWITCH gets "not found" and rejects the call.
        return None

    def queue(self, tenant_id: int, queue_id: int) -> QueueRoute | None:
        return None

    def ivr_menu(self, tenant_id: int, ivr_id: int) -> IvrMenu | None:
        return None

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
