"""Rotation pages: rule editor validation, preview, availability forms, handover, report, badge."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Role, User
from leads.models import Activity, Lead
from leads.rotation import assign_unassigned
from leads.rotation_models import RepAwayPeriod, RepSettings, RotationRule
from tests.leads.rotation_helpers import add_leads, make_rule, owners


def rule_form(reps, weights=None, **fields):
    data = {"name": "Inbound", "position": "1", "method": "weighted", "list_id": "0",
            "max_rotations": "2", "enabled": "y", **fields}  # fmt: skip
    data["member"] = [str(r.id) for r in reps]
    for rep, weight in zip(reps, weights or [], strict=False):
        data[f"weight-{rep.id}"] = weight
    return data


def test_a_rule_is_saved_and_previewed(client, login, make_user):
    login(make_user(Role.MARKETER))
    reps = [make_user(Role.REP, name=n) for n in ("Ann", "Bob")]
    response = client.post("/rotation/rules/new", data=rule_form(reps, ["1", "3"], source="Web"))
    assert response.status_code == 302
    rule = db.session.scalar(sa.select(RotationRule))
    assert rule.source == "Web" and {m.weight for m in rule.members} == {1.0, 3.0}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    preview = page[page.index('id="preview"') :]
    bob, ann = preview.count("<strong>Bob</strong>"), preview.count("<strong>Ann</strong>")
    assert bob + ann == 10 and bob in (7, 8)
    assert "furthest behind a 75% share" in preview


def test_bad_rules_say_why_and_keep_what_was_typed(client, login, make_user):
    login(make_user(Role.MANAGER))
    reps = [make_user(Role.REP, name="Ann")]
    cases = [
        (rule_form([], name="Empty pool"), "Choose at least one rep"),
        (rule_form(reps, ["-2"], name="Negative"), "must be a positive number"),
        (rule_form(reps, ["lots"], name="Words"), "must be a positive number"),
        (rule_form(reps, ["1"], name="No SLA", sla_hours="0"), "Hours must be above zero"),
        (rule_form(reps, ["1"], name="Half field", field_name="tier"), "Give both"),
    ]
    for data, message in cases:
        response = client.post("/rotation/rules/new", data=data)
        page = response.get_data(as_text=True)
        assert response.status_code == 422, data["name"]
        assert message in page, data["name"]
        assert f'value="{data["name"]}"' in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RotationRule)) == 0
    blank = rule_form(reps, [""], name="Blanks", position="", max_rotations="")
    assert client.post("/rotation/rules/new", data=blank).status_code == 302
    saved = db.session.scalar(sa.select(RotationRule))
    assert (saved.position, saved.max_rotations, saved.members[0].weight) == (0, 2, 1.0)
    weird = client.post("/rotation/rules/new", data=rule_form(reps, ["<b>x</b>"]))
    assert "<b>x</b>" not in weird.get_data(as_text=True)


def test_bad_availability_says_why_and_keeps_what_was_typed(client, login, make_user):
    login(make_user(Role.MANAGER))
    rep = make_user(Role.REP, name="Ann")
    response = client.post(
        f"/rotation/reps/{rep.id}",
        data={"accepts_leads": "y", "daily_cap": "-1", "open_cap": "40", "work_days": ["1", "2"]},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "daily cap cannot be below zero" in page and 'value="40"' in page
    huge = client.post(f"/rotation/reps/{rep.id}", data={"open_cap": "9" * 30, "work_days": ["1"]})
    assert huge.status_code == 422 and "at most 1,000,000" in huge.get_data(as_text=True)
    ok = client.post(f"/rotation/reps/{rep.id}", data={
        "accepts_leads": "y", "daily_cap": "5", "work_days": ["1", "2"],
        "work_start": "09:00", "work_end": "17:00"})  # fmt: skip
    assert ok.status_code == 302
    settings = db.session.get(RepSettings, rep.id)
    assert (settings.daily_cap, settings.work_days) == (5, "12")


def test_overlapping_away_periods_are_refused(client, login, make_user):
    login(make_user(Role.MANAGER))
    rep = make_user(Role.REP)
    first = {"starts_on": "2026-12-01", "ends_on": "2026-12-05", "note": "Holiday"}
    assert client.post(f"/rotation/reps/{rep.id}/away", data=first).status_code == 302
    clash = {"starts_on": "2026-12-05", "ends_on": "2026-12-09", "note": "Course"}
    response = client.post(f"/rotation/reps/{rep.id}/away", data=clash)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Overlaps the away period" in page
    assert 'value="Course"' in page and 'value="2026-12-09"' in page
    backwards = client.post(f"/rotation/reps/{rep.id}/away",
                            data={"starts_on": "2026-12-20", "ends_on": "2026-12-10"})  # fmt: skip
    assert backwards.status_code == 422 and "before the start" in backwards.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RepAwayPeriod)) == 1


def test_disabling_a_rep_asks_where_the_leads_go(client, login, admin, make_user, workspace):
    login(admin)
    leaving, staying = make_user(Role.REP, name="Leaving"), make_user(Role.REP, name="Staying")
    make_rule(workspace.id, [leaving, staying])
    ids = add_leads(workspace.id, 4, owner_id=leaving.id)
    response = client.post(f"/admin/users/{leaving.id}/disable")
    assert response.headers["Location"].endswith(f"/rotation/handover/{leaving.id}")
    assert db.session.get(User, leaving.id).active  # not before the leads have somewhere to go
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<strong>4</strong> open lead(s)" in page
    client.post(f"/rotation/handover/{leaving.id}", data={"to_user_id": str(staying.id)})
    db.session.expire_all()
    assert not db.session.get(User, leaving.id).active
    assert {owners()[i] for i in ids} == {staying.id}
    audits = db.session.scalars(sa.select(Activity.data).where(Activity.lead_id.in_(ids))).all()
    assert all(a["from"] == leaving.id and a["to"] == staying.id for a in audits)
    assert len(audits) == 4


def test_handover_back_to_the_rotation_skips_the_leaving_rep(
    client, login, admin, make_user, workspace
):
    login(admin)
    leaving, others = make_user(Role.REP), [make_user(Role.REP), make_user(Role.REP)]
    make_rule(workspace.id, [leaving, *others])
    ids = add_leads(workspace.id, 4, owner_id=leaving.id)
    client.post(f"/rotation/handover/{leaving.id}", data={"to_user_id": "0"})
    assign_unassigned(workspace.id)  # what the enqueued job does
    db.session.commit()
    assert {owners()[i] for i in ids} == {o.id for o in others}


def test_report_counts_assignments_and_exports(client, login, make_user, workspace):
    login(make_user(Role.MARKETER))
    reps = [make_user(Role.REP, name=n) for n in ("Ann", "Bob")]
    make_rule(workspace.id, {reps[0]: 1, reps[1]: 3}, method="weighted")
    add_leads(workspace.id, 8)
    assign_unassigned(workspace.id)
    db.session.commit()
    page = client.get("/rotation/report").get_data(as_text=True)
    assert "75.0%" in page and "25.0%" in page
    csv_text = client.get("/rotation/report?format=csv").get_data(as_text=True)
    assert csv_text.splitlines()[1:] == ["Ann,2,2,0,0", "Bob,6,6,0,0"]


def test_reps_see_a_badge_with_their_new_leads(client, login, make_user, workspace):
    rep = make_user(Role.REP)
    make_rule(workspace.id, [rep])
    add_leads(workspace.id, 3)
    assign_unassigned(workspace.id)
    db.session.commit()
    login(rep)
    assert 'hx-get="/rotation/badge"' in client.get("/leads").get_data(as_text=True)
    assert "3 new" in client.get("/rotation/badge", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )


def test_bulk_reassign_by_ids_and_bad_ids(client, login, make_user, workspace):
    login(make_user(Role.MANAGER))
    ann, bob = make_user(Role.REP, name="Ann"), make_user(Role.REP, name="Bob")
    ids = add_leads(workspace.id, 3, owner_id=ann.id)
    bad = client.post("/rotation/reassign", data={"lead_ids": "1, x", "to_user_id": str(bob.id)})
    assert bad.status_code == 422 and 'value="1, x"' in bad.get_data(as_text=True)
    client.post(
        "/rotation/reassign", data={"lead_ids": f"{ids[0]},{ids[1]}", "to_user_id": str(bob.id)}
    )
    assert [owners()[i] for i in ids] == [bob.id, bob.id, ann.id]
    assert db.session.get(Lead, ids[0]).rotation_rule_id is None
