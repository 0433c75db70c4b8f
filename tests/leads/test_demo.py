"""The demo seed: users, a team, lists and messy but normalized leads, safe to rerun."""

from __future__ import annotations

import re
from collections import Counter

import sqlalchemy as sa

from app.extensions import db
from app.models import Role, Team, User, UserRole
from leads.demo import DEMO_DOMAIN, DEMO_LISTS, TEAM_NAME, generate_lead_rows
from leads.models import Activity, ActivityType, Lead, LeadList

LEADS = 300


def _seed(runner, *args: str) -> str:
    result = runner.invoke(args=["demo", "seed", "--leads", str(LEADS), *args])
    assert result.exit_code == 0, result.output
    return result.output


def _count(query: sa.Select) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0


def _counts() -> dict[str, int]:
    counts = {
        "users": _count(sa.select(User.id).where(User.email.endswith(f"@{DEMO_DOMAIN}"))),
        "teams": _count(sa.select(Team.id)),
        "lists": _count(sa.select(LeadList.id)),
        "leads": _count(sa.select(Lead.id)),
        "activities": _count(sa.select(Activity.id)),
    }
    # End the read so the next seed (and SQLite's snapshot) starts fresh.
    db.session.commit()
    return counts


def _duplicates(column: sa.Column) -> list:
    return list(
        db.session.scalars(
            sa.select(column)
            .where(column.is_not(None))
            .group_by(column)
            .having(sa.func.count() > 1)
        )
    )


def test_seed_builds_the_demo_workspace(runner, workspace):
    output = _seed(runner)

    roles = Counter(
        db.session.scalars(
            sa.select(UserRole.role).join(User).where(User.email.endswith(f"@{DEMO_DOMAIN}"))
        )
    )
    assert roles == {"admin": 1, "manager": 1, "marketer": 1, "rep": 2, "caller": 2}
    assert all(u.workspace_id == workspace.id for u in db.session.scalars(sa.select(User)))
    team = db.session.scalar(sa.select(Team).where(Team.name == TEAM_NAME))
    assert team.manager.email == f"manager@{DEMO_DOMAIN}"
    assert sorted(r for m in team.members for r in m.roles) == [Role.CALLER] * 2 + [Role.REP] * 2
    lists = list(db.session.scalars(sa.select(LeadList)))
    assert {lst.name for lst in lists} == {spec.name for spec in DEMO_LISTS}
    assert all(lst.description and lst.call_script for lst in lists)
    assert f"Leads: added {LEADS} ({LEADS} demo leads" in output


def test_leads_are_messy_but_normalized(runner, workspace):
    _seed(runner)
    leads = list(db.session.scalars(sa.select(Lead)))

    assert len(leads) == LEADS
    invalid_phones = [lead for lead in leads if lead.phone_raw and not lead.phone_e164]
    assert invalid_phones and all(not lead.diallable for lead in invalid_phones)
    assert 0.01 < len(invalid_phones) / LEADS < 0.12
    diallable = [lead for lead in leads if lead.diallable]
    assert len(diallable) > LEADS * 0.75
    assert all(re.fullmatch(r"\+[1-9]\d{7,14}", lead.phone_e164) for lead in diallable)
    assert {lead.phone_region for lead in diallable} >= {"US", "CA", "GB", "DE"}
    assert any(lead.phone_raw != lead.phone_e164 for lead in diallable)
    invalid_emails = [lead for lead in leads if lead.email_raw and not lead.email_valid]
    assert invalid_emails and all(lead.email_key is None for lead in invalid_emails)
    assert any(lead.email_raw != lead.email_raw.lower() and lead.email_valid for lead in leads)
    assert all(lead.email_key == lead.email_key.lower() for lead in leads if lead.email_key)
    assert any(not (lead.first_name or "").isascii() for lead in leads)
    assert not _duplicates(Lead.phone_e164)
    assert not _duplicates(Lead.email_key)


def test_leads_are_spread_over_owners_statuses_and_the_timeline(runner, workspace):
    _seed(runner)
    owners = Counter(
        db.session.scalars(
            sa.select(UserRole.role)
            .select_from(Lead)
            .join(UserRole, UserRole.user_id == Lead.owner_id)
        )
    )
    assert set(owners) == {"rep", "caller"}
    assert _count(sa.select(Lead.id).where(Lead.owner_id.is_(None))) > 0
    statuses = Counter(db.session.scalars(sa.select(Lead.status)))
    assert statuses.most_common(1)[0][0] == "new"
    assert {"contacted", "connected", "qualified"} <= set(statuses)
    types = Counter(db.session.scalars(sa.select(Activity.type)))
    assert types[ActivityType.CREATED.value] == LEADS
    assert LEADS * 0.1 < types[ActivityType.NOTE.value] < LEADS * 0.3


def test_rerunning_changes_nothing(runner, workspace):
    _seed(runner)
    before = _counts()

    output = _seed(runner)

    assert _counts() == before
    assert output.count("(exists, left alone)") == 7
    assert f"{LEADS} demo leads already there; none added" in output


def test_rerunning_with_more_leads_tops_up_to_the_total(runner, workspace):
    _seed(runner, "--leads", "100")
    _seed(runner, "--leads", "130", "--seed", "7")

    assert _counts()["leads"] == 130
    assert not _duplicates(Lead.phone_e164)


def test_admin_signs_in_with_the_printed_password(runner, workspace, client):
    output = _seed(runner)
    match = re.search(rf"^\s*(admin@{re.escape(DEMO_DOMAIN)})\s+admin\s+(\S+)\s*$", output, re.M)
    assert match, output

    response = client.post("/login", data={"email": match[1], "password": match[2]})

    assert response.status_code == 302
    page = client.get("/leads?status=new")
    assert page.status_code == 200
    assert 'class="table leads-table"' in page.get_data(as_text=True)


def test_generated_rows_are_repeatable_and_unique():
    first = list(generate_lead_rows(500, 3, 1, [7, 8], [9]))
    again = list(generate_lead_rows(200, 3, 1, [7, 8], [9]))
    other = list(generate_lead_rows(200, 4, 1, [7, 8], [9]))

    def content(rows):
        return [{k: v for k, v in r.items() if k not in ("created_at", "updated_at")} for r in rows]

    assert content(first[:200]) == content(again)
    assert content(first[:200]) != content(other)
    assert len({frozenset(row) for row in first}) == 1, "executemany needs the same keys"
    phones = [r["phone_e164"] for r in first if r["phone_e164"]]
    emails = [r["email_key"] for r in first if r["email_key"]]
    assert len(phones) == len(set(phones)) and len(emails) == len(set(emails))
    assert {r["owner_id"] for r in first} == {7, 8, None}
