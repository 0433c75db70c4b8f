"""The do-not-contact page: see, add, import; managers remove, with the reason kept."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Response, abort, flash, redirect, request, stream_with_context, url_for
from flask_login import current_user

from app.access import roles_required
from app.extensions import db
from app.htmx import render
from app.models import Role
from leads import bp, dnc
from leads.export import safe_cell
from leads.models import DoNotContact

DNC_MANAGERS = (Role.ADMIN, Role.MANAGER)


def _page(status: int = 200, **form):
    return render(
        "dialing/dnc.html",
        status=status,
        entries=dnc.entries_page(current_user.workspace_id, request.args.get("q", "")),
        removals=dnc.recent_removals(current_user.workspace_id),
        can_remove=current_user.has_role(*DNC_MANAGERS),
        search=request.args.get("q", ""),
        form=form,
    )


@bp.get("/dnc")
@roles_required()
def dnc_list():
    """The do-not-contact list, newest first, with removals and who made them."""
    return _page()


@bp.get("/dnc/export.csv")
@roles_required()
def dnc_export():
    """The whole list as a CSV download."""
    rows = dnc.export_rows(current_user.workspace_id)
    body = stream_with_context(_csv_lines(rows))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="do-not-contact.csv"',
        "Cache-Control": "no-store",
    })  # fmt: skip


def _csv_lines(rows) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


@bp.post("/dnc")
@roles_required()
def dnc_add():
    """Add one phone number or email address; it leaves every queue at once."""
    value, reason = request.form.get("value", ""), request.form.get("reason", "").strip()
    try:
        kind, normalized = dnc.normalize_entry(value, current_user.workspace.default_region)
    except dnc.DncError as exc:
        return _page(422, value=value, reason=reason, error=str(exc))
    added = dnc.add(current_user.workspace_id, kind, normalized, current_user, reason)
    db.session.commit()
    flash(f"{normalized} {'added to' if added else 'was already on'} the list.", "success")
    return redirect(url_for("leads.dnc_list"))


@bp.post("/dnc/import")
@roles_required()
def dnc_import():
    """Add a pasted or uploaded list: one phone or email per line."""
    upload = request.files.get("file")
    text = request.form.get("entries", "")
    if upload and upload.filename:
        text += "\n" + upload.read(10_000_000).decode("utf-8-sig", errors="replace")
    reason = request.form.get("reason", "").strip() or "Imported list"
    try:
        report = dnc.import_entries(
            current_user.workspace_id, text, current_user, reason,
            current_user.workspace.default_region,
        )  # fmt: skip
    except dnc.DncError as exc:
        return _page(422, import_error=str(exc))
    db.session.commit()
    summary = f"Added {report.added}, {report.already} already listed"
    flash(f"{summary}, {len(report.rejected)} rejected.", "error" if report.rejected else "success")
    if report.rejected:
        return _page(200, rejected=report.rejected[:100])
    return redirect(url_for("leads.dnc_list"))


@bp.post("/dnc/<int:entry_id>/remove")
@roles_required(*DNC_MANAGERS)
def dnc_remove(entry_id: int):
    """Take an entry off the list (managers only); the removal and its reason are kept."""
    entry = db.session.get(DoNotContact, entry_id)
    if entry is None or entry.workspace_id != current_user.workspace_id:
        abort(404)
    try:
        dnc.remove(entry, current_user, request.form.get("reason", ""))
    except dnc.DncError as exc:
        return _page(422, remove_error=str(exc), remove_id=entry_id)
    db.session.commit()
    flash(f"{entry.value} may be contacted again.", "success")
    return redirect(url_for("leads.dnc_list"))
