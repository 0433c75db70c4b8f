"""Configuring pipelines and their stages: add, rename, reorder, remove an empty stage."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from sync.models import Deal, Pipeline, Stage, StageOutcome
from sync.pipeline_target import DEFAULT_STAGES

MAX_NAME = 80


class SetupError(ValueError):
    """A change the pipeline set-up cannot take; the message is for the user."""


def _clean(name: str, limit: int = MAX_NAME) -> str:
    cleaned = " ".join(name.split())[:limit]
    if not cleaned:
        raise SetupError("Give it a name.")
    return cleaned


def add_pipeline(workspace_id: int, name: str) -> Pipeline:
    """A new pipeline with the default stages, after the existing ones. Caller commits."""
    name = _clean(name, 120)
    taken = sa.select(Pipeline.id).where(Pipeline.workspace_id == workspace_id,
                                         Pipeline.name == name)  # fmt: skip
    if db.session.scalar(taken) is not None:
        raise SetupError(f"There is a pipeline called {name} already.")
    last = db.session.scalar(
        sa.select(sa.func.max(Pipeline.position)).where(Pipeline.workspace_id == workspace_id)
    )
    pipeline = Pipeline(workspace_id=workspace_id, name=name, position=(last or 0) + 1)
    pipeline.stages = [Stage(name=stage, position=n, outcome=outcome.value)
                       for n, (stage, outcome) in enumerate(DEFAULT_STAGES)]  # fmt: skip
    db.session.add(pipeline)
    return pipeline


def add_stage(pipeline: Pipeline, name: str) -> Stage:
    """An open stage placed before the won and lost ones. Caller commits."""
    name = _clean(name)
    if any(stage.name == name for stage in pipeline.stages):
        raise SetupError(f"{pipeline.name} has a stage called {name} already.")
    open_stages = [s for s in pipeline.stages if s.outcome == StageOutcome.OPEN]
    position = (open_stages[-1].position + 1) if open_stages else 0
    for stage in pipeline.stages:
        if stage.position >= position:
            stage.position += 1
    stage = Stage(pipeline_id=pipeline.id, name=name, position=position,
                  outcome=StageOutcome.OPEN.value)  # fmt: skip
    db.session.add(stage)
    return stage


def rename_stage(stage: Stage, name: str) -> None:
    name = _clean(name)
    siblings = sa.select(Stage.id).where(Stage.pipeline_id == stage.pipeline_id,
                                         Stage.name == name, Stage.id != stage.id)  # fmt: skip
    if db.session.scalar(siblings) is not None:
        raise SetupError(f"There is a stage called {name} already.")
    stage.name = name


def shift_stage(stage: Stage, step: int) -> None:
    """Swap the stage with its neighbour (-1 left, +1 right). Caller commits."""
    stages = list(db.session.scalars(
        sa.select(Stage).where(Stage.pipeline_id == stage.pipeline_id).order_by(Stage.position)
    ))  # fmt: skip
    index = stages.index(stage)
    other = index + step
    if 0 <= other < len(stages):
        stages[index], stages[other] = stages[other], stages[index]
        for position, each in enumerate(stages):
            each.position = position


def remove_stage(stage: Stage) -> None:
    """Delete a stage that holds no deals and is not the last open one. Caller commits."""
    deals = sa.select(sa.func.count(Deal.id)).where(Deal.stage_id == stage.id)
    if db.session.scalar(deals):
        raise SetupError(f"{stage.name} holds deals: move them first.")
    same_kind = sa.select(sa.func.count(Stage.id)).where(
        Stage.pipeline_id == stage.pipeline_id, Stage.outcome == stage.outcome
    )
    if db.session.scalar(same_kind) == 1:
        raise SetupError(f"A pipeline needs a {stage.outcome} stage.")
    db.session.delete(stage)
