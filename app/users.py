"""User and team services: the views validate, these change state, the caller commits."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Role, Team, User, Workspace
from app.security import revoke_user_sessions, set_password


class UserError(ValueError):
    """A change to users that cannot be made, with a message for the person making it."""


def default_workspace() -> Workspace:
    """The workspace of a single-company install, created on first use."""
    workspace = db.session.scalar(sa.select(Workspace).order_by(Workspace.id).limit(1))
    if workspace is None:
        workspace = Workspace(name="Leadline")
        db.session.add(workspace)
        db.session.flush()
    return workspace


def workspace_users(workspace_id: int, *, active_only: bool = False) -> list[User]:
    """People of a workspace by name, for pickers and the users page."""
    query = sa.select(User).where(User.workspace_id == workspace_id).order_by(User.name)
    if active_only:
        query = query.where(User.active.is_(True))
    return list(db.session.scalars(query))


def user_choices(workspace_id: int) -> list[sa.Row[tuple[int, str]]]:
    """(id, name) of the active people of a workspace, for select boxes."""
    return list(
        db.session.execute(
            sa.select(User.id, User.name)
            .where(User.workspace_id == workspace_id, User.active.is_(True))
            .order_by(User.name)
        )
    )


def create_user(
    workspace: Workspace,
    *,
    email: str,
    name: str,
    roles: set[Role],
    password: str | None = None,
    team_id: int | None = None,
    time_zone: str = "America/New_York",
) -> tuple[User, str | None]:
    """Create a user; without a password an invite token is issued and returned."""
    email = email.strip().lower()
    if db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise UserError(f"{email} already has an account.")
    user = User(
        workspace_id=workspace.id,
        email=email,
        name=name.strip(),
        team_id=team_id,
        time_zone=time_zone,
    )
    user.set_roles(roles)
    db.session.add(user)
    invite_token = None
    if password:
        set_password(user, password)
    else:
        invite_token = user.new_invite_token()
    db.session.flush()
    return user, invite_token


def active_admins() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count(User.id)).where(
                User.active.is_(True), User.role_rows.any(role=Role.ADMIN.value)
            )
        )
        or 0
    )


def set_user_roles(user: User, roles: set[Role]) -> None:
    if Role.ADMIN not in roles and user.is_admin and user.active and active_admins() <= 1:
        raise UserError("Leadline needs at least one active admin; make someone else admin first.")
    user.set_roles(roles)


def disable_user(user: User) -> int:
    """Disable a user and end all their sessions; returns how many sessions ended."""
    if user.is_admin and user.active and active_admins() <= 1:
        raise UserError("This is the only active admin; make someone else admin first.")
    user.active = False
    return revoke_user_sessions(user)


def enable_user(user: User) -> None:
    user.active = True


def save_team(
    workspace: Workspace, team: Team | None, *, name: str, manager_id: int | None
) -> Team:
    """Create or rename a team and set its manager."""
    name = name.strip()
    clash = db.session.scalar(
        sa.select(Team.id).where(Team.workspace_id == workspace.id, Team.name == name)
    )
    if clash and (team is None or clash != team.id):
        raise UserError(f"A team named {name!r} exists already.")
    if team is None:
        team = Team(workspace_id=workspace.id)
        db.session.add(team)
    team.name = name
    team.manager_id = manager_id
    db.session.flush()
    return team
