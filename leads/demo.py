"""Demo data: a believable, messy workspace built from a seed, with no downloads.

Leads are typed the way people type them (phones in a dozen formats, upper-case
emails, "N/A", decomposed accents) and then go through the lead form's own
normalization, so the demo shows what real imports look like after cleaning.

Nothing here can reach a real person: US and Canadian numbers use the 555
exchange (mostly the 555-0100..0199 block reserved for fiction), UK numbers
the Ofcom drama ranges, and every email and website lives under the reserved
``example`` names, because cadences send mail.

The pools leads are drawn from (places, names, companies, ways of writing a
phone or an email) and the demo lists live in :mod:`leads.demo_data`.
"""

from __future__ import annotations

import random
import secrets
import unicodedata
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import Role, Team, User, Workspace, utcnow
from app.users import create_user, default_workspace, save_team
from leads.demo_data import (
    BLANK_EMAILS,
    COMPANY_PREFIXES,
    COMPANY_SUFFIXES,
    COUNTRY_SPELLINGS,
    COUNTRY_WEIGHTS,
    CULTURE_WEIGHTS,
    DE_FORMATS,
    DE_MOBILE_PREFIXES,
    DEMO_LISTS,
    EMPLOYEE_BUCKETS,
    GB_FORMATS,
    INDUSTRIES,
    INVALID_EMAILS,
    INVALID_PHONES,
    LEAD_NOTES,
    NAMES,
    NANP_FORMATS,
    NATIONAL_FORMATS,
    NOTE_TEXTS,
    PERSONAL_DOMAINS,
    PLACES_BY_COUNTRY,
    ROLE_MAILBOXES,
    SOURCES,
    STATUS_WEIGHTS_OWNED,
    TITLES,
    Place,
)
from leads.editing import lead_columns as form_columns
from leads.editing import normalize_contact
from leads.models import Activity, ActivityType, Lead, LeadList, LeadStatus

DEMO_DOMAIN = "demo.leadline.test"
# Demo leads are recognised by this external id prefix, so a rerun counts them
# and tops them up instead of adding the same people again.
DEMO_EXTERNAL_PREFIX = "demo-"
TEAM_NAME = "Demo team"
BATCH_SIZE = 1000
DEFAULT_REGION = "US"
DAYS_OF_HISTORY = 120

# Shares of the generated input (before dedupe).
INVALID_PHONE_SHARE = 0.05
BLANK_PHONE_SHARE = 0.06
INVALID_EMAIL_SHARE = 0.05
BLANK_EMAIL_SHARE = 0.05
DUPLICATE_SHARE = 0.02
NOTE_SHARE = 0.2


# --------------------------------------------------------------------------
# The demo team
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    key: str
    name: str
    role: Role
    time_zone: str = "America/New_York"

    @property
    def email(self) -> str:
        return f"{self.key}@{DEMO_DOMAIN}"


DEMO_USERS = (
    DemoUser("admin", "Avery Stone", Role.ADMIN),
    DemoUser("manager", "Priya Raman", Role.MANAGER),
    DemoUser("marketer", "Tomás Herrera", Role.MARKETER),
    DemoUser("rep1", "Jordan Blake", Role.REP),
    DemoUser("rep2", "Mei Tanaka", Role.REP, "America/Los_Angeles"),
    DemoUser("caller1", "Kwame Mensah", Role.CALLER, "America/Chicago"),
    DemoUser("caller2", "Zoë Lindqvist", Role.CALLER, "Europe/London"),
)
OWNER_ROLES = frozenset({Role.REP, Role.CALLER})


# --------------------------------------------------------------------------
# Messy input, as a person would type it
# --------------------------------------------------------------------------


@dataclass
class RawLead:
    """One lead as typed: form field values plus what a duplicate needs to recur."""

    values: dict[str, Any]
    custom_fields: dict[str, str] = field(default_factory=dict)
    phone_parts: dict[str, str] | None = None
    phone_formats: tuple[tuple[str, int], ...] = ()


# Letters that NFKD leaves alone but no one puts in an email address.
# fmt: off
_ASCII_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "đ": "d",
                             "Đ": "D", "ı": "i", "æ": "ae", "œ": "oe", "'": "", "’": ""})
# fmt: on


