"""Imports every feature's models so that the metadata (Alembic, tests) knows them all."""

from app.api import models as api_models  # noqa: F401
from app.audit.models import AuditEvent  # noqa: F401
from app.auth.models import User, UserGroup  # noqa: F401
from app.calls.models import Call  # noqa: F401
from app.campaigns import models as campaigns_models  # noqa: F401
from app.inbound import models as inbound_models  # noqa: F401
from app.leads import models as leads_models  # noqa: F401
from app.messaging import models as messaging_models  # noqa: F401
from app.recordings import models as recordings_models  # noqa: F401
from app.reports import models as reports_models  # noqa: F401
from app.supervision import models as supervision_models  # noqa: F401
from telephony.routing import models as routing_models  # noqa: F401
from tenants.models import Platform, Reseller, Tenant  # noqa: F401
