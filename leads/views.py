"""Leads pages: list with search and filters, lead card, lead form, lists."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from app.access import roles_required
from app.extensions import db
from app.forms import parse_id
from app.htmx import render
from app.models import Role
from app.users import user_choices
from leads import bp, dnc
from leads.capture import capture_embed
from leads.editing import LeadInput, add_note, check_lead, normalize_contact, save_lead
from leads.export import export_csv, export_filename
from leads.forms import LeadForm, LeadListForm, NoteForm
from leads.models import Lead, LeadList, LeadStatus
from leads.normalize import describe_local_time
from leads.queries import LeadFilters, count_leads, filtered_leads, get_visible_lead, lead_page
from leads.rotation import announce_assignments
from leads.timeline import timeline

LIST_MANAGERS = (Role.ADMIN, Role.MANAGER, Role.MARKETER)


def _workspace_lists() -> list[LeadList]:
    return list(
        db.session.scalars(
            sa.select(LeadList)
            .where(LeadList.workspace_id == current_user.workspace_id)
            .order_by(LeadList.name)
        )
    )


def _list_choices() -> list[sa.Row[tuple[int, str]]]:
    # Plain (id, name) rows: the select boxes need nothing else, and rows are cheap.
    return list(
        db.session.execute(
            sa.select(LeadList.id, LeadList.name)
            .where(LeadList.workspace_id == current_user.workspace_id)
            .order_by(LeadList.name)
        )
    )


def _lead_or_404(lead_id: int) -> Lead:
    lead = get_visible_lead(current_user, lead_id)
    if lead is None:
        abort(404)
    return lead


def _int_arg(name: str) -> int | None:
    return parse_id(request.args.get(name))


@bp.get("/")
@roles_required()
def home():
    """Send people to the leads page."""
    return redirect(url_for("leads.index"))


@bp.get("/leads")
@roles_required()
def index():
    """Leads newest first, with active search, filters and keyset pages."""
    filters = LeadFilters.from_args(request.args)
    query = filtered_leads(current_user, filters)
    page = lead_page(query, after=_int_arg("after"), before=_int_arg("before"))
    return render(
        "leads/index.html",
        block="results",
        page=page,
        filters=filters,
        lists=_list_choices(),
        owners=user_choices(current_user.workspace_id) if current_user.sees_all_leads else [],
        statuses=list(LeadStatus),
    )


@bp.get("/leads/count")
@roles_required()
def count():
    """How many leads match the filters; fetched after the page, as counting is the slow part."""
    filters = LeadFilters.from_args(request.args)
    total, more = count_leads(filtered_leads(current_user, filters))
    return render("leads/_count.html", total=total, more=more)


@bp.get("/leads/export.csv")
@roles_required()
def export():
    """The filtered leads as a CSV download, streamed so any number of leads fits."""
    query = filtered_leads(current_user, LeadFilters.from_args(request.args))
    name = export_filename()
    return Response(
        # A generator: the rows are read while the response is sent.
        export_csv(query),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}",
            # Lead data must not stay behind in browser or proxy caches.
            "Cache-Control": "no-store",
        },
    )


def _lead_form(lead: Lead | None) -> LeadForm:
    form = LeadForm(obj=lead)
    if current_user.sees_all_leads:
        owners = user_choices(current_user.workspace_id)
        form.owner_id.choices = [(0, "Nobody")] + [tuple(u) for u in owners]
    else:
        del form.owner_id
    form.list_id.choices = [(0, "No list")] + [tuple(lst) for lst in _list_choices()]
    if request.method == "GET":
        if lead is None and "owner_id" in form:
            form.owner_id.data = current_user.id
        elif lead is not None:
            form.phone.data, form.email.data = lead.phone_raw, lead.email_raw
            form.list_id.data = lead.list_id or 0
            if "owner_id" in form:
                form.owner_id.data = lead.owner_id or 0
            form.custom_fields.data = "\n".join(f"{k}: {v}" for k, v in lead.custom_fields.items())
    return form


def _submit_lead(form: LeadForm, lead: Lead):
    """Validate, normalize and save; re-render with messages when anything is wrong."""
    if not form.validate_on_submit():
        return None
    values = {name: field.data for name, field in form._fields.items()}
    # Reps and callers only see their own leads, so what they add stays theirs.
    values["owner_id"] = (
        (form.owner_id.data or None) if "owner_id" in form else (lead.owner_id or current_user.id)
    )
    values["list_id"] = form.list_id.data or None
    problems, columns = check_lead(
        lead, LeadInput(values, form.custom_field_values()), current_user.workspace.default_region
    )
    for name, message in problems.by_field.items():
        getattr(form, name).errors = [*getattr(form, name).errors, message]
    if problems:
        return None
    creating, owner_before = lead.id is None, lead.owner_id
    save_lead(lead, columns, current_user)
    try:
        db.session.commit()
    except IntegrityError:
        # Someone saved the same phone, email or external id a moment ago.
        db.session.rollback()
        form.form_errors.append(
            "Another lead with this phone, email or external id was just saved. "
            "Search for it before adding this one."
        )
        return None
    if not creating and lead.owner_id != owner_before:
        announce_assignments(lead.workspace_id, {lead.id: lead.owner_id})
    flash(f"{'Created' if creating else 'Saved'} {lead.display_name}.", "success")
    return redirect(url_for("leads.detail", lead_id=lead.id))


@bp.route("/leads/new", methods=["GET", "POST"])
@roles_required()
def new():
    """Add one lead by hand, normalized as it is typed."""
    lead = Lead(workspace_id=current_user.workspace_id, status=LeadStatus.NEW.value)
    form = _lead_form(None)
    return _submit_lead(form, lead) or _form_page(form, None)


@bp.route("/leads/<int:lead_id>/edit", methods=["GET", "POST"])
@roles_required()
def edit(lead_id: int):
    """Change a lead; the timeline records what changed."""
    lead = _lead_or_404(lead_id)
    form = _lead_form(lead)
    return _submit_lead(form, lead) or _form_page(form, lead)


def _form_page(form: LeadForm, lead: Lead | None):
    # 422 tells scripts and tests the submission was refused; browsers show the page.
    status = 422 if request.method == "POST" else 200
    return render_template("leads/form.html", form=form, lead=lead), status


@bp.get("/leads/preview")
@roles_required()
def preview():
    """Show how the typed phone and email will be stored (htmx, as the user types)."""
    phone, email, _ = normalize_contact(
        request.args.get("phone"),
        request.args.get("email"),
        request.args.get("country"),
        current_user.workspace.default_region,
    )
    local = describe_local_time(phone.time_zones) if phone and phone.time_zones else None
    return render("leads/_preview.html", phone=phone, email=email, local_time=local)


@bp.get("/leads/<int:lead_id>")
@roles_required()
def detail(lead_id: int):
    """The lead card: contact details, local time and the whole timeline."""
    lead = _lead_or_404(lead_id)
    return render(
        "leads/detail.html",
        block="timeline",
        lead=lead,
        activities=timeline(lead),
        note_form=NoteForm(),
        local_time=describe_local_time(lead.phone_time_zones or []),
        listed_phones=dnc.listed_phones(
            lead.workspace_id, [lead.phone_e164, *(p.get("e164") for p in lead.other_phones or [])]
        ),
    )


@bp.post("/leads/<int:lead_id>/notes")
@roles_required()
def note(lead_id: int):
    """Add a note to the timeline."""
    lead = _lead_or_404(lead_id)
    form = NoteForm()
    if form.validate_on_submit():
        add_note(lead, form.text.data, current_user)
        db.session.commit()
        form = NoteForm(formdata=None)
    elif not request.headers.get("HX-Request"):
        flash("Write something before adding a note.", "error")
    if request.headers.get("HX-Request"):
        return render(
            "leads/detail.html",
            block="timeline",
            lead=lead,
            activities=timeline(lead),
            note_form=form,
        )
    return redirect(url_for("leads.detail", lead_id=lead.id))


@bp.get("/lists")
@roles_required()
def lists():
    """Lead lists with how many leads each holds."""
    counts = dict(
        db.session.execute(
            sa.select(Lead.list_id, sa.func.count(Lead.id))
            .where(Lead.workspace_id == current_user.workspace_id, Lead.list_id.is_not(None))
            .group_by(Lead.list_id)
        ).all()
    )
    return render_template(
        "leads/lists.html",
        lists=_workspace_lists(),
        counts=counts,
        can_edit=current_user.has_role(*LIST_MANAGERS),
    )


@bp.route("/lists/new", methods=["GET", "POST"], defaults={"list_id": None})
@bp.route("/lists/<int:list_id>/edit", methods=["GET", "POST"])
@roles_required(*LIST_MANAGERS)
def edit_list(list_id: int | None):
    """Create a list or change its name, description and call script."""
    lead_list = None
    if list_id is not None:
        lead_list = db.get_or_404(LeadList, list_id)
        if lead_list.workspace_id != current_user.workspace_id:
            abort(404)
    form = LeadListForm(obj=lead_list)
    if form.validate_on_submit():
        if lead_list is None:
            lead_list = LeadList(workspace_id=current_user.workspace_id)
            db.session.add(lead_list)
        form.populate_obj(lead_list)
        lead_list.name = lead_list.name.strip()
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            form.name.errors.append("A list with this name exists already.")
        else:
            flash(f"Saved list {lead_list.name}.", "success")
            return redirect(url_for("leads.lists"))
    capture = capture_embed(lead_list) if lead_list is not None else None
    return render_template("leads/list_form.html", form=form, lead_list=lead_list, capture=capture)
