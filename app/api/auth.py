"""Who is calling an API: an ``X-API-Key`` (lead import, REST) or a click-to-call
bearer token. Either one sets the request's tenant; nothing else does on the APIs."""

from __future__ import annotations

from flask import g, request

from app.api import keys, messages
from app.api.http import ApiError, client_ip
from app.api.models import ApiScope, Click2CallToken
from app.extensions import Session
from tenants.models import Tenant, TenantStatus
from tenants.scoping import set_request_tenant


def _enter_tenant(tenant_id: int, unauthorized: str) -> Tenant:
    tenant = Session.get(Tenant, tenant_id)
    if tenant is None or tenant.status not in (TenantStatus.ACTIVE, TenantStatus.TRIAL):
        raise ApiError(403 if tenant is not None else 401, messages.TENANT_INACTIVE if tenant else unauthorized)
    set_request_tenant(tenant_id)
    g.tenant = tenant
    return tenant


def authenticate_api_key(scope: ApiScope) -> keys.ApiCaller:
    caller = keys.find_caller(request.headers.get("X-API-Key"))
    if caller is None:
        raise ApiError(401, messages.API_KEY_INVALID, headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'})
    if caller.tenant_status not in (TenantStatus.ACTIVE, TenantStatus.TRIAL):
        raise ApiError(403, messages.TENANT_INACTIVE)
    set_request_tenant(caller.tenant_id)
    if not caller.allows(scope):
        raise ApiError(403, messages.SCOPE_FORBIDDEN)
    keys.touch_caller(caller, client_ip())
    g.api_caller = caller
    return caller


def bearer_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def authenticate_click2call() -> Click2CallToken:
    token = keys.find_click2call_token(bearer_secret())
    if token is None:
        raise ApiError(401, messages.TOKEN_INVALID, headers={"WWW-Authenticate": "Bearer"})
    _enter_tenant(token.tenant_id, messages.TOKEN_INVALID)
    keys.touch(token, client_ip())
    g.click2call_token = token
    return token
