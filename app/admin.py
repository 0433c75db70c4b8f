"""Admin pages: users, teams and the System page."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)  # fmt: skip
from flask_login import current_user
from rq.exceptions import NoSuchJobError

from app import system
from app.access import roles_required
from app.extensions import db
from app.forms import ConfirmForm, TeamForm, UserForm
from app.models import Role, Team, User
from app.users import (
    UserError,
    create_user,
    disable_user,
    enable_user,
    save_team,
    set_user_roles,
    workspace_users,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _workspace_teams() -> list[Team]:
    return list(
        db.session.scalars(
            sa.select(Team)
            .where(Team.workspace_id == current_user.workspace_id)
            .order_by(Team.name)
        )
    )


def _get_user(user_id: int) -> User:
    user = db.get_or_404(User, user_id)
    if user.workspace_id != current_user.workspace_id:
        abort(404)
    return user


def _user_form(user: User | None = None) -> UserForm:
    form = UserForm(obj=user)
    if user is not None and request.method == "GET":
        form.roles.data = sorted(role.value for role in user.roles)
    form.team_id.choices = [(0, "No team")] + [(t.id, t.name) for t in _workspace_teams()]
    return form


@bp.get("/users")
@roles_required(Role.ADMIN)
def users():
    """List the workspace's users with their roles and state."""
    return render_template(
        "admin/users.html",
        users=workspace_users(current_user.workspace_id),
        action_form=ConfirmForm(),
    )


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_user():
    """Create a user with a password, or send them an invite link."""
    form = _user_form()
    if request.method == "GET":
        form.time_zone.data = current_user.time_zone
    if form.validate_on_submit():
        try:
            user, token = create_user(
                current_user.workspace,
                email=form.email.data,
                name=form.name.data,
                roles={Role(r) for r in form.roles.data},
                password=form.password.data or None,
                team_id=form.team_id.data or None,
                time_zone=form.time_zone.data,
            )
        except UserError as exc:
            form.email.errors.append(str(exc))
        else:
            db.session.commit()
            if token:
                link = url_for("auth.accept_invite", token=token, _external=True)
                flash(f"Invite link for {user.email} (valid 7 days, shown once): {link}", "invite")
            else:
                flash(f"{user.name} can sign in now.", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_user(user_id: int):
    """Change a user's name, roles, team and time zone."""
    user = _get_user(user_id)
    form = _user_form(user)
    del form.password  # passwords are the user's own; an admin re-invites instead
    if form.validate_on_submit():
        try:
            set_user_roles(user, {Role(r) for r in form.roles.data})
        except UserError as exc:
            form.roles.errors.append(str(exc))
        else:
            user.name = form.name.data.strip()
            user.email = form.email.data.strip().lower()
            user.team_id = form.team_id.data or None
            user.time_zone = form.time_zone.data
            db.session.commit()
            flash(f"Saved {user.name}.", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user)


@bp.post("/users/<int:user_id>/disable")
@roles_required(Role.ADMIN)
def disable(user_id: int):
    """Disable a user and end their sessions at once (first handing their leads on)."""
    user = _get_user(user_id)
    # A domain package that gives users work (lead rotation) may answer with a page
    # that asks where that work goes; that page disables the user once it is decided.
    if (handover := current_app.extensions.get("leadline.user_handover")) and (
        url := handover(user)
    ):
        return redirect(url)
    try:
        ended = disable_user(user)
    except UserError as exc:
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(f"{user.name} is disabled; {ended} open session(s) ended.", "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/enable")
@roles_required(Role.ADMIN)
def enable(user_id: int):
    """Let a disabled user sign in again."""
    user = _get_user(user_id)
    enable_user(user)
    db.session.commit()
    flash(f"{user.name} is enabled.", "success")
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/invite")
@roles_required(Role.ADMIN)
def reinvite(user_id: int):
    """Issue a new invite link (the old one stops working)."""
    user = _get_user(user_id)
    if user.password_hash:
        flash(f"{user.name} has a password already.", "error")
        return redirect(url_for("admin.users"))
    token = user.new_invite_token()
    db.session.commit()
    link = url_for("auth.accept_invite", token=token, _external=True)
    flash(f"New invite link for {user.email} (valid 7 days, shown once): {link}", "invite")
    return redirect(url_for("admin.users"))


@bp.get("/teams")
@roles_required(Role.ADMIN, Role.MANAGER)
def teams():
    """Teams with their managers and members."""
    return render_template("admin/teams.html", teams=_workspace_teams())


@bp.route("/teams/new", methods=["GET", "POST"], defaults={"team_id": None})
@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_team(team_id: int | None):
    """Create a team or change its name and manager."""
    team = None
    if team_id is not None:
        team = db.get_or_404(Team, team_id)
        if team.workspace_id != current_user.workspace_id:
            abort(404)
    form = TeamForm(obj=team)
    form.manager_id.choices = [(0, "No manager")] + [
        (u.id, u.name)
        for u in workspace_users(current_user.workspace_id, active_only=True)
        if u.has_role(Role.MANAGER, Role.ADMIN)
    ]
    if form.validate_on_submit():
        try:
            save_team(
                current_user.workspace,
                team,
                name=form.name.data,
                manager_id=form.manager_id.data or None,
            )
        except UserError as exc:
            form.name.errors.append(str(exc))
        else:
            db.session.commit()
            flash("Team saved.", "success")
            return redirect(url_for("admin.teams"))
    return render_template("admin/team_form.html", form=form, team=team)


@bp.get("/system")
@roles_required(Role.ADMIN)
def system_page():
    """Queues, workers, schedulers and the scheduled, running and failed jobs."""
    kind = request.args.get("jobs", "failed")
    if kind not in system.REGISTRIES:
        abort(404)
    return render_template(
        "admin/system.html",
        queues=system.queue_summaries(),
        workers=system.workers(),
        schedulers=system.cron_schedulers(),
        kind=kind,
        jobs=system.registry_jobs(kind),
        action_form=ConfirmForm(),
    )


@bp.post("/system/jobs/<job_id>/<any(requeue, delete):action>")
@roles_required(Role.ADMIN)
def job_action(job_id: str, action: str):
    """Requeue or delete one job."""
    try:
        (system.requeue_job if action == "requeue" else system.delete_job)(job_id)
    except NoSuchJobError:
        flash("That job is gone already (it finished or expired).", "error")
    else:
        flash(f"Job {job_id} {'requeued' if action == 'requeue' else 'deleted'}.", "success")
    return redirect(url_for("admin.system_page", jobs=request.args.get("jobs", "failed")))
