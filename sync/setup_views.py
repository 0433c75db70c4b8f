"""Pages for configuring pipelines and their stages."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from app.access import roles_required
from app.extensions import db
from app.htmx import render
from app.models import Role
from sync import bp
from sync.models import Pipeline, Stage
from sync.pipeline import workspace_pipelines
from sync.pipeline_setup import (
    SetupError,
    add_pipeline,
    add_stage,
    remove_stage,
    rename_stage,
    shift_stage,
)

SETUP_ROLES = (Role.ADMIN, Role.MANAGER)


def _page(status: int = 200, error: str | None = None):
    return render("pipeline/setup.html", status=status, error=error,
                  pipelines=workspace_pipelines(current_user.workspace_id))  # fmt: skip


def _done(change, message: str):
    """Run one change, commit it, or show the page again with what went wrong."""
    try:
        change()
        db.session.flush()
    except (SetupError, sa.exc.IntegrityError) as problem:
        db.session.rollback()
        text = str(problem) if isinstance(problem, SetupError) else "That name is taken."
        return _page(status=422, error=text)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("sync.pipeline_setup"))


def _pipeline_or_404(pipeline_id: int) -> Pipeline:
    pipeline = db.session.get(Pipeline, pipeline_id)
    if pipeline is None or pipeline.workspace_id != current_user.workspace_id:
        abort(404)
    return pipeline


def _stage_or_404(stage_id: int) -> Stage:
    stage = db.session.get(Stage, stage_id)
    if stage is None:
        abort(404)
    _pipeline_or_404(stage.pipeline_id)
    return stage


@bp.get("/pipelines/setup")
@roles_required(*SETUP_ROLES)
def pipeline_setup():
    """Pipelines and their stages, with forms to change them."""
    return _page()


@bp.post("/pipelines")
@roles_required(*SETUP_ROLES)
def new_pipeline():
    """Add a pipeline with the default stages."""
    name = request.form.get("name", "")
    return _done(lambda: add_pipeline(current_user.workspace_id, name), "Added the pipeline.")


@bp.post("/pipelines/<int:pipeline_id>/stages")
@roles_required(*SETUP_ROLES)
def new_stage(pipeline_id: int):
    """Add an open stage to a pipeline."""
    pipeline = _pipeline_or_404(pipeline_id)
    name = request.form.get("name", "")
    return _done(lambda: add_stage(pipeline, name), "Added the stage.")


@bp.post("/stages/<int:stage_id>")
@roles_required(*SETUP_ROLES)
def change_stage(stage_id: int):
    """Rename a stage, move it left or right, or remove it."""
    stage = _stage_or_404(stage_id)
    action = request.form.get("action", "rename")
    if action in ("left", "right"):
        return _done(lambda: shift_stage(stage, -1 if action == "left" else 1), "Moved the stage.")
    if action == "remove":
        return _done(lambda: remove_stage(stage), "Removed the stage.")
    name = request.form.get("name", "")
    return _done(lambda: rename_stage(stage, name), "Renamed the stage.")
