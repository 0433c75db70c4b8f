"""What the JSON API reads and writes about leads, imports, activities and calls.

The same schemas validate requests and describe them in /api/openapi.json. String
lengths are the columns' sizes, so a request the database would refuse is a 422.
"""

from __future__ import annotations

import json

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from app.api import ApiSchema, UtcDateTime, has_nul
from leads.capture import FIELD_LIMITS
from leads.dispositions import MAX_CALL_SECONDS
from leads.mapping import ColumnMapping, Target
from leads.models import DuplicatePolicy, ImportStatus, LeadStatus

MAX_PAGE = 100
ID = {"validate": validate.Range(min=1, max=2**31 - 1)}


def _text(size: int, **kwargs) -> ma.fields.String:
    return ma.fields.String(validate=validate.Length(max=size), **kwargs)


def _nullable_text(size: int) -> ma.fields.String:
    return _text(size, allow_none=True)


class PageArgs(ApiSchema):
    after = ma.fields.Integer(
        metadata={"description": "Continue after this id (the previous page's next_cursor)"}, **ID
    )
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE))


class LeadSchema(ApiSchema):
    id = ma.fields.Integer()
    first_name = ma.fields.String(allow_none=True)
    last_name = ma.fields.String(allow_none=True)
    full_name = ma.fields.String(allow_none=True)
    company = ma.fields.String(allow_none=True)
    title = ma.fields.String(allow_none=True)
    phone = ma.fields.String(attribute="phone_raw", allow_none=True)
    phone_e164 = ma.fields.String(allow_none=True)
    email = ma.fields.String(attribute="email_raw", allow_none=True)
    email_normalized = ma.fields.String(attribute="email", allow_none=True)
    time_zone = ma.fields.String(allow_none=True)
    city = ma.fields.String(allow_none=True)
    state = ma.fields.String(allow_none=True)
    country = ma.fields.String(allow_none=True)
    birthday = ma.fields.Date(allow_none=True)
    website = ma.fields.String(allow_none=True)
    linkedin_url = ma.fields.String(allow_none=True)
    x_url = ma.fields.String(allow_none=True)
    other_profile_url = ma.fields.String(allow_none=True)
    notes = ma.fields.String(allow_none=True)
    source = ma.fields.String(allow_none=True)
    external_id = ma.fields.String(allow_none=True)
    custom_fields = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw())
    status = ma.fields.String(validate=validate.OneOf([s.value for s in LeadStatus]))
    owner_id = ma.fields.Integer(allow_none=True)
    list_id = ma.fields.Integer(allow_none=True)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class LeadPageSchema(ApiSchema):
    items = ma.fields.List(ma.fields.Nested(LeadSchema))
    next_cursor = ma.fields.Integer(allow_none=True)


class LeadSearchArgs(PageArgs):
    q = _text(200, metadata={"description": "Name, company, email or phone, by prefix"})
    list_id = ma.fields.Integer(**ID)
    owner = ma.fields.String(
        validate=validate.Regexp(r"^(me|none|[1-9][0-9]{0,8})$"),
        metadata={"description": "me, none, or a user id"},
    )
    status = ma.fields.String(validate=validate.OneOf([s.value for s in LeadStatus]))
    time_zone = _text(64)


class LeadCreateSchema(ApiSchema):
    list_id = ma.fields.Integer(required=True, **ID)
    first_name = _text(FIELD_LIMITS["first_name"])
    last_name = _text(FIELD_LIMITS["last_name"])
    email = _text(FIELD_LIMITS["email"])
    phone = _text(FIELD_LIMITS["phone"])
    company = _text(FIELD_LIMITS["company"])


class LeadCreatedSchema(ApiSchema):
    status = ma.fields.String(validate=validate.OneOf(["created", "updated"]))
    suppressed = ma.fields.Boolean(
        metadata={"description": "The person is on the do-not-contact list"}
    )
    lead = ma.fields.Nested(LeadSchema)