def _pick(rng: random.Random, weighted: Sequence[tuple[Any, int]]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def ascii_fold(text: str) -> str:
    """Drop accents for email local parts and URL slugs: "Łukasz Wójcik" -> "Lukasz Wojcik"."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _slug(text: str, sep: str = "-") -> str:
    words = "".join(ch if ch.isalnum() else " " for ch in ascii_fold(text).lower()).split()
    return sep.join(words)


def _person(rng: random.Random, country: str) -> tuple[str, str]:
    culture = _pick(rng, list(CULTURE_WEIGHTS[country].items()))
    firsts, lasts = NAMES[culture]
    return rng.choice(firsts), rng.choice(lasts)


def _messy_name(rng: random.Random, name: str) -> str:
    roll = rng.random()
    if roll < 0.03:
        return unicodedata.normalize("NFD", name)  # pasted from a Mac export
    if roll < 0.05:
        return f" {name}\u00a0"
    if roll < 0.07:
        return name.upper()
    if roll < 0.08:
        return name.lower()
    if roll < 0.085:
        return f"{name}\u200b"
    return name


def _company(rng: random.Random, country: str, last: str) -> tuple[str | None, str, str]:
    """Company name, its industry and its email domain."""
    industry, words, german_words = rng.choice(INDUSTRIES)
    word = rng.choice(german_words if country == "DE" else words)
    suffix = _pick(rng, COMPANY_SUFFIXES[country])
    roll = rng.random()
    if roll < 0.15:
        name = f"{last} & Sons{suffix}" if country != "DE" else f"{last} {word}{suffix}"
    elif roll < 0.25:
        name = f"{last} {word}{suffix}"
    else:
        name = f"{rng.choice(COMPANY_PREFIXES)} {word}{suffix}"
    domain = f"{_slug(name.removesuffix(suffix) or name)}.example"
    messy = rng.random()
    if messy < 0.08:
        return None, industry, domain
    if messy < 0.10:
        return "N/A", industry, domain
    if messy < 0.13:
        return name.upper(), industry, domain
    if messy < 0.15:
        return f"{name}  ", industry, domain
    return name, industry, domain


def _nanp_digits(rng: random.Random, area: str, used: set[str]) -> tuple[str, str]:
    """(exchange, line) in the 555 exchange, unused so far; fictional 01xx lines first."""
    for attempt in range(12):
        # 555-0100..0199 is reserved for fiction; once an area code's block fills
        # up, other 555 lines are as good as unassigned.
        line = rng.randrange(100, 200) if attempt < 4 else rng.randrange(10000)
        key = f"1{area}555{line:04d}"
        if key not in used:
            used.add(key)
            break
    return "555", f"{line:04d}"


def _phone(rng: random.Random, place: Place, used: set[str]) -> RawLead:
    """A valid phone for the place, written in one of its many usual formats."""
    if place.country in ("US", "CA"):
        exchange, line = _nanp_digits(rng, place.code, used)
        parts = {"a": place.code, "e": exchange, "l": line, "x": str(rng.randrange(2, 9999))}
        formats = NANP_FORMATS
    elif place.country == "GB":
        tail = f"{rng.randrange(1000):03d}"
        number = place.local + tail
        used.add(f"44{place.code}{number}".replace(" ", ""))
        parts = {"c": place.code, "n": number, "m": number.replace(" ", "")}
        formats = GB_FORMATS
    else:
        parts = _german_number(rng, place)
        used.add(f"49{parts['c']}{parts['m']}")
        formats = DE_FORMATS
    return RawLead({}, phone_parts=parts, phone_formats=formats)


def _german_number(rng: random.Random, place: Place) -> dict[str, str]:
    if rng.random() < 0.25:
        code = rng.choice(DE_MOBILE_PREFIXES)
        # Eight digits fit every mobile prefix; 015x numbers have no shorter form.
        subscriber = f"{rng.randrange(2, 10)}{rng.randrange(10**7):07d}"
    else:
        code = place.code
        # Area code plus subscriber number make 10 digits in the big cities.
        length = 10 - len(code)
        subscriber = f"{rng.randrange(2, 10)}{rng.randrange(10 ** (length - 1)):0{length - 1}d}"
    grouped = f"{subscriber[:4]} {subscriber[4:]}"
    return {"c": code, "n": grouped, "m": subscriber}


def _format_phone(rng: random.Random, raw: RawLead, country_text: str | None) -> str:
    template = _pick(rng, raw.phone_formats)
    # A number written the national way needs its country to be read; leave
    # those without one to the invalid share instead of making them by accident.
    while template in NATIONAL_FORMATS and country_text is None:
        template = _pick(rng, raw.phone_formats)
    return template.format(**raw.phone_parts)


def _invalid_phone(rng: random.Random, place: Place, first: str) -> str:
    template = rng.choice(INVALID_PHONES)
    area = place.code if place.country in ("US", "CA") else "212"
    return template.format(
        a=area,
        first=first,
        d1=rng.randrange(10),
        d2=f"{rng.randrange(100):02d}",
        d3=f"{rng.randrange(1000):03d}",
    )


def _email_local(rng: random.Random, first: str, last: str) -> str:
    f, la = _slug(first, ""), _slug(last, "")
    pattern = rng.randrange(7)
    if pattern == 0:
        return f"{f}.{la}"
    if pattern == 1:
        return f"{f[:1]}{la}"
    if pattern == 2:
        return f
    if pattern == 3:
        return f"{f}_{la}"
    if pattern == 4:
        return f"{f}{la[:1]}"
    if pattern == 5:
        return f"{la}.{f}"
    return f"{f}.{la}{rng.randrange(1, 99)}"


def _email(rng: random.Random, first: str | None, last: str | None, domain: str) -> str | None:
    roll = rng.random()
    if roll < BLANK_EMAIL_SHARE:
        return rng.choice(BLANK_EMAILS)
    if first and last:
        local = _email_local(rng, first, last)
        if rng.random() < 0.25:
            domain = rng.choice(PERSONAL_DOMAINS)
            local = f"{local}{rng.randrange(10, 99)}"
    else:
        local = rng.choice(ROLE_MAILBOXES)
    if roll < BLANK_EMAIL_SHARE + INVALID_EMAIL_SHARE:
        bare = domain.rsplit(".", 1)[0]
        return rng.choice(INVALID_EMAILS).format(
            local=local, domain=domain, bare=bare, first=first or "info", last=last or "desk"
        )
    return _messy_email(rng, f"{local}@{domain}", first, last)


def _messy_email(rng: random.Random, address: str, first: str | None, last: str | None) -> str:
    roll = rng.random()
    if roll < 0.10:
        local, domain = address.split("@")
        return f"{local.title()}@{domain.title()}"
    if roll < 0.13:
        return address.upper()
    if roll < 0.15:
        return f"  {address} "
    if roll < 0.17:
        return f"<{address}>"
    if roll < 0.18:
        return f"mailto:{address}"
    if roll < 0.19 and first and last:
        return f"{first} {last} <{address}>"
    return address


def _profiles(
    rng: random.Random, first: str | None, last: str | None, domain: str
) -> dict[str, str | None]:
    handle = _slug(f"{first or 'team'} {last or 'desk'}")
    profiles: dict[str, str | None] = {
        "website": None,
        "linkedin_url": None,
        "x_url": None,
        "other_profile_url": None,
    }
    if rng.random() < 0.6:
        profiles["website"] = rng.choice(
            (f"https://www.{domain}", f"www.{domain}", f"http://{domain}/", domain)
        )
    if first and rng.random() < 0.35:
        slug = f"{handle}-{rng.randrange(16**4):04x}"
        profiles["linkedin_url"] = rng.choice(
            (f"https://www.linkedin.com/in/{slug}", f"linkedin.com/in/{slug}/")
        )
    if first and rng.random() < 0.10:
        tag = f"{handle.replace('-', '_')}{rng.randrange(100)}"
        profiles["x_url"] = rng.choice(
            (f"https://x.com/{tag}", f"https://twitter.com/{tag}", f"@{tag}")
        )
    if first and rng.random() < 0.04:
        profiles["other_profile_url"] = f"https://github.com/{handle}{rng.randrange(100)}"
    return profiles


def _place_fields(rng: random.Random, place: Place) -> dict[str, str | None]:
    roll = rng.random()
    state = place.state if roll < 0.7 else place.state_name if roll < 0.9 else None
    city = place.city if rng.random() < 0.93 else None
    if city and rng.random() < 0.03:
        city = f" {city.upper()} "
    return {"city": city, "state": state}


def _custom_fields(rng: random.Random, industry: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    if rng.random() < 0.85:
        fields["industry"] = industry
    if rng.random() < 0.75:
        fields["employees"] = _pick(rng, EMPLOYEE_BUCKETS)
    return fields


def raw_lead(rng: random.Random, used_numbers: set[str]) -> RawLead:
    """A new lead as someone would type it into a form or a spreadsheet."""
    country = _pick(rng, list(COUNTRY_WEIGHTS.items()))
    place = rng.choice(PLACES_BY_COUNTRY[country])
    first, last = _person(rng, country)
    company, industry, domain = _company(rng, country, last)
    person_first: str | None = first
    person_last: str | None = last
    values: dict[str, Any] = {
        "first_name": _messy_name(rng, first),
        "last_name": _messy_name(rng, last),
        "full_name": None,
    }
    roll = rng.random()
    if roll < 0.05:  # one "name" cell, as many exports have
        values.update(first_name=None, last_name=None, full_name=f"{first} {last}")
    elif roll < 0.07 and company:  # a company switchboard, nobody by name
        values.update(first_name=None, last_name=None)
        person_first = person_last = None
    elif roll < 0.08:
        values["first_name"] = "N/A"
    country_text = _pick(rng, COUNTRY_SPELLINGS[country])
    if country == "GB" and rng.random() < 0.15:
        country_text = place.state  # "England", "Scotland"…
    values.update(
        company=company,
        title=_pick(rng, TITLES),
        country=country_text,
        email=_email(rng, person_first, person_last, domain),
        source=_pick(rng, SOURCES),
        notes=rng.choice(LEAD_NOTES) if rng.random() < 0.08 else None,
        birthday=_birthday(rng),
        **_place_fields(rng, place),
        **_profiles(rng, person_first, person_last, domain),
    )
    lead = RawLead(values, _custom_fields(rng, industry))
    _add_phone(rng, lead, place, first, used_numbers)
    return lead


def _add_phone(
    rng: random.Random, lead: RawLead, place: Place, first: str, used_numbers: set[str]
) -> None:
    roll = rng.random()
    if roll < BLANK_PHONE_SHARE:
        lead.values["phone"] = rng.choice((None, "", "N/A", "n/a", "-"))
    elif roll < BLANK_PHONE_SHARE + INVALID_PHONE_SHARE:
        lead.values["phone"] = _invalid_phone(rng, place, first)
    else:
        phone = _phone(rng, place, used_numbers)
        lead.phone_parts, lead.phone_formats = phone.phone_parts, phone.phone_formats
        lead.values["phone"] = _format_phone(rng, lead, lead.values["country"])


def _birthday(rng: random.Random) -> date | None:
    if rng.random() >= 0.04:
        return None
    return date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 50))


def duplicate_of(rng: random.Random, earlier: RawLead) -> RawLead:
    """The same person again, typed differently: the dedupe must catch it."""
    values = dict(earlier.values)
    if earlier.phone_parts:
        values["phone"] = _format_phone(rng, earlier, values["country"])
    if values.get("email"):
        values["email"] = str(values["email"]).strip().upper()
    if values.get("first_name") and rng.random() < 0.5:
        values["first_name"] = str(values["first_name"]).strip().lower()
    return RawLead(values, dict(earlier.custom_fields), earlier.phone_parts, earlier.phone_formats)


# --------------------------------------------------------------------------
# Normalized rows, ready for insert
# --------------------------------------------------------------------------


def lead_columns(raw: RawLead, default_region: str = DEFAULT_REGION) -> dict[str, Any]:
    """Normalize a raw lead exactly as the lead form does; returns Lead column values."""
    values = raw.values
    phone, email, country = normalize_contact(
        values.get("phone"), values.get("email"), values.get("country"), default_region
    )
    columns = form_columns(values, phone, email, country)
    columns["custom_fields"] = raw.custom_fields
    return columns


def _collides(columns: dict[str, Any], phones: set[str], emails: set[str]) -> bool:
    phone, email = columns["phone_e164"], columns["email_key"]
    if (phone and phone in phones) or (email and email in emails):
        return True
    if phone:
        phones.add(phone)
    if email:
        emails.add(email)
    return False


def _assign(
    rng: random.Random, owner_ids: Sequence[int], list_ids: Sequence[int]
) -> dict[str, Any]:
    owner_id = rng.choice(owner_ids) if owner_ids and rng.random() < 0.8 else None
    # Only someone working a lead moves it past "new".
    status = _pick(rng, STATUS_WEIGHTS_OWNED) if owner_id else LeadStatus.NEW
    list_id = rng.choice(list_ids) if list_ids and rng.random() < 0.9 else None
    return {"owner_id": owner_id, "status": status.value, "list_id": list_id}


def generate_lead_rows(
    count: int,
    seed: int,
    workspace_id: int,
    owner_ids: list[int],
    list_ids: list[int],
    *,
    default_region: str = DEFAULT_REGION,
    stats: Counter[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` normalized Lead rows for ``insert()``, the same ones for the same seed.

    Rows that collide with an earlier one on ``phone_e164`` or ``email_key`` (the
    generator repeats ~2% of people in another format, as real lists do) are
    skipped and counted in ``stats["duplicates_skipped"]``. Every row has every
    column, as executemany needs, and ``created_at`` grows with the row number.
    """
    rng = random.Random(seed)
    stats = stats if stats is not None else Counter()
    used_numbers: set[str] = set()
    phones: set[str] = set()
    emails: set[str] = set()
    recent: deque[RawLead] = deque(maxlen=500)
    start = utcnow().replace(microsecond=0) - timedelta(days=DAYS_OF_HISTORY)
    step = timedelta(days=DAYS_OF_HISTORY) / max(count, 1)
    made = 0
    while made < count:
        if recent and rng.random() < DUPLICATE_SHARE:
            raw = duplicate_of(rng, rng.choice(recent))
        else:
            raw = raw_lead(rng, used_numbers)
            recent.append(raw)
        columns = lead_columns(raw, default_region)
        if _collides(columns, phones, emails):
            stats["duplicates_skipped"] += 1
            continue
        made += 1
        created_at = start + step * made
        columns.update(
            _assign(rng, owner_ids, list_ids),
            workspace_id=workspace_id,
            external_id=f"{DEMO_EXTERNAL_PREFIX}{seed}-{made:07d}",
            created_at=created_at,
            updated_at=created_at,
        )
        yield columns


# --------------------------------------------------------------------------
# Seeding the default workspace
# --------------------------------------------------------------------------


@dataclass
class DemoUserResult:
    user: User
    role: Role
    password: str | None  # None: the user existed and was left alone


@dataclass
class SeedReport:
    users: list[DemoUserResult]
    team_created: bool
    lists_created: int
    leads_total: int = 0
    leads_added: int = 0
    duplicates_skipped: int = 0
    already_in_workspace: int = 0
    invalid_phones: int = 0
    invalid_emails: int = 0
    notes_added: int = 0


def seed_demo(lead_count: int, seed: int) -> SeedReport:
    """Fill the default workspace with demo users, a team, lists and leads; idempotent."""
    workspace = default_workspace()
    users = ensure_demo_users(workspace)
    team_created = ensure_demo_team(workspace, users)
    lists = ensure_demo_lists(workspace)
    report = SeedReport(users, team_created, sum(created for _, created in lists))
    db.session.commit()
    # By the roles users hold now: an admin may have changed a demo user's.
    owner_ids = [
        r.user.id
        for r in users
        if r.user.has_role(*OWNER_ROLES) and r.user.active and r.user.workspace_id == workspace.id
    ]
    list_ids = [lead_list.id for lead_list, _ in lists]
    admin = next(r.user for r in users if r.role is Role.ADMIN)
    add_demo_leads(workspace, lead_count, seed, owner_ids, list_ids, admin.id, report)
    return report


def ensure_demo_users(workspace: Workspace) -> list[DemoUserResult]:
    """Create the missing demo users with random passwords; existing ones are left alone."""
    results = []
    for spec in DEMO_USERS:
        user = db.session.scalar(sa.select(User).where(User.email == spec.email))
        password = None
        if user is None:
            password = secrets.token_urlsafe(12)
            user, _ = create_user(
                workspace,
                email=spec.email,
                name=spec.name,
                roles={spec.role},
                password=password,
                time_zone=spec.time_zone,
            )
        results.append(DemoUserResult(user, spec.role, password))
    return results


def ensure_demo_team(workspace: Workspace, users: list[DemoUserResult]) -> bool:
    """Create "Demo team" with the reps and callers; returns whether it was created."""
    team = db.session.scalar(
        sa.select(Team).where(Team.workspace_id == workspace.id, Team.name == TEAM_NAME)
    )
    created = team is None
    if team is None:
        manager = next(r.user for r in users if r.role is Role.MANAGER)
        team = save_team(workspace, None, name=TEAM_NAME, manager_id=manager.id)
    for result in users:
        # Only users made just now: an existing user's team is someone's decision.
        if result.password is not None and result.role in OWNER_ROLES:
            result.user.team_id = team.id
    return created


def ensure_demo_lists(workspace: Workspace) -> list[tuple[LeadList, bool]]:
    """The demo lists, created when missing; pairs of (list, created)."""
    lists = []
    for spec in DEMO_LISTS:
        lead_list = db.session.scalar(
            sa.select(LeadList).where(
                LeadList.workspace_id == workspace.id, LeadList.name == spec.name
            )
        )
        created = lead_list is None
        if lead_list is None:
            lead_list = LeadList(
                workspace_id=workspace.id,
                name=spec.name,
                description=spec.description,
                call_script=spec.call_script,
            )
            db.session.add(lead_list)
            db.session.flush()
        lists.append((lead_list, created))
    return lists


def count_demo_leads(workspace_id: int) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count(Lead.id)).where(
                Lead.workspace_id == workspace_id,
                Lead.external_id.startswith(DEMO_EXTERNAL_PREFIX, autoescape=True),
            )
        )
        or 0
    )


