"""Rep availability pages: who takes leads now, settings and caps, away periods."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_login import current_user

from app.access import roles_required
from app.extensions import db
from app.forms import ConfirmForm
from app.htmx import render
from app.models import utcnow
from leads import bp
from leads.rotation_forms import AwayForm, RepSettingsForm
from leads.rotation_jobs import queue_rotation
from leads.rotation_models import RepAwayPeriod
from leads.rotation_reps import (
    AwayOverlap,
    add_away,
    away_periods,
    rep_settings,
    rotation_reps,
    save_settings,
)  # fmt: skip
from leads.rotation_views import MANAGERS, workspace_user


@bp.get("/rotation/reps")
@roles_required(*MANAGERS)
def rotation_reps_page():
    """Every rep in a pool: available now or why not, caps, open leads."""
    return render("rotation/reps.html", reps=rotation_reps(current_user.workspace_id))


def _page(user, form, away_form, status=200):
    return render(
        "rotation/rep.html", status=status, person=user, form=form, away_form=away_form,
        periods=away_periods(user.id), action_form=ConfirmForm(),
    )  # fmt: skip


def _settings_form(settings, typed: bool = True) -> RepSettingsForm:
    """The settings form: what was typed on a POST to it, else the stored settings."""
    form = RepSettingsForm(obj=settings) if typed else RepSettingsForm(formdata=None, obj=settings)
    if not (typed and form.is_submitted()):
        form.work_days.data = list(settings.work_days)
    return form


@bp.route("/rotation/reps/<int:user_id>", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def rep_availability(user_id: int):
    """A rep's availability: takes leads, working hours in their zone, caps."""
    user = workspace_user(user_id)
    settings = rep_settings(user)
    form = _settings_form(settings)
    if form.validate_on_submit():
        save_settings(
            settings, accepts_leads=form.accepts_leads.data, work_start=form.work_start.data,
            work_end=form.work_end.data, work_days="".join(sorted(form.work_days.data)),
            daily_cap=form.daily_cap.data, open_cap=form.open_cap.data,
        )  # fmt: skip
        db.session.commit()
        # Someone may have become free: waiting leads should not wait for the sweep.
        queue_rotation(user.workspace_id, f"rep-{user.id}-{utcnow():%Y%m%d%H%M%S}")
        flash(f"Saved {user.name}'s availability.", "success")
        return redirect(url_for("leads.rep_availability", user_id=user.id))
    return _page(user, form, AwayForm(), 422 if form.is_submitted() else 200)


@bp.post("/rotation/reps/<int:user_id>/away")
@roles_required(*MANAGERS)
def add_rep_away(user_id: int):
    """Add an away period (days inclusive, in the rep's time zone)."""
    user = workspace_user(user_id)
    form = AwayForm()
    if form.validate():
        try:
            add_away(user, form.starts_on.data, form.ends_on.data, form.note.data)
        except AwayOverlap as exc:
            form.starts_on.errors = [str(exc)]
        else:
            db.session.commit()
            flash(f"{user.name} is away {form.starts_on.data} – {form.ends_on.data}.", "success")
            return redirect(url_for("leads.rep_availability", user_id=user.id))
    return _page(user, _settings_form(rep_settings(user), typed=False), form, 422)


@bp.post("/rotation/reps/<int:user_id>/away/<int:period_id>/delete")
@roles_required(*MANAGERS)
def delete_rep_away(user_id: int, period_id: int):
    """Remove an away period."""
    user = workspace_user(user_id)
    period = db.session.get(RepAwayPeriod, period_id)
    if period is None or period.user_id != user.id:
        abort(404)
    db.session.delete(period)
    db.session.commit()
    flash("Away period removed.", "success")
    return redirect(url_for("leads.rep_availability", user_id=user.id))
