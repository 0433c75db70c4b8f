"""JSON API for deals in the pipeline database: list, read, edit, move between stages.

The board's services do the work (`sync.pipeline`), so a move through the API is
logged and carried back to the lead exactly as one on the board.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import abort
from marshmallow import validate

from app.api import ApiBlueprint, ApiSchema, UtcDateTime, api_user, documented_errors, requires
from app.extensions import db
from app.models import Role
from sync.jobs import flow_back
from sync.models import Deal, Stage, StageOutcome
from sync.pipeline import DealChanges, DealError, get_visible_deal, move_deal, visible_deals
from sync.pipeline import update_deal as apply_deal_changes

DEAL_ROLES = (Role.ADMIN, Role.MANAGER, Role.REP)
ID = {"validate": validate.Range(min=1, max=2**31 - 1)}

blp = ApiBlueprint("api_deals", __name__, url_prefix="/api", description="Deals in the pipeline")


class DealSchema(ApiSchema):
    id = ma.fields.Integer()
    title = ma.fields.String()
    value = ma.fields.String(metadata={"description": "A decimal amount, such as 12500.00"})
    currency = ma.fields.String()
    pipeline_id = ma.fields.Integer()
    stage_id = ma.fields.Integer()
    stage = ma.fields.String(attribute="stage.name")
    outcome = ma.fields.String(validate=validate.OneOf([o.value for o in StageOutcome]))
    lost_reason = ma.fields.String(allow_none=True)
    lead_id = ma.fields.Integer()
    account_id = ma.fields.Integer()
    contact_id = ma.fields.Integer()
    owner_id = ma.fields.Integer(allow_none=True)
    expected_close = ma.fields.Date(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class DealPageSchema(ApiSchema):
    items = ma.fields.List(ma.fields.Nested(DealSchema))
    next_cursor = ma.fields.Integer(allow_none=True)


class DealSearchArgs(ApiSchema):
    pipeline_id = ma.fields.Integer(**ID)
    stage_id = ma.fields.Integer(**ID)
    outcome = ma.fields.String(validate=validate.OneOf([o.value for o in StageOutcome]))
    after = ma.fields.Integer(**ID)
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))


class DealUpdateSchema(ApiSchema):
    """Only the fields sent change."""

    stage_id = ma.fields.Integer(**ID)
    lost_reason = ma.fields.String(
        validate=validate.Length(max=500), metadata={"description": "Required to move to lost"}
    )
    title = ma.fields.String(validate=validate.Length(min=1, max=250))
    value = ma.fields.String(validate=validate.Length(max=20))
    currency = ma.fields.String(validate=validate.Length(max=3))
    expected_close = ma.fields.Date(allow_none=True)


@blp.route("/deals", methods=["GET"])
@requires("deals:read", *DEAL_ROLES)
@blp.arguments(DealSearchArgs, location="query")
@blp.response(200, DealPageSchema)
@documented_errors(blp)
def list_deals(args: dict[str, Any]):
    """Deals visible to the token's user (a rep's own; the workspace's for managers),
    newest first, a page at a time."""
    query = visible_deals(api_user())
    for name in ("pipeline_id", "stage_id", "outcome"):
        if name in args:
            query = query.where(getattr(Deal, name) == args[name])
    if "after" in args:
        query = query.where(Deal.id < args["after"])
    limit = args["limit"]
    deals = list(db.session.scalars(query.order_by(Deal.id.desc()).limit(limit + 1)))
    more = len(deals) > limit
    deals = deals[:limit]
    return {"items": deals, "next_cursor": deals[-1].id if more else None}


def _deal_or_404(deal_id: int) -> Deal:
    deal = get_visible_deal(api_user(), deal_id)
    if deal is None:
        abort(404, message="No deal with this id is visible to you.")
    return deal


@blp.route("/deals/<int(min=1, max=2147483647):deal_id>", methods=["GET"])
@requires("deals:read", *DEAL_ROLES)
@blp.response(200, DealSchema)
@documented_errors(blp, 404)
def get_deal(deal_id: int):
    """One deal."""
    return _deal_or_404(deal_id)


@blp.route("/deals/<int(min=1, max=2147483647):deal_id>", methods=["PATCH"])
@requires("deals:write", *DEAL_ROLES)
@blp.arguments(DealUpdateSchema)
@blp.response(200, DealSchema)
@documented_errors(blp, 404, 422)
def update_deal(patch: dict[str, Any], deal_id: int):
    """Edit a deal's name, value, currency or expected close, or move it to another stage
    of its pipeline (won and lost stages close it; lost needs a reason)."""
    user = api_user()
    deal = _deal_or_404(deal_id)
    editing = {"title", "value", "currency", "expected_close"} & patch.keys()
    if editing:
        expected = patch.get("expected_close", deal.expected_close)
        changes = DealChanges(
            title=patch.get("title", deal.title),
            value=patch.get("value", str(deal.value)),
            currency=patch.get("currency", deal.currency),
            expected_close=expected.isoformat() if expected else "",
        )
        if problems := apply_deal_changes(deal, changes, user):
            db.session.rollback()
            abort(422, message="Some fields are not valid.", errors=problems)
    if "stage_id" in patch:
        stage = db.session.get(Stage, patch["stage_id"])
        try:
            if stage is None or stage.pipeline_id != deal.pipeline_id:
                raise DealError("Choose a stage of this deal's pipeline.")
            move_deal(deal, stage, user, patch.get("lost_reason"))
        except DealError as problem:
            db.session.rollback()
            abort(422, message=str(problem), errors={"stage_id": [str(problem)]})
    db.session.commit()
    flow_back()
    return deal