def add_demo_leads(
    workspace: Workspace,
    lead_count: int,
    seed: int,
    owner_ids: list[int],
    list_ids: list[int],
    admin_id: int,
    report: SeedReport,
) -> None:
    """Insert generated leads until the workspace holds ``lead_count`` demo leads."""
    existing = count_demo_leads(workspace.id)
    missing = lead_count - existing
    if missing <= 0:
        report.leads_total = existing
        return
    stats: Counter[str] = Counter()
    notes_rng = random.Random(f"notes-{seed}")
    rows = generate_lead_rows(
        lead_count,
        seed,
        workspace.id,
        owner_ids,
        list_ids,
        default_region=workspace.default_region,
        stats=stats,
    )
    for batch in batched(rows, BATCH_SIZE):
        new_rows = _not_in_database(workspace.id, batch)
        report.already_in_workspace += len(batch) - len(new_rows)
        fresh = new_rows[:missing]
        if fresh:
            lead_ids = insert_leads(fresh)
            report.notes_added += insert_activities(lead_ids, fresh, admin_id, notes_rng)
            db.session.commit()
            _count_added(report, fresh)
        missing -= len(fresh)
        if missing <= 0:
            break
    report.duplicates_skipped = stats["duplicates_skipped"]
    report.leads_total = count_demo_leads(workspace.id)


