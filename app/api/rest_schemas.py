"""Schemas of the REST API v1 (I3): what each resource looks like, how it is created,
changed and filtered."""

from __future__ import annotations

import datetime as dt
import functools

from marshmallow import Schema, fields, pre_dump, validate

from app.api.schemas import StrictSchema, Text
from app.auth.models import Role
from app.campaigns.models import DialMode, StatusCategory

MAX_ID = 2**31 - 1
_id = {"strict": True, "validate": validate.Range(min=1, max=MAX_ID)}
_query_id = {"validate": validate.Range(min=1, max=MAX_ID)}  # query strings carry numbers as text


def _opt(max_len: int, **kw) -> Text:
    return Text(allow_none=True, validate=validate.Length(max=max_len), **kw)


class PageQuery(StrictSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=validate.Length(max=64),
                           metadata={"description": "next_cursor of the previous page"})


class CampaignQuery(PageQuery):
    active = fields.Boolean()
    name = Text(validate=validate.Length(max=120), metadata={"description": "contains, case-insensitive"})


class ListQuery(PageQuery):
    campaign_id = fields.Integer(**_query_id)
    active = fields.Boolean()


class LeadQuery(PageQuery):
    list_id = fields.Integer(**_query_id)
    status = Text(validate=validate.Length(max=20))
    phone_number = Text(validate=validate.Length(max=40))
    vendor_lead_code = Text(validate=validate.Length(max=64))


class UserQuery(PageQuery):
    role = fields.String(validate=validate.OneOf([r.value for r in Role]))
    active = fields.Boolean()
    group_id = fields.Integer(**_query_id)


class StatusQuery(PageQuery):
    campaign_id = fields.Integer(**_query_id)


class CampaignOut(Schema):
    id = fields.Integer()
    name = fields.String()
    active = fields.Boolean()
    prospecting = fields.Boolean()
    dial_mode = fields.String()
    created_at = fields.DateTime()
    archived_at = fields.DateTime(allow_none=True)


class CampaignIn(StrictSchema):
    name = Text(required=True, validate=validate.Length(min=1, max=120))
    active = fields.Boolean(load_default=True)
    prospecting = fields.Boolean(load_default=True)
    dial_mode = fields.String(load_default=DialMode.PROGRESSIF.value, validate=validate.OneOf([m.value for m in DialMode]))


class CampaignPatch(StrictSchema):
    name = Text(validate=validate.Length(min=1, max=120))
    active = fields.Boolean()
    prospecting = fields.Boolean()
    dial_mode = fields.String(validate=validate.OneOf([m.value for m in DialMode]))


class ListOut(Schema):
    id = fields.Integer()
    name = fields.String()
    campaign_id = fields.Integer()
    active = fields.Boolean()
    created_at = fields.DateTime()


class ListIn(StrictSchema):
    name = Text(required=True, validate=validate.Length(min=1, max=120))
    campaign_id = fields.Integer(required=True, **_id)
    active = fields.Boolean(load_default=True)


class ListPatch(StrictSchema):
    name = Text(validate=validate.Length(min=1, max=120))
    active = fields.Boolean()


_LEAD_TEXT = {"first_name": 100, "last_name": 100, "company": 200, "address1": 255, "address2": 255,
              "address3": 255, "city": 120, "state": 120, "province": 120, "postal_code": 20, "comments": 5000}


class LeadOut(Schema):
    id = fields.Integer()
    list_id = fields.Integer()
    status = fields.String()
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    company = fields.String(allow_none=True)
    phone_number = fields.String()
    alt_phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    address1 = fields.String(allow_none=True)
    address2 = fields.String(allow_none=True)
    address3 = fields.String(allow_none=True)
    city = fields.String(allow_none=True)
    state = fields.String(allow_none=True)
    province = fields.String(allow_none=True)
    postal_code = fields.String(allow_none=True)
    country_code = fields.String()
    comments = fields.String(allow_none=True)
    vendor_lead_code = fields.String()
    user_aff = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class _LeadOptionalFields(StrictSchema):
    """The optional lead fields, validated the same way on create and update."""

    alt_phone = _opt(40)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    user_aff = fields.Integer(allow_none=True, **_id)
    first_name = _opt(100)
    last_name = _opt(100)
    company = _opt(200)
    address1 = _opt(255)
    address2 = _opt(255)
    address3 = _opt(255)
    city = _opt(120)
    state = _opt(120)
    province = _opt(120)
    postal_code = _opt(20)
    comments = _opt(5000)


class LeadCreateIn(_LeadOptionalFields):
    list_id = fields.Integer(required=True, **_id)
    phone_number = Text(required=True, validate=validate.Length(min=1, max=40))
    status = Text(load_default="NEW", validate=validate.Length(min=1, max=20))
    country_code = Text(load_default="FR", validate=validate.Regexp(r"^[A-Za-z]{2}$"))
    vendor_lead_code = Text(validate=validate.Length(min=1, max=64))


class LeadPatch(_LeadOptionalFields):
    list_id = fields.Integer(**_id)
    phone_number = Text(validate=validate.Length(min=1, max=40))
    status = Text(validate=validate.Length(min=1, max=20))
    country_code = Text(validate=validate.Regexp(r"^[A-Za-z]{2}$"))


