"""Background jobs of the app shell."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.database import refresh_statistics
from app.extensions import db
from app.models import LoginSession, User, utcnow
from app.queue import job


@job
def purge_login_sessions() -> int:
    """Delete login records that can no longer be used, and expired invites; safe to rerun."""
    lifetime = timedelta(seconds=current_app.config["PERMANENT_SESSION_LIFETIME"])
    # Revoked rows are kept a while so an admin can see recent sign-outs.
    deleted = db.session.execute(
        sa.delete(LoginSession).where(
            sa.or_(
                LoginSession.created_at < utcnow() - lifetime,
                LoginSession.revoked_at < utcnow() - timedelta(days=7),
            )
        )
    ).rowcount
    db.session.execute(
        sa.update(User)
        .where(User.invite_expires_at < utcnow())
        .values(invite_token_hash=None, invite_expires_at=None)
    )
    db.session.commit()
    return deleted


@job
def refresh_database_statistics() -> None:
    """Keep query plans good as the data grows (imports add leads in bulk)."""
    for engine in db.engines.values():
        refresh_statistics(engine)
