"""Lead import API (I1), exactly as the product guide documents it."""

from __future__ import annotations

from flask_smorest import Blueprint

from app.api import idempotency, leads, messages
from app.api.auth import authenticate_api_key
from app.api.http import ApiError, answer, install_api_blueprint, json_body
from app.api.models import ApiScope
from app.api.schemas import BatchOut, ErrorOut, LeadBatchIn, LeadCreatedOut, LeadIn, ValidateOut

bp = Blueprint("api_external", __name__, url_prefix="/api/external",
               description="Import de leads depuis des sites web, CRM externes ou applications tierces "
                           "(en-tête X-API-Key).")
install_api_blueprint(bp)

_ERRORS = {"400": "Requête invalide", "401": "API Key invalide ou manquante", "403": "Compte suspendu ou clé en "
           "lecture seule", "413": "Corps trop volumineux", "415": "Content-Type incorrect",
           "422": "Idempotency-Key réutilisée pour une autre requête"}


def _document_errors(view):
    for code, text in _ERRORS.items():
        view = bp.alt_response(int(code), schema=ErrorOut, description=text)(view)
    return view


@bp.route("/validate", methods=["GET"])
@bp.response(200, ValidateOut)
@bp.alt_response(401, schema=ErrorOut, description="API Key invalide ou manquante")
@bp.doc(security=[{"ApiKey": []}])
def validate():
    """Valider l'API Key: vérifie si votre API Key est valide et active."""
    key = authenticate_api_key(ApiScope.READ)
    return answer({"success": True, "message": messages.API_KEY_VALID,
                   "data": {"key_name": key.name, "scope": key.scope, "tenant": key.tenant_slug}})


@bp.route("/leads", methods=["POST"])
@bp.doc(requestBody={"required": True, "content": {"application/json": {"schema": LeadIn}}},
        security=[{"ApiKey": []}],
        parameters=[{"in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string",
                     "maxLength": 255}, "description": "Rejouer une requête sans créer de doublon"}])
@bp.response(201, LeadCreatedOut)
@_document_errors
def create_lead():
    """Créer un lead: crée un nouveau lead dans le système."""
    key = authenticate_api_key(ApiScope.WRITE)
    record, replay = idempotency.begin(key)
    if replay is not None:
        return answer(replay.body, replay.status, {"Idempotent-Replayed": "true"})
    raw = json_body()
    try:
        created = leads.import_one(raw, key)
    except leads.LeadRejected as rejected:
        raise ApiError(400, messages.LEAD_INVALID, rejected.errors) from None
    body = {"success": True, "message": messages.LEAD_CREATED, "data": created.data}
    if created.warnings:
        body["warnings"] = created.warnings
    idempotency.complete(record, 201, body)
    return answer(body, 201)


@bp.route("/leads/batch", methods=["POST"])
@bp.doc(requestBody={"required": True, "content": {"application/json": {"schema": LeadBatchIn}}},
        security=[{"ApiKey": []}],
        parameters=[{"in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string",
                     "maxLength": 255}}])
@bp.response(200, BatchOut)
@_document_errors
def create_batch():
    """Import par lot: jusqu'à 100 leads, résultat par lead (les leads valides sont créés)."""
    key = authenticate_api_key(ApiScope.WRITE)
    record, replay = idempotency.begin(key)
    if replay is not None:
        return answer(replay.body, replay.status, {"Idempotent-Replayed": "true"})
    try:
        items = leads.batch_items(json_body())
    except leads.LeadRejected as rejected:
        raise ApiError(400, messages.BATCH_SHAPE, rejected.errors) from None
    if not items:
        raise ApiError(400, messages.BATCH_EMPTY)
    if len(items) > leads.MAX_BATCH:
        raise ApiError(400, messages.BATCH_TOO_LARGE)
    results = leads.import_batch(items, key)
    created = sum(1 for r in results if r["success"])
    failed = len(results) - created
    body = {"success": failed == 0, "message": messages.LEADS_CREATED % {"created": created, "failed": failed},
            "data": {"total": len(results), "created": created, "failed": failed, "results": results}}
    # Nothing created: the request failed as a whole (and wrote nothing).
    status = 200 if created else 400
    if created:
        idempotency.complete(record, status, body)
    return answer(body, status)
