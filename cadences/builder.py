"""Building cadences: checked step input, adding, removing and reordering steps."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.forms import parse_id
from app.models import Team, User
from cadences.merge import check_template
from cadences.models import (
    RUNNING_STATUSES,
    AssignRule,
    Cadence,
    CadenceStep,
    EmailVariant,
    Enrollment,
    StepKind,
    WaitUnit,
)
from leads.models import LeadList
from leads.tasks import Network, SocialAction

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
MAX_WAIT = {WaitUnit.BUSINESS_DAYS.value: 365, WaitUnit.HOURS.value: 24 * 365}


@dataclass
class Problems:
    by_field: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.by_field.setdefault(name, message)

    def __bool__(self) -> bool:
        return bool(self.by_field)


def check_name(workspace_id: int, name: str, cadence: Cadence | None = None) -> str | None:
    name = name.strip()
    if not name:
        return "Give the cadence a name."
    if len(name) > 200:
        return "Keep the name under 200 characters."
    taken = db.session.scalar(
        sa.select(Cadence.id).where(Cadence.workspace_id == workspace_id, Cadence.name == name)
    )
    if taken and (cadence is None or taken != cadence.id):
        return f"A cadence named “{name}” exists already."
    return None


def create_cadence(workspace_id: int, name: str, by: User) -> Cadence:
    """A new, empty cadence; check_name first. The caller commits."""
    cadence = Cadence(
        workspace_id=workspace_id,
        name=name.strip(),
        created_by_id=by.id,
        default_time_zone=by.time_zone,
    )
    db.session.add(cadence)
    db.session.flush()
    return cadence


def _minutes(value: str) -> int | None:
    match = _CLOCK.match(value.strip())
    return int(match[1]) * 60 + int(match[2]) if match else None


def check_step(form: Mapping[str, Any]) -> tuple[Problems, dict[str, Any]]:
    """Read the add-step form; problems by field, else the step's values."""
    problems, values = Problems(), {}
    kind = form.get("kind", "")
    if kind not in {k.value for k in StepKind}:
        problems.add("kind", "Choose a step type.")
        return problems, values
    values["kind"] = kind
    if kind == StepKind.WAIT:
        _check_wait(form, problems, values)
    else:
        _check_window(form, problems, values)
    if kind == StepKind.EMAIL:
        _check_variants(form, problems, values)
        values["hold_for_review"] = form.get("hold_for_review") in ("on", "1", "true")
    elif kind != StepKind.WAIT:
        values["instructions"] = (form.get("instructions") or "").strip()[:2000] or None
    if kind == StepKind.SOCIAL:
        _check_social(form, problems, values)
    return problems, values


def _check_social(form, problems: Problems, values: dict[str, Any]) -> None:
    network = form.get("network") or ""
    if network and network not in {n.value for n in Network}:
        problems.add("network", "Choose LinkedIn, X, another profile, or any network.")
    action = form.get("social_action") or SocialAction.VIEW.value
    if action not in {a.value for a in SocialAction}:
        problems.add(
            "social_action", "Choose what the rep does: view, connect, message or comment."
        )
    values.update(network=network or None, social_action=action)


def _check_wait(form, problems: Problems, values: dict[str, Any]) -> None:
    unit = form.get("wait_unit", WaitUnit.BUSINESS_DAYS.value)
    if unit not in MAX_WAIT:
        problems.add("wait_unit", "Wait in business days or hours.")
        return
    raw = (form.get("wait_amount") or "").strip()
    try:
        amount = int(raw)
    except ValueError:
        problems.add(
            "wait_amount", f"“{raw}” is not a whole number." if raw else "How long to wait?"
        )
        return
    if amount <= 0:
        problems.add(
            "wait_amount", "A wait must be at least 1: zero or negative waits are not allowed."
        )
    elif amount > MAX_WAIT[unit]:
        problems.add("wait_amount", f"At most {MAX_WAIT[unit]} {unit.replace('_', ' ')}.")
    values.update(wait_amount=amount, wait_unit=unit)


