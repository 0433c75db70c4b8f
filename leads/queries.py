"""Query builders for leads, always scoped to what a user may see."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import phonenumbers
import sqlalchemy as sa

from app.extensions import db
from app.forms import parse_id
from app.models import User
from leads.models import Lead, LeadList, LeadStatus, display_name

PAGE_SIZE = 50
_DIGITS = re.compile(r"\D+")


def visible_leads(user: User) -> sa.Select[tuple[Lead]]:
    """Leads of the user's workspace; reps and callers see only their own."""
    query = sa.select(Lead).where(
        Lead.workspace_id == user.workspace_id, Lead.pending_import_id.is_(None)
    )
    if not user.sees_all_leads:
        query = query.where(Lead.owner_id == user.id)
    return query


def get_visible_lead(user: User, lead_id: int) -> Lead | None:
    return db.session.scalar(visible_leads(user).where(Lead.id == lead_id))


@dataclass
class LeadFilters:
    """The leads page's filters as read from the query string."""

    q: str = ""
    list_id: int | None = None
    owner: str = ""  # "", "me", "none" or a user id
    status: str = ""
    time_zone: str = ""
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args) -> LeadFilters:
        filters = cls(
            q=(args.get("q") or "").strip()[:200],
            owner=args.get("owner", ""),
            status=args.get("status", ""),
            time_zone=(args.get("time_zone") or "").strip(),
        )
        list_id = args.get("list", "")
        filters.list_id = parse_id(list_id)
        if filters.status and filters.status not in {s.value for s in LeadStatus}:
            filters.errors.append(f"Unknown status {filters.status!r}; showing all.")
            filters.status = ""
        return filters

    @property
    def active(self) -> bool:
        return bool(self.q or self.list_id or self.owner or self.status or self.time_zone)


def filtered_leads(user: User, filters: LeadFilters) -> sa.Select[tuple[Lead]]:
    query = visible_leads(user)
    if filters.list_id:
        query = query.where(Lead.list_id == filters.list_id)
    if filters.owner == "me":
        query = query.where(Lead.owner_id == user.id)
    elif filters.owner == "none":
        query = query.where(Lead.owner_id.is_(None))
    elif (owner_id := parse_id(filters.owner)) is not None:
        query = query.where(Lead.owner_id == owner_id)
    if filters.status:
        query = query.where(Lead.status == filters.status)
    if filters.time_zone:
        query = query.where(Lead.time_zone == filters.time_zone)
    if filters.q:
        calling_code = phonenumbers.country_code_for_region(user.workspace.default_region)
        query = query.where(_search_condition(filters.q, calling_code or None))
    return query


# Name columns searched by prefix; each has a (workspace_id, lower(column)) index.
NAME_SEARCH_COLUMNS = (Lead.first_name, Lead.last_name, Lead.full_name, Lead.company)
# Below these lengths a prefix matches so many leads that walking the newest ones
# until a page is full beats collecting and sorting every match.
MIN_INDEXED_NAME_PREFIX = 2
MIN_PHONE_PREFIX_DIGITS = 7


def _search_condition(q: str, default_calling_code: int | None) -> sa.ColumnElement[bool]:
    digits = _DIGITS.sub("", q)
    if "@" in q:
        return _prefix(Lead.email_key, q.lower())
    if len(digits) >= 4 and len(digits) >= len(q.replace(" ", "")) // 2:
        if len(digits) < MIN_PHONE_PREFIX_DIGITS:
            return Lead.phone_e164.contains(digits, autoescape=True)
        # Typed without "+": either the full international number or a national
        # one in the workspace's default country.
        prefixes = {f"+{digits}"}
        if default_calling_code and not q.lstrip().startswith("+"):
            prefixes.add(f"+{default_calling_code}{digits.removeprefix('0')}")
        return sa.or_(*(_prefix(Lead.phone_e164, p) for p in sorted(prefixes)))
    pattern = q.lower()
    if len(pattern) < MIN_INDEXED_NAME_PREFIX:
        return sa.func.lower(Lead.first_name).startswith(pattern, autoescape=True)
    return sa.or_(
        *(_prefix(sa.func.lower(column), pattern) for column in NAME_SEARCH_COLUMNS),
        _prefix(Lead.email_key, pattern),
    )


