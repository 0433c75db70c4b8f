"""JSON API for leads, their activities, call outcomes and imports.

Thin views over the services the pages use: leads are created through the capture
path (normalize, dedupe by the unique constraints, rotation), edited through the
lead form's checks, called through the dial screen's disposition, imported by the
importer. Every query goes through the user's lead scoping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import request
from flask_smorest import abort
from sqlalchemy.exc import IntegrityError

from app.api import ApiBlueprint, api_user, documented_errors, requires
from app.extensions import db
from app.models import Role, User
from leads.api_schemas import (
    ActivityArgs,
    ActivityListSchema,
    DispositionResultSchema,
    DispositionSchema,
    IdempotencyHeader,
    ImportRunSchema,
    ImportStartForm,
    LeadCreatedSchema,
    LeadCreateSchema,
    LeadPageSchema,
    LeadSchema,
    LeadSearchArgs,
    LeadUpdateSchema,
)
from leads.capture import CAPTURE_FIELDS, RequestInfo, capture_lead
from leads.dispositions import (
    Disposition,
    DispositionError,
    Result,
    announce,
    dispose_lead,
)
from leads.editing import NAME_FIELDS, PLAIN_FIELDS, LeadInput, check_lead, save_lead
from leads.imports import UploadError, source_path, start_mapped_run, store_upload
from leads.models import DuplicatePolicy, ImportRun, Lead, LeadList
from leads.queries import LeadFilters, filtered_leads, get_visible_lead
from leads.timeline import timeline

IMPORTERS = (Role.ADMIN, Role.MANAGER, Role.MARKETER)
API_SOURCE = "API"

blp = ApiBlueprint("api_leads", __name__, url_prefix="/api", description="Leads, calls and imports")


def _visible_lead_or_404(lead_id: int) -> Lead:
    lead = get_visible_lead(api_user(), lead_id)
    if lead is None:
        abort(404, message="No lead with this id is visible to you.")
    return lead


def _workspace_list(user: User, list_id: int | None) -> LeadList | None:
    if list_id is None:
        return None
    found = db.session.get(LeadList, list_id)
    if found is None or found.workspace_id != user.workspace_id:
        abort(422, message="Unknown list.", errors={"list_id": ["No such list."]})
    return found


@blp.route("/leads", methods=["GET"])
@requires("leads:read")
@blp.arguments(LeadSearchArgs, location="query", as_kwargs=True)
@blp.response(200, LeadPageSchema)
@documented_errors(blp)
def search_leads(after: int | None = None, limit: int = 50, **filters: Any):
    """Search the leads visible to the token's user, newest first, a page at a time."""
    user = api_user()
    query = filtered_leads(user, LeadFilters(**filters))
    if after is not None:
        query = query.where(Lead.id < after)
    leads = list(db.session.scalars(query.order_by(Lead.id.desc()).limit(limit + 1)))
    more = len(leads) > limit
    leads = leads[:limit]
    return {"items": leads, "next_cursor": leads[-1].id if more else None}


@blp.route("/leads", methods=["POST"])
@requires("leads:write", *IMPORTERS)
@blp.arguments(LeadCreateSchema)
@blp.response(201, LeadCreatedSchema)
@blp.alt_response(200, schema=LeadCreatedSchema, description="A known person, filled in")
@documented_errors(blp, 422)
def create_lead(body: dict[str, Any]):
    """Add a person to a list as the capture form does: normalized, deduplicated (a known
    person's empty fields are filled in), checked against do-not-contact, rotated."""
    user = api_user()
    lead_list = _workspace_list(user, body["list_id"])
    fields = {name: body.get(name) or "" for name in CAPTURE_FIELDS}
    origin = RequestInfo(request.remote_addr, request.user_agent.string or None, None)
    result = capture_lead(
        lead_list, fields, None, origin, source=API_SOURCE,
        summary=f"Added through the API by {user.name} to {lead_list.name}",
    )  # fmt: skip
    if result.errors:
        abort(422, message="Some fields are not valid.", errors=result.errors)
    if result.lead_id is None:  # capture stores nothing of a person erased on request
        abort(422, message="This person was erased on request and may not be stored again.")
    lead = db.session.get(Lead, result.lead_id)
    body = {"status": result.status, "suppressed": result.suppressed, "lead": lead}
    return body, 201 if result.status == "created" else 200


@blp.route("/leads/<int(min=1, max=2147483647):lead_id>", methods=["GET"])
@requires("leads:read")
@blp.response(200, LeadSchema)
@documented_errors(blp, 404)
def get_lead(lead_id: int):
    """One lead visible to the token's user."""
    return _visible_lead_or_404(lead_id)


def _form_values(lead: Lead) -> dict[str, Any]:
    """The lead as the edit form would show it, so a patch changes only what it names."""
    values = {name: getattr(lead, name) for name in (*NAME_FIELDS, *PLAIN_FIELDS)}
    values.update(
        phone=lead.phone_raw, email=lead.email_raw, country=lead.country,
        birthday=lead.birthday, status=lead.status, owner_id=lead.owner_id, list_id=lead.list_id,
    )  # fmt: skip
    return values