def _check_window(form, problems: Problems, values: dict[str, Any]) -> None:
    start = _minutes(form.get("window_start") or "08:00")
    end = _minutes(form.get("window_end") or "18:00")
    if start is None:
        problems.add("window_start", "Use a time like 08:00.")
    if end is None:
        problems.add("window_end", "Use a time like 18:00.")
    if start is not None and end is not None and start >= end:
        problems.add("window_end", "The window must end after it starts.")
    values.update(
        window_start=start,
        window_end=end,
        business_days_only=form.get("business_days_only") in ("on", "1", "true"),
    )


def _check_variants(form, problems: Problems, values: dict[str, Any]) -> None:
    variants = []
    for label in ("a", "b"):
        subject = (form.get(f"subject_{label}") or "").strip()
        body = (form.get(f"body_{label}") or "").strip()
        if label == "b" and not subject and not body:
            continue
        if not subject:
            problems.add(f"subject_{label}", "An email needs a subject.")
        if not body:
            problems.add(f"body_{label}", "An email needs a body.")
        for name, text in ((f"subject_{label}", subject), (f"body_{label}", body)):
            if found := check_template(text):
                problems.add(name, "; ".join(str(p) for p in found))
        variants.append((label.upper(), subject[:500], body))
    values["variants"] = variants


def add_step(cadence: Cadence, values: dict[str, Any]) -> CadenceStep:
    """Append a checked step at the end. The caller commits."""
    values = dict(values)
    variants = values.pop("variants", [])
    step = CadenceStep(position=len(cadence.steps), **values)
    step.variants = [EmailVariant(label=label, subject=s, body=b) for label, s, b in variants]
    cadence.steps.append(step)
    return step


def remove_step(cadence: Cadence, step: CadenceStep) -> None:
    cadence.steps.remove(step)
    _renumber(cadence)


def move_step(cadence: Cadence, step: CadenceStep, offset: int) -> None:
    steps = list(cadence.steps)
    index = steps.index(step)
    target = min(max(index + offset, 0), len(steps) - 1)
    steps.insert(target, steps.pop(index))
    cadence.steps[:] = steps
    _renumber(cadence)


def _renumber(cadence: Cadence) -> None:
    for position, step in enumerate(cadence.steps):
        step.position = position


def reorder_problem(cadence: Cadence) -> str | None:
    """Why steps may not be removed or moved now: running enrolments point at positions.

    Adding a step at the end is always safe; removing or moving one would silently
    change which step a lead in the middle of the cadence gets next.
    """
    running = db.session.scalar(
        sa.select(sa.func.count(Enrollment.id)).where(
            Enrollment.cadence_id == cadence.id, Enrollment.status.in_(RUNNING_STATUSES)
        )
    )
    if running:
        return (
            f"{running} lead{'s are' if running != 1 else ' is'} in this cadence: steps can be "
            "added at the end, but not removed or moved until they finish or are removed."
        )
    return None


def read_assign_rule(
    workspace_id: int, form: Mapping[str, Any]
) -> tuple[AssignRule | None, str | None]:
    """The settings form's enrol-on-assignment rule (None when off), or why it is wrong."""
    if form.get("assign_enroll") not in ("on", "1", "true"):
        return None, None
    list_id, team_id = parse_id(form.get("assign_list_id")), parse_id(form.get("assign_team_id"))
    lead_list = db.session.get(LeadList, list_id) if list_id else None
    if list_id and (lead_list is None or lead_list.workspace_id != workspace_id):
        return None, "Choose a list of this workspace for the assignment rule, or any list."
    team = db.session.get(Team, team_id) if team_id else None
    if team_id and (team is None or team.workspace_id != workspace_id):
        return None, "Choose a team of this workspace for the assignment rule, or any team."
    return AssignRule(list_id=list_id, team_id=team_id), None


def set_assign_rule(cadence: Cadence, rule: AssignRule | None) -> None:
    """Replace the cadence's rule (None: no enrolment on assignment). The caller commits."""
    if cadence.assign_rule is not None and rule is not None:
        cadence.assign_rule.list_id, cadence.assign_rule.team_id = rule.list_id, rule.team_id
    else:
        cadence.assign_rule = rule