def _count_added(report: SeedReport, rows: list[dict[str, Any]]) -> None:
    report.leads_added += len(rows)
    report.invalid_phones += sum(bool(r["phone_raw"] and not r["diallable"]) for r in rows)
    report.invalid_emails += sum(bool(r["email_raw"] and not r["email_valid"]) for r in rows)


def batched(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _not_in_database(workspace_id: int, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop rows whose phone, email or external id the workspace already has."""
    taken = {
        name: _taken(workspace_id, name, {row[name] for row in batch if row[name]})
        for name in ("phone_e164", "email_key", "external_id")
    }
    return [row for row in batch if not any(row[n] in taken[n] for n in taken if row[n])]


def _taken(workspace_id: int, name: str, values: set[str]) -> set[str]:
    if not values:
        return set()
    column = Lead.__table__.c[name]
    query = sa.select(column).where(Lead.workspace_id == workspace_id, column.in_(values))
    return set(db.session.scalars(query))


def insert_leads(rows: list[dict[str, Any]]) -> list[int]:
    """One multi-row INSERT per batch; returns the new ids in the rows' order."""
    table = Lead.__table__
    statement = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(db.session.scalars(statement, rows))


def insert_activities(
    lead_ids: list[int], rows: list[dict[str, Any]], admin_id: int, rng: random.Random
) -> int:
    """A "created" activity per lead and a note on about one in five; returns the notes."""
    now = utcnow()
    activities = []
    notes = 0
    for lead_id, row in zip(lead_ids, rows, strict=True):
        activities.append(
            _activity(
                lead_id, ActivityType.CREATED, None, row["created_at"], "Created from demo data", {}
            )
        )
        if rng.random() < NOTE_SHARE:
            text = rng.choice(NOTE_TEXTS)
            at = min(row["created_at"] + timedelta(hours=rng.uniform(1, 96)), now)
            activities.append(
                _activity(
                    lead_id,
                    ActivityType.NOTE,
                    row["owner_id"] or admin_id,
                    at,
                    text,
                    {"text": text},
                )
            )
            notes += 1
    db.session.execute(sa.insert(Activity.__table__), activities)
    return notes


def _activity(
    lead_id: int,
    kind: ActivityType,
    actor_id: int | None,
    at: datetime,
    summary: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "type": kind.value,
        "actor_id": actor_id,
        "occurred_at": at,
        "summary": summary,
        "data": data,
    }
