"""What an erasure leaves behind: its audit row and keyed hashes that keep the person out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models import User, enum_check, utcnow
from leads.models import ContactKind, JSONType


class LeadErasure(db.Model):
    """One erasure: who, when, a hash of the person and counts of what went; no personal data."""

    __tablename__ = "lead_erasures"
    __table_args__ = (
        sa.Index("ix_lead_erasures_workspace_erased_at", "workspace_id", "erased_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    erased_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The keyed hash of the person's first contact: proves which request this was
    # when the person asks again, without saying who they are.
    subject_digest: Mapped[str] = mapped_column(sa.String(64))
    lead_count: Mapped[int] = mapped_column(default=0)
    removed: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    erased_by: Mapped[User | None] = relationship()


class ErasedContact(db.Model):
    """An erased phone or email as an HMAC under the workspace's key: imports and captures
    of the same contact are refused, and nobody can read back who it was."""

    __tablename__ = "erased_contacts"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "kind", "digest"),
        enum_check("kind", tuple(k.value for k in ContactKind)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    kind: Mapped[str] = mapped_column(sa.String(10))
    digest: Mapped[str] = mapped_column(sa.String(64))
    erasure_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("lead_erasures.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