class UserOut(Schema):
    id = fields.Integer()
    email = fields.String()
    display_name = fields.String()
    role = fields.String()
    level = fields.Integer()
    active = fields.Boolean()
    group_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class UserIn(StrictSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    display_name = Text(required=True, validate=validate.Length(min=1, max=120))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    # Level 10 is the platform's; an API key never grants it.
    level = fields.Integer(validate=validate.Range(min=1, max=9))
    group_id = fields.Integer(allow_none=True, **_id)
    password = fields.String(validate=validate.Length(min=10, max=200), load_only=True,
                             metadata={"description": "optional: without one the user sets it by 'forgot password'"})


class UserPatch(StrictSchema):
    display_name = Text(validate=validate.Length(min=1, max=120))
    role = fields.String(validate=validate.OneOf([r.value for r in Role]))
    level = fields.Integer(validate=validate.Range(min=1, max=9))
    group_id = fields.Integer(allow_none=True, **_id)
    active = fields.Boolean()


class CallQuery(StrictSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    campaign_id = fields.Integer(**_query_id)
    lead_id = fields.Integer(validate=validate.Range(min=1, max=2**63 - 1))
    agent_id = fields.Integer(**_query_id)
    direction = fields.String(validate=validate.OneOf(["outbound", "inbound"]))
    started_after = fields.AwareDateTime(default_timezone=dt.UTC)
    started_before = fields.AwareDateTime(default_timezone=dt.UTC)


class CallOut(Schema):
    id = fields.UUID()
    campaign_id = fields.Integer(allow_none=True)
    lead_id = fields.Integer(allow_none=True)
    agent_id = fields.Integer(allow_none=True)
    direction = fields.String()
    phone_number = fields.String()
    caller_id = fields.String(allow_none=True)
    state = fields.String()
    cause = fields.String(allow_none=True)
    disposition = fields.String(allow_none=True)
    is_machine = fields.Boolean(allow_none=True)
    abandoned = fields.Boolean()
    started_at = fields.DateTime()
    answered_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    ring_s = fields.Float(allow_none=True)
    talk_s = fields.Float(allow_none=True)
    wrapup_s = fields.Float(allow_none=True)


class RecordingQuery(PageQuery):
    call_id = fields.UUID()
    status = fields.String(validate=validate.Length(max=12))


class RecordingOut(Schema):
    """One part of a call's recording: a call is cut into parts at each transfer and
    when a part reaches the account's maximum length; ``parts`` counts them (one
    query per page)."""

    id = fields.Integer()
    call_id = fields.UUID()
    part = fields.Integer(metadata={"description": "1, 2, ...: this file's place in the call's recording"})
    parts = fields.Integer(metadata={"description": "How many parts the call's recording has so far"})
    started_at = fields.DateTime(allow_none=True,
                                 metadata={"description": "When this part began (null for part 1: at the answer)"})
    status = fields.String()
    format = fields.String()
    duration_s = fields.Float(allow_none=True)
    size_bytes = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    converted_at = fields.DateTime(allow_none=True)

    @pre_dump(pass_collection=True)
    def _count_parts(self, data, many: bool, **kwargs):
        from app.api.rest import recording_part_counts  # rest imports this module

        rows = list(data) if many else [data]
        counts = recording_part_counts({row.call_id for row in rows})
        out = [{**{name: getattr(row, name) for name in self.dump_fields if name != "parts"},
                "parts": counts.get(row.call_id, row.part)} for row in rows]
        return out if many else out[0]


_FLAGS = ("sale", "answering_machine", "callback", "not_interested", "final", "not_treatable")


class CampaignStatusOut(Schema):
    id = fields.Integer()
    campaign_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    category = fields.String()
    sale = fields.Boolean()
    answering_machine = fields.Boolean()
    callback = fields.Boolean()
    not_interested = fields.Boolean()
    final = fields.Boolean()
    not_treatable = fields.Boolean()
    system = fields.Boolean()
    position = fields.Integer()


class CampaignStatusIn(StrictSchema):
    campaign_id = fields.Integer(required=True, **_id)
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9]{1,3}$"))
    name = Text(required=True, validate=validate.Length(min=1, max=80))
    category = fields.String(load_default=StatusCategory.COMMERCIAL.value,
                             validate=validate.OneOf([c.value for c in StatusCategory if c != StatusCategory.SYSTEM]))
    sale = fields.Boolean(load_default=False)
    answering_machine = fields.Boolean(load_default=False)
    callback = fields.Boolean(load_default=False)
    not_interested = fields.Boolean(load_default=False)
    final = fields.Boolean(load_default=False)
    not_treatable = fields.Boolean(load_default=False)
    position = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0, max=10000))


class CampaignStatusPatch(StrictSchema):
    name = Text(validate=validate.Length(min=1, max=80))
    category = fields.String(validate=validate.OneOf([c.value for c in StatusCategory if c != StatusCategory.SYSTEM]))
    sale = fields.Boolean()
    answering_machine = fields.Boolean()
    callback = fields.Boolean()
    not_interested = fields.Boolean()
    final = fields.Boolean()
    not_treatable = fields.Boolean()
    position = fields.Integer(strict=True, validate=validate.Range(min=0, max=10000))


@functools.cache
def envelope(item_schema: type[Schema], many: bool = False) -> type[Schema]:
    """``{"success": true, "data": ...}`` (plus ``next_cursor`` for lists) around a resource."""
    attrs: dict[str, fields.Field] = {"success": fields.Boolean(),
                                      "data": fields.List(fields.Nested(item_schema)) if many
                                      else fields.Nested(item_schema)}
    if many:
        attrs["next_cursor"] = fields.String(allow_none=True)
    name = item_schema.__name__.removesuffix("Out") + ("Page" if many else "Item")
    return Schema.from_dict(attrs, name=name)