def _check_people(user: User, lead: Lead, patch: dict[str, Any]) -> None:
    if "owner_id" in patch and patch["owner_id"] != lead.owner_id:
        if not user.sees_all_leads:
            abort(403, message="Only admins, managers and marketers reassign leads.")
        owner = db.session.get(User, patch["owner_id"]) if patch["owner_id"] else None
        if patch["owner_id"] and (
            owner is None or owner.workspace_id != user.workspace_id or not owner.active
        ):
            abort(422, message="Unknown owner.", errors={"owner_id": ["No such active user."]})
    if patch.get("list_id") is not None:
        _workspace_list(user, patch["list_id"])


@blp.route("/leads/<int(min=1, max=2147483647):lead_id>", methods=["PATCH"])
@requires("leads:write")
@blp.arguments(LeadUpdateSchema)
@blp.response(200, LeadSchema)
@documented_errors(blp, 404, 409, 422)
def update_lead(patch: dict[str, Any], lead_id: int):
    """Change some of a lead's fields, normalized and checked as on the lead form."""
    user = api_user()
    lead = _visible_lead_or_404(lead_id)
    _check_people(user, lead, patch)
    values = _form_values(lead) | {k: v for k, v in patch.items() if k != "custom_fields"}
    custom = patch.get("custom_fields", lead.custom_fields)
    problems, columns = check_lead(lead, LeadInput(values, custom), user.workspace.default_region)
    if problems:
        abort(422, message="Some fields are not valid.", errors=problems.by_field)
    save_lead(lead, columns, user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        abort(409, message="Another lead with this phone, email or external id was just saved.")
    return lead


@blp.route("/leads/<int(min=1, max=2147483647):lead_id>/activities", methods=["GET"])
@requires("leads:read")
@blp.arguments(ActivityArgs, location="query")
@blp.response(200, ActivityListSchema)
@documented_errors(blp, 404)
def lead_activities(args: dict[str, Any], lead_id: int):
    """The lead's timeline, newest first: calls, emails, notes, changes, assignments."""
    return {"items": timeline(_visible_lead_or_404(lead_id), limit=args["limit"])}


@blp.route("/leads/<int(min=1, max=2147483647):lead_id>/dispositions", methods=["POST"])
@requires("dispositions:write")
@blp.arguments(IdempotencyHeader, location="headers")
@blp.arguments(DispositionSchema)
@blp.response(201, DispositionResultSchema)
@blp.alt_response(200, schema=DispositionResultSchema, description="Recorded before")
@documented_errors(blp, 404, 422)
def record_disposition(headers: dict[str, Any], body: dict[str, Any], lead_id: int):
    """Record a call's outcome as the dial screen does; the Idempotency-Key header makes a
    retried request record it once."""
    user = api_user()
    lead = _visible_lead_or_404(lead_id)
    entry = Disposition(
        token="", outcome_key=body["outcome"], note=body["note"],
        duration_seconds=body["duration_seconds"], callback_local=body["callback_at"],
    )  # fmt: skip
    try:
        outcome = dispose_lead(user, lead.id, headers["idempotency_key"], entry)
    except DispositionError as problem:
        db.session.rollback()
        abort(422, message=str(problem))
    db.session.commit()
    announce(outcome, user)
    recorded = outcome.result is Result.RECORDED
    return {
        "result": outcome.result.value,
        "lead_id": outcome.lead_id,
        "outcome": outcome.recorded.key if outcome.recorded else None,
    }, 201 if recorded else 200


@blp.route("/imports", methods=["POST"])
@requires("imports:write", *IMPORTERS)
@blp.arguments(ImportStartForm, location="form_and_files")
@blp.response(202, ImportRunSchema)
@documented_errors(blp, 422)
def start_import(form: dict[str, Any]):
    """Upload a CSV or XLSX file and start importing it with a column mapping (or the
    suggested one); poll the run for its progress."""
    user = api_user()
    lead_list = _workspace_list(user, form.get("list_id"))
    try:
        run = store_upload(form["file"], user)
    except UploadError as problem:
        abort(422, message=str(problem), errors={"file": [str(problem)]})
    problems = start_mapped_run(
        run, form.get("mapping"), lead_list.id if lead_list else None, form.get("source"),
        DuplicatePolicy(form["duplicate_policy"]),
    )  # fmt: skip
    if problems:
        path = source_path(run)
        db.session.rollback()
        Path(path).unlink(missing_ok=True)
        abort(422, message=" ".join(problems), errors={"mapping": problems})
    db.session.commit()
    return run


@blp.route("/imports/<int(min=1, max=2147483647):run_id>", methods=["GET"])
@requires("imports:read", *IMPORTERS)
@blp.response(200, ImportRunSchema)
@documented_errors(blp, 404)
def import_status(run_id: int):
    """An import's status and counts."""
    run = db.session.get(ImportRun, run_id)
    if run is None or run.workspace_id != api_user().workspace_id:
        abort(404, message="No import with this id in your workspace.")
    return run
