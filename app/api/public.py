"""Click-to-call API (I2), exactly as the product guide documents it, with CORS for
browser callers (per-group allow-list checked on the actual request)."""

from __future__ import annotations

import time

from flask import Response, g, request
from flask_smorest import Blueprint

from app.api import click2call, messages
from app.api.auth import authenticate_click2call
from app.api.http import ApiError, answer, client_ip, install_api_blueprint, json_body
from app.api.schemas import Click2CallIn, Click2CallOut, ErrorOut, PublicStatusOut

bp = Blueprint("api_public", __name__, url_prefix="/api/public",
               description="Click-to-call : lancer des appels depuis des applications externes "
                           "(Authorization: Bearer <token>).")
install_api_blueprint(bp)

CORS_MAX_AGE_S = 600


@bp.after_request
def cors_headers(response):
    origin = request.headers.get("Origin")
    if origin and response.status_code != 403:
        # The group's allow-list was applied to this request already (403 otherwise).
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After, X-Request-Id"
    response.vary.add("Origin")
    return response


@bp.route("/click2call", methods=["OPTIONS"])
@bp.route("/status", methods=["OPTIONS"])
@bp.doc(hide=True)
def preflight():
    """CORS preflight. It carries no token, so the group (and its allow-list) is not
    known yet: the preflight is granted and the actual request is checked."""
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_S)
    return response


@bp.route("/click2call", methods=["POST"], provide_automatic_options=False)
@bp.doc(requestBody={"required": True, "content": {"application/json": {"schema": Click2CallIn}}},
        security=[{"Bearer": []}])
@bp.response(200, Click2CallOut)
@bp.alt_response(400, schema=ErrorOut, description="Ligne non disponible ou non autorisée, numéro invalide")
@bp.alt_response(401, schema=ErrorOut, description="API Token invalide")
@bp.alt_response(403, schema=ErrorOut, description="Domaine non autorisé")
@bp.alt_response(422, schema=ErrorOut, description="Numéro en liste rouge ou Bloctel")
@bp.alt_response(429, schema=ErrorOut, description="Rate limit dépassé")
@bp.alt_response(502, schema=ErrorOut, description="Échec du lancement de l'appel")
@bp.alt_response(503, schema=ErrorOut, description="Aucune ligne disponible")
def click2call_view():
    """Lancer un appel: fait sonner une ligne du pool du groupe et appelle le numéro."""
    started = g.get("started") or time.perf_counter()
    token = authenticate_click2call()
    try:
        raw = json_body()
    except ApiError:
        raw = None
    outcome = click2call.place_call(token, raw, ip=client_ip(), origin=request.headers.get("Origin"),
                                    started=started)
    return answer(outcome.body, outcome.status)


@bp.route("/status", methods=["GET"], provide_automatic_options=False)
@bp.doc(security=[{"Bearer": []}])
@bp.response(200, PublicStatusOut)
@bp.alt_response(401, schema=ErrorOut, description="API Token invalide")
@bp.alt_response(403, schema=ErrorOut, description="Domaine non autorisé")
def status():
    """Statut en temps réel: lignes disponibles, stratégie, stats de la dernière heure, rate limit restant."""
    token = authenticate_click2call()
    if not click2call.origin_allowed(click2call.settings_for(token.group_id), request.headers.get("Origin")):
        raise ApiError(403, messages.ORIGIN_FORBIDDEN)
    return answer({"success": True, "data": click2call.status(token)})
