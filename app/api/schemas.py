"""Marshmallow schemas of every public API: validation of what comes in and the
OpenAPI description of what goes out."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate


class Text(fields.String):
    """A string that also takes a number (integrators send ``"user_aff": 12``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool):
            raise ValidationError("Not a valid string.")
        if isinstance(value, int | float):
            value = str(value)
        result = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in result:
            # PostgreSQL text cannot hold NUL: refuse it here rather than fail there
            raise ValidationError("NUL characters are not allowed.")
        return result.strip()


def _text(max_len: int, required: bool = False, **kw: Any) -> Text:
    min_len = 1 if required else 0
    return Text(required=required, validate=validate.Length(min=min_len, max=max_len), **kw)


def _optional(max_len: int) -> Text:
    return Text(load_default=None, allow_none=True, validate=validate.Length(max=max_len))


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class LeadIn(StrictSchema):
    """One lead of the import API (guide: champs obligatoires / optionnels)."""

    user_group = _text(40, required=True, metadata={"description": "Groupe (instance) de destination", "example": "1swis"})
    user_aff = _text(254, required=True, metadata={"description": "Agent (id ou email) ou groupe affecté",
                                                   "example": "1swis"})
    status = _text(20, required=True, metadata={"description": "Statut initial", "example": "NEW"})
    first_name = _text(100, required=True, metadata={"example": "Jean"})
    last_name = _text(100, required=True, metadata={"example": "Dupont"})
    phone_number = _text(40, required=True, metadata={"example": "0612345678"})
    list_id = fields.Integer(required=True, strict=False, validate=validate.Range(min=1, max=2**31 - 1),
                             metadata={"example": 1001296})
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    alt_phone = _optional(40)
    address1 = _optional(255)
    address2 = _optional(255)
    address3 = _optional(255)
    city = _optional(120)
    state = _optional(120)
    province = _optional(120)
    postal_code = _optional(20)
    country_code = Text(load_default="FR", validate=validate.Regexp(r"^[A-Za-z]{2}$"),
                        metadata={"description": "Code pays ISO (défaut : FR)"})
    comments = _optional(5000)
    vendor_lead_code = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64),
                            metadata={"description": "Code externe (généré si absent : EXT-<ms>-<8 hex>)"})


class LeadBatchIn(StrictSchema):
    leads = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1, max=100),
                        metadata={"description": "1 à 100 leads (LeadIn); un tableau JSON nu est aussi accepté"})


class LeadCreatedData(Schema):
    lead_id = fields.Integer()
    affectation_id = fields.Integer()
    vendor_lead_code = fields.String()
    list_id = fields.Integer()
    list_name = fields.String()
    campaign_id = fields.String()
    user_aff = fields.String()
    status = fields.String()
    red_listed = fields.Boolean()


class LeadCreatedOut(Schema):
    success = fields.Boolean()
    message = fields.String()
    data = fields.Nested(LeadCreatedData)
    warnings = fields.List(fields.String())


class BatchItemOut(Schema):
    index = fields.Integer()
    success = fields.Boolean()
    data = fields.Nested(LeadCreatedData)
    error = fields.String()
    errors = fields.Dict()


class BatchData(Schema):
    total = fields.Integer()
    created = fields.Integer()
    failed = fields.Integer()
    results = fields.List(fields.Nested(BatchItemOut))


class BatchOut(Schema):
    success = fields.Boolean()
    message = fields.String()
    data = fields.Nested(BatchData)


class ErrorOut(Schema):
    success = fields.Boolean(metadata={"example": False})
    error = fields.String()
    errors = fields.Dict()


class ValidateData(Schema):
    key_name = fields.String()
    scope = fields.String()
    tenant = fields.String()


class ValidateOut(Schema):
    success = fields.Boolean()
    message = fields.String()
    data = fields.Nested(ValidateData)


class Click2CallIn(StrictSchema):
    number_to_call = _text(40, required=True, metadata={"example": "0601020304"})
    phone_line_used = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=32),
                           metadata={"example": "8001", "description": "Optionnel : ligne du pool à utiliser"})


class Click2CallData(Schema):
    call_id = fields.Integer()
    phone_line_used = fields.String()
    number_called = fields.String()
    group = fields.String()
    response_time_ms = fields.Integer()


class Click2CallOut(Schema):
    success = fields.Boolean()
    message = fields.String()
    call_id = fields.Integer()
    phone_line_used = fields.String()
    data = fields.Nested(Click2CallData)


class PublicStatusData(Schema):
    group = fields.String()
    strategy = fields.String()
    lines_total = fields.Integer()
    lines_available = fields.Integer()
    last_hour = fields.Dict()
    rate_limit = fields.Dict()


class PublicStatusOut(Schema):
    success = fields.Boolean()
    data = fields.Nested(PublicStatusData)
