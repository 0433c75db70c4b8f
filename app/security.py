"""Passwords, login sessions and the brute-force throttle."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import LoginSession, User, utcnow
from app.queue import redis_connection

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256

# OWASP Password Storage Cheat Sheet: argon2id with 19 MiB, 2 iterations, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verifying against this makes an unknown email cost as much as a wrong password,
# so response time does not reveal which emails have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def password_problem(password: str) -> str | None:
    """Why a new password is unacceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    return None


def set_password(user: User, password: str) -> None:
    user.password_hash = _hasher.hash(password)
    user.must_change_password = False
    user.invite_token_hash = None
    user.invite_expires_at = None


def check_password(user: User | None, password: str) -> bool:
    """Verify a password in constant-ish time, upgrading the hash when its cost changed."""
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    if user is None or stored is _DUMMY_HASH:
        return False
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
    return True


def start_login_session(user: User, ip_address: str | None, user_agent: str | None) -> LoginSession:
    """Record a new login; the caller commits and hands the id to Flask-Login."""
    row = LoginSession(
        id=secrets.token_urlsafe(32),
        user=user,
        ip_address=ip_address,
        user_agent=(user_agent or "")[:300] or None,
    )
    db.session.add(row)
    user.last_login_at = utcnow()
    return row


def load_login_session(session_id: str) -> LoginSession | None:
    """The live login behind a cookie, or None when it was revoked, expired or disabled."""
    # One query for the login, its user and their roles: this runs on every request.
    row = (
        db.session.execute(
            sa.select(LoginSession)
            .where(LoginSession.id == session_id)
            .options(joinedload(LoginSession.user).joinedload(User.role_rows))
        )
        .unique()
        .scalar_one_or_none()
    )
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    lifetime = timedelta(seconds=current_app.config["PERMANENT_SESSION_LIFETIME"])
    if row.created_at + lifetime < utcnow():
        return None
    return row


def revoke_login_session(session_id: str) -> None:
    db.session.execute(
        sa.update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_user_sessions(user: User) -> int:
    """End every login of a user (disabling, password reset); returns how many."""
    result = db.session.execute(
        sa.update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount


@dataclass(frozen=True)
class Lockout:
    retry_after_seconds: int

    @property
    def minutes(self) -> int:
        return max(1, -(-self.retry_after_seconds // 60))


class LoginThrottle:
    """Counts failed logins in Redis so every web process shares one count.

    Two keys: per (email, address) stops guessing one account; per address alone
    stops spraying many accounts from one place.
    """

    def __init__(self, email: str, ip_address: str | None) -> None:
        config = current_app.config
        self.window = config["LOGIN_LOCKOUT_SECONDS"]
        self.limits = {
            f"leadline:login-fail:{email.lower()}:{ip_address}": config["LOGIN_MAX_FAILURES"],
            f"leadline:login-fail-ip:{ip_address}": config["LOGIN_MAX_FAILURES_PER_IP"],
        }
        self.redis = redis_connection()

    def lockout(self) -> Lockout | None:
        with self.redis.pipeline() as pipe:
            for key in self.limits:
                pipe.get(key)
                pipe.ttl(key)
            replies = pipe.execute()
        for (_, limit), count, ttl in zip(
            self.limits.items(), replies[::2], replies[1::2], strict=True
        ):
            if count is not None and int(count) >= limit:
                return Lockout(retry_after_seconds=max(int(ttl), 1))
        return None

    def record_failure(self) -> None:
        with self.redis.pipeline() as pipe:
            for key in self.limits:
                # The window starts at the first failure and later ones do not extend it
                # (SET NX EX then INCR keeps the TTL; EXPIRE NX needs Redis 7).
                pipe.set(key, 0, ex=self.window, nx=True)
                pipe.incr(key)
            pipe.execute()

    def clear(self) -> None:
        self.redis.delete(next(iter(self.limits)))
