"""REST API v1 (I3): campaigns, lists, leads, users, statuses. ``X-API-Key`` with the
read scope for GET, write for POST/PATCH."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import request
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema

from app.api import rest
from app.api import rest_schemas as rs
from app.api.auth import authenticate_api_key
from app.api.http import answer, install_api_blueprint
from app.api.models import ApiScope
from app.api.schemas import ErrorOut

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1",
               description="REST API: campaigns, lists, leads, users, statuses (X-API-Key).")


def authenticate() -> None:
    authenticate_api_key(ApiScope.READ if request.method in ("GET", "HEAD") else ApiScope.WRITE)


install_api_blueprint(bp, authenticate)  # the preamble first, then the key


SCHEMAS: dict[str, tuple[type[Schema], type[Schema], type[Schema] | None, type[Schema] | None]] = {
    "campaigns": (rs.CampaignOut, rs.CampaignQuery, rs.CampaignIn, rs.CampaignPatch),
    "lists": (rs.ListOut, rs.ListQuery, rs.ListIn, rs.ListPatch),
    "leads": (rs.LeadOut, rs.LeadQuery, rs.LeadCreateIn, rs.LeadPatch),
    "users": (rs.UserOut, rs.UserQuery, rs.UserIn, rs.UserPatch),
    "statuses": (rs.CampaignStatusOut, rs.StatusQuery, rs.CampaignStatusIn, rs.CampaignStatusPatch),
    "recordings": (rs.RecordingOut, rs.RecordingQuery, None, None),
}
_COMMON_ERRORS = {400: "Invalid parameters", 401: "API Key invalide ou manquante",
                  403: "Read-only key or suspended account"}


def _errors(view, *extra: int):
    for code in (*_COMMON_ERRORS, *extra):
        view = bp.alt_response(code, schema=ErrorOut, description=_COMMON_ERRORS.get(code, "Error"))(view)
    return view


def _register(resource: rest.Resource) -> None:
    out, query, create_in, patch_in = SCHEMAS[resource.name]
    one, many = out(), out(many=True)
    name = resource.name

    def list_items(args: dict[str, Any]):
        stmt = resource.filters(sa.select(resource.model), args)
        items, next_cursor = rest.page(stmt, resource.model, args["limit"], args.get("cursor"))
        return answer({"success": True, "data": many.dump(items), "next_cursor": next_cursor})

    def create_item(data: dict[str, Any]):
        return answer({"success": True, "data": one.dump(resource.create(data))}, 201)

    def get_item(item_id: int):
        return answer({"success": True, "data": one.dump(rest.get(resource.model, item_id))})

    def update_item(data: dict[str, Any], item_id: int):
        item = rest.get(resource.model, item_id)
        return answer({"success": True, "data": one.dump(resource.update(item, data))})

    list_items.__doc__ = f"List {name} (filters, cursor pagination)."
    create_item.__doc__ = f"Create one of the {name}."
    get_item.__doc__ = f"Get one of the {name} by id."
    update_item.__doc__ = f"Change some fields of one of the {name}."
    security = [{"ApiKey": []}]
    bp.route(f"/{name}", methods=["GET"], endpoint=f"{name}_list")(
        _errors(bp.doc(security=security)(bp.response(200, rs.envelope(out, many=True))(
            bp.arguments(query, location="query", unknown=RAISE, error_status_code=400)(list_items)))))
    bp.route(f"/{name}/<int:item_id>", methods=["GET"], endpoint=f"{name}_get")(
        _errors(bp.doc(security=security)(bp.response(200, rs.envelope(out))(get_item)), 404))
    if create_in is None or patch_in is None:
        return
    bp.route(f"/{name}", methods=["POST"], endpoint=f"{name}_create")(
        _errors(bp.doc(security=security)(bp.response(201, rs.envelope(out))(
            bp.arguments(create_in, error_status_code=400)(create_item))), 409, 415))
    bp.route(f"/{name}/<int:item_id>", methods=["PATCH"], endpoint=f"{name}_update")(
        _errors(bp.doc(security=security)(bp.response(200, rs.envelope(out))(
            bp.arguments(patch_in, error_status_code=400)(update_item))), 404, 409, 415))


for _resource in rest.RESOURCES:
    _register(_resource)


@bp.route("/calls", methods=["GET"], endpoint="calls_list")
@bp.doc(security=[{"ApiKey": []}])
@bp.arguments(rs.CallQuery, location="query", unknown=RAISE, error_status_code=400)
@bp.response(200, rs.envelope(rs.CallOut, many=True))
@bp.alt_response(400, schema=ErrorOut, description="Invalid parameters")
@bp.alt_response(401, schema=ErrorOut, description="API Key invalide ou manquante")
def calls_list(args: dict[str, Any]):
    """List calls (metadata; filters, cursor pagination by start time)."""
    items, next_cursor = rest.calls_page(args)
    return answer({"success": True, "data": rs.CallOut(many=True).dump(items), "next_cursor": next_cursor})


@bp.route("/calls/<uuid:call_id>", methods=["GET"], endpoint="calls_get")
@bp.doc(security=[{"ApiKey": []}])
@bp.response(200, rs.envelope(rs.CallOut))
@bp.alt_response(401, schema=ErrorOut, description="API Key invalide ou manquante")
@bp.alt_response(404, schema=ErrorOut, description="Not found")
def calls_get(call_id):
    """Get one call's metadata."""
    return answer({"success": True, "data": rs.CallOut().dump(rest.get_call(call_id))})