def _prefix(column: sa.ColumnElement[str], prefix: str) -> sa.ColumnElement[bool]:
    """``column`` starts with ``prefix``, written so a b-tree index on it is used.

    LIKE alone is not index-assisted (SQLite's LIKE is case-insensitive and
    PostgreSQL's needs a pattern-ops index); the range narrows through the index
    and LIKE keeps the answer exact whatever the collation.
    """
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return sa.and_(column >= prefix, column < upper, column.startswith(prefix, autoescape=True))


@dataclass(frozen=True, slots=True)
class LeadRow:
    """What one line of the leads table shows, read without building ORM objects.

    Hydrating 50 Lead objects plus their owners and lists cost more than the query
    and the rendering together; a page of plain rows costs a fifth of that.
    """

    id: int
    first_name: str | None
    last_name: str | None
    full_name: str | None
    company: str | None
    title: str | None
    phone_e164: str | None
    phone_raw: str | None
    email: str | None
    email_raw: str | None
    status: str
    owner_name: str | None
    list_name: str | None

    @property
    def display_name(self) -> str:
        return display_name(self)

    @property
    def status_label(self) -> str:
        return LeadStatus(self.status).label


_ROW_COLUMNS = (
    Lead.id, Lead.first_name, Lead.last_name, Lead.full_name, Lead.company, Lead.title,
    Lead.phone_e164, Lead.phone_raw, Lead.email, Lead.email_raw, Lead.status,
    User.name.label("owner_name"), LeadList.name.label("list_name"),
)  # fmt: skip


@dataclass(frozen=True)
class LeadPage:
    leads: list[LeadRow]
    next_cursor: int | None
    prev_cursor: int | None


def _rows(query: sa.Select[tuple[Lead]]) -> list[LeadRow]:
    query = (
        query.with_only_columns(*_ROW_COLUMNS)
        .outerjoin(User, User.id == Lead.owner_id)
        .outerjoin(LeadList, LeadList.id == Lead.list_id)
        .limit(PAGE_SIZE + 1)
    )
    return [LeadRow(*row) for row in db.session.execute(query)]


def lead_page(
    query: sa.Select[tuple[Lead]], after: int | None = None, before: int | None = None
) -> LeadPage:
    """One page newest first, by keyset on id: the cost stays flat however deep one pages.

    ``after`` continues past an id (older leads); ``before`` goes back (newer leads).
    """
    if before is not None:
        rows = _rows(query.where(Lead.id > before).order_by(Lead.id.asc()))
        has_newer = len(rows) > PAGE_SIZE
        rows = list(reversed(rows[:PAGE_SIZE]))
        return LeadPage(
            rows, rows[-1].id if rows else None, rows[0].id if has_newer and rows else None
        )
    if after is not None:
        query = query.where(Lead.id < after)
    rows = _rows(query.order_by(Lead.id.desc()))
    has_older = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return LeadPage(
        rows,
        next_cursor=rows[-1].id if has_older else None,
        prev_cursor=rows[0].id if after is not None and rows else None,
    )


COUNT_CAP = 10_000


def count_leads(query: sa.Select[tuple[Lead]]) -> tuple[int, bool]:
    """How many leads match, counting at most COUNT_CAP; True when there are more.

    An exact count of a million rows takes tens of milliseconds on every filter
    change, and nobody reads "1,000,000" differently from "10,000+".
    """
    capped = query.with_only_columns(Lead.id).order_by(None).limit(COUNT_CAP + 1).subquery()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(capped)) or 0
    return min(total, COUNT_CAP), total > COUNT_CAP
