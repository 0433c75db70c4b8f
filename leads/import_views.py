"""Import pages: upload, preview and mapping, progress, result, error file, undo, history."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app.access import roles_required
from app.extensions import db
from app.forms import parse_id
from app.htmx import render
from app.models import Role
from leads import bp
from leads.export import safe_cell
from leads.import_undo import start_undo
from leads.imports import (
    UploadError,
    format_dict,
    queue_import,
    request_cancel,
    source_path,
    store_upload,
)
from leads.mapping import (
    ColumnMapping,
    Target,
    mapping_from_json,
    mapping_to_json,
    suggest_mapping,
    validate_mapping,
)
from leads.models import (
    DuplicatePolicy,
    ImportRowError,
    ImportRun,
    ImportStatus,
    LeadList,
    MappingTemplate,
    SuppressionPolicy,
)
from leads.sources import SourceError, SourceFormat, preview

IMPORTERS = (Role.ADMIN, Role.MANAGER, Role.MARKETER)
MAX_ROWS = 1_048_576
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1", "shift_jis", "gb18030")
DELIMITERS = {",": "Comma", ";": "Semicolon", "\t": "Tab", "|": "Pipe"}


def _run_or_404(run_id: int) -> ImportRun:
    run = db.session.get(ImportRun, run_id)
    if run is None or run.workspace_id != current_user.workspace_id:
        abort(404)
    return run


@bp.get("/imports")
@roles_required(*IMPORTERS)
def imports():
    """Import history: who imported what, when, with what result."""
    runs = db.session.scalars(
        sa.select(ImportRun)
        .where(ImportRun.workspace_id == current_user.workspace_id)
        .order_by(ImportRun.id.desc())
        .limit(200)
    ).all()
    return render_template("imports/index.html", runs=runs)


@bp.route("/imports/new", methods=["GET", "POST"])
@roles_required(*IMPORTERS)
def new_import():
    """Upload a CSV or XLSX file; it is stored under a generated name and sniffed."""
    if request.method == "GET":
        return render_template("imports/new.html", error=None)
    try:
        run = store_upload(request.files.get("file"), current_user)
    except UploadError as exc:
        return render_template("imports/new.html", error=str(exc)), 422
    db.session.commit()
    return redirect(url_for("leads.import_setup", run_id=run.id))


def _format_from(args: MultiDict, run: ImportRun) -> SourceFormat:
    """The run's format with the marketer's overrides from the form or query string."""
    current = dict(run.source_format)
    if (encoding := args.get("encoding")) in ENCODINGS:
        current["encoding"] = encoding
    if (delimiter := args.get("delimiter")) in DELIMITERS:
        current["delimiter"] = delimiter
    header = args.get("header_row")
    if header == "none":
        current["header_row"] = None
    elif (header_number := parse_id(header)) is not None:
        current["header_row"] = max(0, header_number - 1)
    return SourceFormat(**current)


def _mapping_from(args: MultiDict, width: int) -> list[ColumnMapping] | None:
    if f"target_{width - 1}" not in args:
        return None
    mapping = []
    for index in range(width):
        target = args.get(f"target_{index}", Target.IGNORE.value)
        custom = (args.get(f"custom_{index}") or "").strip() or None
        try:
            mapping.append(ColumnMapping(Target(target), custom if target == "custom" else None))
        except ValueError:
            mapping.append(ColumnMapping(Target.IGNORE, None))
    return mapping


def _setup_context(run: ImportRun, args: MultiDict) -> dict:
    fmt = _format_from(args, run)
    try:
        sample = preview(path := source_path(run), fmt)
    except SourceError as exc:
        return {"run": run, "fmt": fmt, "sample": None, "source_error": str(exc), "path": None}
    mapping = _mapping_from(args, len(sample.headers))
    template_id = args.get("template", "")
    if mapping is None and (template_number := parse_id(template_id)) is not None:
        template = db.session.get(MappingTemplate, template_number)
        if template is not None and template.workspace_id == run.workspace_id:
            mapping = mapping_from_json(template.mapping)[: len(sample.headers)]
    if mapping is None and run.mapping:
        mapping = mapping_from_json(run.mapping)[: len(sample.headers)]
    if mapping is None or len(mapping) < len(sample.headers):
        suggested = suggest_mapping(sample.headers, sample.rows)
        mapping = (mapping or []) + suggested[len(mapping or []) :]
    return {
        "run": run, "fmt": fmt, "sample": sample, "mapping": mapping, "source_error": None,
        "path": path, "targets": list(Target), "encodings": ENCODINGS, "delimiters": DELIMITERS,
        "too_many_rows": (sample.total_estimate or 0) > MAX_ROWS,
    }  # fmt: skip


@bp.get("/imports/<int:run_id>/setup")
@roles_required(*IMPORTERS)
def import_setup(run_id: int):
    """Preview the file as it will be read, map its columns, choose how to import."""
    run = _run_or_404(run_id)
    if run.status != ImportStatus.UPLOADED:
        return redirect(url_for("leads.import_status", run_id=run.id))
    return render(
        "imports/setup.html",
        block="sheet",
        **_setup_context(run, request.args),
        **_options_context(run),
    )


def _options_context(run: ImportRun) -> dict:
    workspace = current_user.workspace_id
    lists = db.session.execute(
        sa.select(LeadList.id, LeadList.name)
        .where(LeadList.workspace_id == workspace)
        .order_by(LeadList.name)
    ).all()
    templates = db.session.execute(
        sa.select(MappingTemplate.id, MappingTemplate.name)
        .where(MappingTemplate.workspace_id == workspace)
        .order_by(MappingTemplate.name)
    ).all()
    return {"lists": lists, "templates": templates, "problems": [],
            "duplicate_policies": list(DuplicatePolicy),
            "suppression_policies": list(SuppressionPolicy)}  # fmt: skip


@bp.post("/imports/<int:run_id>/setup")
@roles_required(*IMPORTERS)
def start_import(run_id: int):
    """Save the format, mapping and options, then queue the import."""
    run = _run_or_404(run_id)
    if run.status != ImportStatus.UPLOADED:
        flash("This import has started already.", "info")
        return redirect(url_for("leads.import_status", run_id=run.id))
    context = _setup_context(run, request.form)
    options = _options_context(run)
    problems = [context["source_error"]] if context["source_error"] else []
    if not problems:
        problems = validate_mapping(context["mapping"])
    list_id = request.form.get("list_id", "")
    new_list = (request.form.get("new_list") or "").strip()
    chosen_list = parse_id(list_id)
    if chosen_list is not None and chosen_list not in {row.id for row in options["lists"]}:
        problems.append("Choose a list from the menu.")
    if problems:
        options["problems"] = problems
        return render_template("imports/setup.html", **context, **options), 422
    if new_list:
        lead_list = db.session.scalar(
            sa.select(LeadList).where(
                LeadList.workspace_id == run.workspace_id, LeadList.name == new_list
            )
        ) or LeadList(workspace_id=run.workspace_id, name=new_list[:200])
        db.session.add(lead_list)
        db.session.flush()
        run.list_id = lead_list.id
    elif chosen_list is not None:
        run.list_id = chosen_list
    run.source_format = format_dict(context["fmt"])
    run.mapping = mapping_to_json(context["mapping"])
    run.total_estimate = context["sample"].total_estimate
    run.source = (request.form.get("source") or "").strip()[:120] or run.original_name[:120]
    run.default_region = (request.form.get("default_region") or run.default_region)[:2].upper()
    policy = request.form.get("duplicate_policy")
    run.duplicate_policy = policy if policy in set(DuplicatePolicy) else DuplicatePolicy.SKIP
    suppression = request.form.get("suppression_policy")
    if suppression in set(SuppressionPolicy):
        run.suppression_policy = suppression
    if template_name := (request.form.get("save_template") or "").strip()[:120]:
        _save_template(run, template_name)
    queue_import(run)
    db.session.commit()
    return redirect(url_for("leads.import_status", run_id=run.id))


def _save_template(run: ImportRun, name: str) -> None:
    template = db.session.scalar(
        sa.select(MappingTemplate).where(
            MappingTemplate.workspace_id == run.workspace_id, MappingTemplate.name == name
        )
    ) or MappingTemplate(workspace_id=run.workspace_id, name=name, created_by_id=current_user.id)
    template.mapping = run.mapping
    db.session.add(template)


@bp.get("/imports/<int:run_id>")
@roles_required(*IMPORTERS)
def import_status(run_id: int):
    """Progress while the import runs (the widget polls itself), the result when it is done."""
    run = _run_or_404(run_id)
    if run.status == ImportStatus.UPLOADED:
        return redirect(url_for("leads.import_setup", run_id=run.id))
    return render("imports/status.html", block="progress", run=run)


@bp.post("/imports/<int:run_id>/cancel")
@roles_required(*IMPORTERS)
def cancel_import(run_id: int):
    """Stop a running import; what it did so far is undone."""
    run = _run_or_404(run_id)
    if run.status in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        request_cancel(run)
        db.session.commit()
        flash("Stopping the import; what it added so far will be removed.", "info")
    return redirect(url_for("leads.import_status", run_id=run.id))


@bp.post("/imports/<int:run_id>/undo")
@roles_required(*IMPORTERS)
def undo_import(run_id: int):
    """Undo a finished import in the background."""
    run = _run_or_404(run_id)
    if run.status != ImportStatus.SUCCEEDED:
        flash("Only a finished import can be undone.", "error")
    else:
        start_undo(run)
        db.session.commit()
    return redirect(url_for("leads.import_status", run_id=run.id))


@bp.get("/imports/<int:run_id>/errors.csv")
@roles_required(*IMPORTERS)
def import_errors(run_id: int):
    """The rejected rows: line number, reason and the original row."""
    run = _run_or_404(run_id)

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(["Line", "Reason", "Original row"])
        yield "\ufeff" + buffer.getvalue()
        last_id = 0
        while batch := db.session.execute(
            sa.select(ImportRowError.id, ImportRowError.line, ImportRowError.reason,
                      ImportRowError.raw)
            .where(ImportRowError.import_run_id == run.id, ImportRowError.id > last_id)
            .order_by(ImportRowError.id).limit(1000)
        ).all():  # fmt: skip
            buffer.seek(0)
            buffer.truncate()
            for row_id, line, reason, raw in batch:
                writer.writerow([line, safe_cell(reason), safe_cell(raw)])
                last_id = row_id
            yield buffer.getvalue()

    name = f"import-{run.id}-errors.csv"
    return Response(
        stream_with_context(rows()), mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip
