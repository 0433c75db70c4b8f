"""Saved views: the leads page's filters kept under a name, private or shared, and dialled."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.forms import parse_id
from app.models import User
from leads.dial_models import SavedView
from leads.models import Lead
from leads.queries import LeadFilters, filtered_leads

# The leads page's query-string keys, then the ones only a saved view carries.
PAGE_KEYS = ("q", "list", "owner", "status", "time_zone")
DIAL_KEYS = ("max_attempts", "last_outcome", "field", "field_value")
MAX_VIEW_NAME = 120


class ViewError(ValueError):
    """A view that cannot be saved; the message is for the user."""


def filters_from_args(args: Any) -> dict[str, str]:
    """The filters worth keeping from a query string or form: known keys, non-empty, trimmed."""
    return {
        key: str(args.get(key, "")).strip()[:200]
        for key in (*PAGE_KEYS, *DIAL_KEYS)
        if str(args.get(key, "")).strip()
    }


def save_view(user: User, name: str, filters: dict[str, str], shared: bool) -> SavedView:
    """Create or replace the user's view of that name; the caller commits."""
    name = name.strip()
    if not name or len(name) > MAX_VIEW_NAME:
        raise ViewError(f"Give the view a name of 1 to {MAX_VIEW_NAME} characters.")
    view = db.session.scalar(
        sa.select(SavedView).where(
            SavedView.workspace_id == user.workspace_id,
            SavedView.owner_id == user.id,
            SavedView.name == name,
        )
    )
    if view is None:
        view = SavedView(workspace_id=user.workspace_id, owner_id=user.id, name=name)
        db.session.add(view)
    view.filters, view.shared = filters, shared
    return view


def usable_views(user: User) -> list[SavedView]:
    """The user's own views and those shared in the workspace, by name."""
    return list(
        db.session.scalars(
            sa.select(SavedView)
            .where(
                SavedView.workspace_id == user.workspace_id,
                sa.or_(SavedView.owner_id == user.id, SavedView.shared.is_(True)),
            )
            .order_by(SavedView.name, SavedView.id)
        )
    )


def get_usable_view(user: User, view_id: int | None) -> SavedView | None:
    if view_id is None:
        return None
    view = db.session.get(SavedView, view_id)
    if view is None or view.workspace_id != user.workspace_id:
        return None
    return view if view.owner_id == user.id or view.shared else None


def view_query(user: User, filters: dict[str, str]) -> sa.Select[tuple[Lead]]:
    """Leads the user may see that match the view: the leads page's filters plus dial ones.

    A shared view narrows what each user sees; it never widens it.
    """
    query = filtered_leads(user, LeadFilters.from_args(MultiDict(filters)))
    if (ceiling := parse_id(filters.get("max_attempts"))) is not None:
        query = query.where(Lead.dial_attempts < ceiling)
    if outcome := filters.get("last_outcome"):
        query = query.where(Lead.dial_last_outcome == outcome)
    if (name := filters.get("field")) and "field_value" in filters:
        query = query.where(Lead.custom_fields[name].as_string() == filters["field_value"])
    return query


def describe(filters: dict[str, str]) -> str:
    """A short human summary of a view's filters."""
    if not filters:
        return "All leads you may see"
    labels = {"q": "search", "list": "list #", "max_attempts": "fewer attempts than"}
    return ", ".join(f"{labels.get(k, k.replace('_', ' '))} {v}" for k, v in filters.items())
