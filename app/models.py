"""Workspaces, users, roles, teams and login sessions."""

from __future__ import annotations

import enum
import functools
import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Role(enum.StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    MARKETER = "marketer"
    REP = "rep"
    CALLER = "caller"

    @property
    def label(self) -> str:
        return self.value.capitalize()


ROLE_VALUES = tuple(role.value for role in Role)
# Roles that see every lead of the workspace; reps and callers see their own.
ALL_LEADS_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.MARKETER})


def enum_check(column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    """A CHECK constraint keeping a string column inside an enum's values."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=f"{column}_valid")


class Workspace(db.Model):
    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    default_region: Mapped[str] = mapped_column(sa.String(2), default="US")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The random key of the workspace's erasure hashes (leads.erasure); made on first use.
    erasure_key: Mapped[str | None] = mapped_column(sa.String(64))


class Team(db.Model):
    __tablename__ = "teams"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    manager_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL", use_alter=True)
    )

    manager: Mapped[User | None] = relationship(foreign_keys=[manager_id])
    members: Mapped[list[User]] = relationship(
        back_populates="team", foreign_keys="User.team_id", order_by="User.name"
    )


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"), index=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    # Set for a generated one-time password: the first sign-in must choose a new one.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    team_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    time_zone: Mapped[str] = mapped_column(sa.String(64), default="America/New_York")
    invite_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    invite_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    workspace: Mapped[Workspace] = relationship()
    team: Mapped[Team | None] = relationship(back_populates="members", foreign_keys=[team_id])
    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan")

    # Set when the user is loaded from (or logged into) a LoginSession; the cookie
    # carries this id, never the user's id, so it can be revoked on its own.
    login_session_id = None

    def get_id(self) -> str | None:
        return self.login_session_id

    @functools.cached_property
    def roles(self) -> frozenset[Role]:
        # Asked several times per request (navigation, access checks); built once.
        return frozenset(Role(row.role) for row in self.role_rows)

    def set_roles(self, roles: set[Role]) -> None:
        self.__dict__.pop("roles", None)
        keep = {row.role: row for row in self.role_rows if Role(row.role) in roles}
        self.role_rows = list(keep.values()) + [
            UserRole(role=role.value) for role in roles if role.value not in keep
        ]

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def sees_all_leads(self) -> bool:
        return bool(self.roles & ALL_LEADS_ROLES)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def invite_pending(self) -> bool:
        return self.password_hash is None and self.invite_token_hash is not None

    def new_invite_token(self, valid_for: timedelta = timedelta(days=7)) -> str:
        """Issue a single-use invite token; only its hash is stored."""
        token = secrets.token_urlsafe(32)
        self.invite_token_hash = hash_token(token)
        self.invite_expires_at = utcnow() + valid_for
        return token


class UserRole(db.Model):
    __tablename__ = "user_roles"
    __table_args__ = (enum_check("role", ROLE_VALUES),)

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(sa.String(20), primary_key=True)


class LoginSession(db.Model):
    """A server-side record of a login, so logout and disabling really end it.

    The signed cookie only carries this row's random id; a cookie replayed after
    logout names a revoked row and is refused.
    """

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    ip_address: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(300))

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(db.Model):
    """A user's key to the JSON API: it acts as its user, narrowed to its scopes.

    Only a hash of the token is stored; the token itself is shown once, when made.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The first characters, so a person can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(sa.String(12))
    scopes: Mapped[str] = mapped_column(sa.String(500))  # space-separated
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())