class LeadUpdateSchema(ApiSchema):
    """Only the fields sent change; null empties a field."""

    first_name = _nullable_text(120)
    last_name = _nullable_text(120)
    full_name = _nullable_text(250)
    company = _nullable_text(250)
    title = _nullable_text(250)
    city = _nullable_text(120)
    state = _nullable_text(120)
    phone = _nullable_text(64)
    email = _nullable_text(320)
    country = _nullable_text(60)
    birthday = ma.fields.Date(allow_none=True)
    website = _nullable_text(500)
    linkedin_url = _nullable_text(500)
    x_url = _nullable_text(500)
    other_profile_url = _nullable_text(500)
    notes = _nullable_text(20_000)
    source = _nullable_text(120)
    external_id = _nullable_text(200)
    custom_fields = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Length(min=1, max=100)),
        values=ma.fields.String(validate=validate.Length(max=1000)),
        validate=validate.Length(max=100),
    )
    status = ma.fields.String(validate=validate.OneOf([s.value for s in LeadStatus]))
    owner_id = ma.fields.Integer(allow_none=True, **ID)
    list_id = ma.fields.Integer(allow_none=True, **ID)


class ActivitySchema(ApiSchema):
    id = ma.fields.Integer()
    type = ma.fields.String()
    occurred_at = UtcDateTime()
    summary = ma.fields.String()
    actor_id = ma.fields.Integer(allow_none=True)
    data = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw())


class ActivityListSchema(ApiSchema):
    items = ma.fields.List(ma.fields.Nested(ActivitySchema))


class ActivityArgs(ApiSchema):
    limit = ma.fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class IdempotencyHeader(ApiSchema):
    # Headers arrive with their own capitalization; webargs reads them case-blind.
    idempotency_key = ma.fields.String(
        data_key="Idempotency-Key",
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Any unique text; a retried request with it records once"},
    )


class DispositionSchema(ApiSchema):
    outcome = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "An outcome key, such as no_answer, voicemail or qualified"},
    )
    note = _text(5000, load_default="")
    duration_seconds = ma.fields.Integer(
        load_default=0, validate=validate.Range(min=0, max=MAX_CALL_SECONDS)
    )
    callback_at = _text(
        40,
        load_default="",
        metadata={"description": "For call_back: YYYY-MM-DDTHH:MM in the lead's local time"},
    )


class DispositionResultSchema(ApiSchema):
    result = ma.fields.String(validate=validate.OneOf(["recorded", "already_recorded"]))
    lead_id = ma.fields.Integer()
    outcome = ma.fields.String(allow_none=True)


class MappingField(ma.fields.Field):
    """The column mapping, as JSON text in the form: one entry per column of the file,
    in order: ``[{"target": "email"}, {"target": "custom", "custom": "Score"}, ...]``."""

    def _deserialize(self, value, attr, data, **kwargs) -> list[ColumnMapping]:
        try:
            entries = json.loads(value) if isinstance(value, str) else None
        except ValueError:
            entries = None
        if not isinstance(entries, list) or not entries or has_nul(entries):
            raise ma.ValidationError("Send a JSON list with one {target, custom} per column.")
        mapping = []
        for number, entry in enumerate(entries, start=1):
            target = entry.get("target") if isinstance(entry, dict) else None
            custom = entry.get("custom") if isinstance(entry, dict) else None
            if target not in {t.value for t in Target}:
                raise ma.ValidationError(
                    f"Column {number}: target must be one of {', '.join(Target)}."
                )
            mapping.append(
                ColumnMapping(Target(target), custom if isinstance(custom, str) else None)
            )
        return mapping


class ImportStartForm(ApiSchema):
    file = Upload(required=True, metadata={"description": "A .csv or .xlsx file"})
    mapping = MappingField(
        metadata={
            "type": "string",
            "description": "JSON list of {target, custom} per column; omitted: suggested",
        }
    )
    list_id = ma.fields.Integer(**ID)
    source = _text(120)
    duplicate_policy = ma.fields.String(
        load_default=DuplicatePolicy.SKIP.value,
        validate=validate.OneOf([p.value for p in DuplicatePolicy]),
    )


class ImportRunSchema(ApiSchema):
    id = ma.fields.Integer()
    status = ma.fields.String(validate=validate.OneOf([s.value for s in ImportStatus]))
    original_name = ma.fields.String()
    list_id = ma.fields.Integer(allow_none=True)
    total_estimate = ma.fields.Integer(allow_none=True)
    processed = ma.fields.Integer()
    created = ma.fields.Integer()
    updated = ma.fields.Integer()
    skipped = ma.fields.Integer()
    suppressed = ma.fields.Integer()
    errors = ma.fields.Integer()
    created_at = UtcDateTime()
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
