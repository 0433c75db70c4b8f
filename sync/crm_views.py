"""Admin pages for the external CRM targets: list, add, edit, enable, test the connection."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from app.access import roles_required
from app.extensions import db
from app.htmx import render
from app.models import Role
from sync import bp
from sync.crm import KINDS
from sync.crm.forms import SECRET_FIELDS, CrmTargetForm, mapping_to_text, masked
from sync.crm_targets import (
    check_connection,
    save_target,
    send_earlier_leads,
    set_enabled,
    workspace_targets,
)
from sync.listeners import queue_deliveries
from sync.models import StoredCrmTarget

VIEWERS = (Role.ADMIN, Role.MANAGER)


def _stored_or_404(target_id: int) -> StoredCrmTarget:
    stored = db.session.get(StoredCrmTarget, target_id)
    if stored is None or stored.workspace_id != current_user.workspace_id:
        abort(404)
    return stored


def _form_page(form: CrmTargetForm, stored: StoredCrmTarget | None, status: int = 200):
    has_secret = {name: bool(stored and stored.settings.get(name)) for name in SECRET_FIELDS}
    return render("sync/crm_target_form.html", status=status, form=form, stored=stored,
                  has_secret=has_secret)  # fmt: skip


def _save(form: CrmTargetForm, stored: StoredCrmTarget):
    """Validate and store the form, or show it again (422) with what was typed."""
    if not form.validate():
        return _form_page(form, stored if stored.id else None, status=422)
    taken = any(t.name == form.name.data.strip() and t.id != stored.id
                for t in workspace_targets(current_user.workspace_id))  # fmt: skip
    if taken:
        form.name.errors = [*form.name.errors, "Another target has that name."]
        return _form_page(form, stored if stored.id else None, status=422)
    save_target(stored, form.name.data, form.kind.data, form.settings(), form.mapping())
    db.session.commit()
    flash(f"Saved {stored.name}.", "success")
    return redirect(url_for("sync.crm_targets"))


@bp.get("/settings/crm")
@roles_required(*VIEWERS)
def crm_targets():
    """The workspace's CRM targets, with their state and actions."""
    targets = workspace_targets(current_user.workspace_id)
    return render("sync/crm_targets.html", targets=targets, kinds=KINDS,
                  settings={t.id: masked(t.settings) for t in targets},
                  can_edit=current_user.has_role(Role.ADMIN))  # fmt: skip


@bp.route("/settings/crm/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_crm_target():
    """Add a CRM target (disabled until enabled)."""
    form = CrmTargetForm()
    if request.method == "POST":
        return _save(form, StoredCrmTarget(workspace_id=current_user.workspace_id, enabled=False))
    return _form_page(form, None)


@bp.route("/settings/crm/<int:target_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_crm_target(target_id: int):
    """Change a CRM target; blank secrets keep the stored ones."""
    stored = _stored_or_404(target_id)
    if request.method == "POST":
        return _save(CrmTargetForm(stored=stored.settings), stored)
    shown = {k: v for k, v in stored.settings.items() if k not in SECRET_FIELDS}
    form = CrmTargetForm(data={"name": stored.name, "kind": stored.kind, **shown,
                               "field_mapping": mapping_to_text(stored.field_mapping)},
                         stored=stored.settings)  # fmt: skip
    return _form_page(form, stored)


@bp.post("/settings/crm/<int:target_id>/enabled")
@roles_required(Role.ADMIN)
def toggle_crm_target(target_id: int):
    """Enable or disable handing new leads to a target."""
    stored = _stored_or_404(target_id)
    set_enabled(stored, request.form.get("enabled") == "1")
    db.session.commit()
    if stored.enabled:
        queue_deliveries(stored.workspace_id)
    flash(f"{stored.name} is {'enabled' if stored.enabled else 'disabled'}.", "success")
    return redirect(url_for("sync.crm_targets"))


@bp.post("/settings/crm/<int:target_id>/test")
@roles_required(Role.ADMIN)
def test_crm_target(target_id: int):
    """Make one harmless request to the vendor and show its answer."""
    stored = _stored_or_404(target_id)
    result = check_connection(stored)
    flash(result.message if result.ok else f"Connection failed: {result.message}",
          "success" if result.ok else "error")  # fmt: skip
    return redirect(url_for("sync.crm_targets"))


@bp.post("/settings/crm/<int:target_id>/backfill")
@roles_required(Role.ADMIN)
def backfill_crm_target(target_id: int):
    """Send the leads qualified before the target was enabled."""
    stored = _stored_or_404(target_id)
    if not stored.enabled:
        flash("Enable the target first.", "error")
        return redirect(url_for("sync.crm_targets"))
    opened = send_earlier_leads(stored)
    db.session.commit()
    queue_deliveries(stored.workspace_id)
    flash(f"Queued {opened:,} earlier qualified leads for {stored.name}.", "success")
    return redirect(url_for("sync.crm_targets"))
