"""The leads pages through the real app: form, normalization, dedupe, scoping, list, timeline."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from leads.models import Activity, Lead, LeadList

FORM = {"status": "new", "owner_id": "0", "list_id": "0"}


def create(client, **fields):
    return client.post("/leads/new", data={**FORM, **fields})


@pytest.fixture
def rep_client(client, make_user, login):
    rep = make_user(Role.REP, name="Rita Rep")
    login(rep)
    client.user = rep
    return client


def test_new_lead_is_normalized(rep_client):
    response = create(
        rep_client,
        first_name="  José ",
        last_name="Ñúñez",
        company="Acme",
        phone="(415) 555-0134 x12",
        email="Jose.Nunez@EXAMPLE.com",
    )
    assert response.status_code == 302
    lead = db.session.scalar(sa.select(Lead))
    assert (lead.first_name, lead.phone_e164, lead.phone_extension) == (
        "José",
        "+14155550134",
        "12",
    )
    assert lead.email == "Jose.Nunez@example.com" and lead.email_key == "jose.nunez@example.com"
    assert lead.time_zone == "America/Los_Angeles" and lead.diallable
    assert lead.owner_id == rep_client.user.id
    card = rep_client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'href="tel:+14155550134;ext=12"' in card
    assert "America/Los_Angeles" in card  # the lead's local time
    assert "Created by Rita Rep" in card


def test_live_preview_shows_the_normalized_phone(rep_client):
    fragment = rep_client.get(
        "/leads/preview",
        query_string={"phone": "(415) 555-0134 x12"},
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "+14155550134 ext. 12" in fragment and "Local time" in fragment
    assert "<html" not in fragment


def test_malformed_phone_and_email_keep_what_was_typed(rep_client):
    response = create(rep_client, first_name="Bad", phone="12345", email="not-an-email@")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'value="12345"' in page and 'value="not-an-email@"' in page
    assert "phone number" in page.lower() and 'aria-invalid="true"' in page
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 0


def test_a_country_reads_national_numbers(rep_client):
    create(rep_client, first_name="Hans", phone="030 901820", country="Germany")
    lead = db.session.scalar(sa.select(Lead))
    assert lead.phone_e164 == "+4930901820" and lead.country == "DE"


def test_duplicates_are_refused_with_a_link(rep_client):
    create(rep_client, first_name="First", phone="+1 415 555 0134")
    response = create(rep_client, first_name="Second", phone="415-555-0134")
    assert response.status_code == 422
    assert "First already has this phone" in response.get_data(as_text=True)


def test_the_database_refuses_duplicates_too(app, workspace):
    db.session.add_all(
        [
            Lead(workspace_id=workspace.id, email_key="a@example.com"),
            Lead(workspace_id=workspace.id, email_key="a@example.com"),
        ]
    )
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_editing_records_what_changed(rep_client):
    create(rep_client, first_name="Ann", company="Old Co")
    lead = db.session.scalar(sa.select(Lead))
    rep_client.post(
        f"/leads/{lead.id}/edit",
        data={
            **FORM,
            "first_name": "Ann",
            "company": "New Co",
            "owner_id": str(rep_client.user.id),
        },
    )
    change = db.session.scalar(sa.select(Activity).where(Activity.type == "updated"))
    assert change.data["changes"] == {"company": ["Old Co", "New Co"]}
    # Saving again with nothing changed adds nothing to the timeline.
    rep_client.post(
        f"/leads/{lead.id}/edit",
        data={
            **FORM,
            "first_name": "Ann",
            "company": "New Co",
            "owner_id": str(rep_client.user.id),
        },
    )
    assert db.session.scalar(sa.select(sa.func.count()).where(Activity.type == "updated")) == 1


def test_reps_see_only_their_own_leads(app, client, make_user, login, workspace):
    mine, theirs = make_user(Role.REP), make_user(Role.REP)
    own = Lead(workspace_id=workspace.id, first_name="Mine", owner_id=mine.id)
    other = Lead(workspace_id=workspace.id, first_name="Theirs", owner_id=theirs.id)
    db.session.add_all([own, other])
    db.session.commit()
    login(mine)
    listing = client.get("/leads").get_data(as_text=True)
    assert "Mine" in listing and "Theirs" not in listing
    assert client.get(f"/leads/{other.id}").status_code == 404
    assert client.get(f"/leads/{other.id}/edit").status_code == 404
    assert client.post(f"/leads/{other.id}/notes", data={"text": "hi"}).status_code == 404


def test_managers_see_all_and_filter(app, client, make_user, login, workspace):
    rep = make_user(Role.REP)
    manager = make_user(Role.MANAGER)
    lst = LeadList(workspace_id=workspace.id, name="Trade show")
    db.session.add(lst)
    db.session.flush()
    db.session.add_all(
        [
            Lead(
                workspace_id=workspace.id,
                first_name="Alpha",
                owner_id=rep.id,
                list_id=lst.id,
                status="qualified",
                time_zone="America/Chicago",
            ),
            Lead(workspace_id=workspace.id, first_name="Bravo", status="new"),
        ]
    )
    db.session.commit()
    login(manager)

    def names(**query):
        page = client.get("/leads", query_string=query, headers={"HX-Request": "true"})
        assert "<html" not in page.get_data(as_text=True)
        return set(re.findall(r">(Alpha|Bravo)<", page.get_data(as_text=True)))

    assert names() == {"Alpha", "Bravo"}
    assert names(status="qualified") == {"Alpha"}
    assert names(owner="none") == {"Bravo"}
    assert names(owner=str(rep.id)) == {"Alpha"}
    assert names(list=str(lst.id)) == {"Alpha"}
    assert names(time_zone="America/Chicago") == {"Alpha"}
    assert names(q="bra") == {"Bravo"}
    assert (
        client.get("/leads/count", query_string={"status": "qualified"})
        .get_data(as_text=True)
        .strip()
        == "1 lead"
    )


def test_search_finds_phones_and_emails(app, client, admin, login, workspace):
    db.session.add_all(
        [
            Lead(workspace_id=workspace.id, first_name="Phoebe", phone_e164="+14155550134"),
            Lead(workspace_id=workspace.id, first_name="Mailer", email_key="mail@example.com"),
        ]
    )
    db.session.commit()
    login(admin)
    assert ">Phoebe<" in client.get("/leads?q=(415) 555-01").get_data(as_text=True)
    assert ">Phoebe<" not in client.get("/leads?q=mail@").get_data(as_text=True)
    assert ">Mailer<" in client.get("/leads?q=MAIL@ex").get_data(as_text=True)


def test_pages_walk_forward_and_back_without_gaps(app, client, admin, login, workspace):
    db.session.execute(
        sa.insert(Lead),
        [
            {
                "workspace_id": workspace.id,
                "first_name": f"Lead{n:03}",
                "status": "new",
                "phone_time_zones": [],
                "custom_fields": {},
            }
            for n in range(120)
        ],
    )
    db.session.commit()
    login(admin)
    seen, url = [], "/leads"
    for _ in range(3):
        page = client.get(url).get_data(as_text=True)
        seen += re.findall(r">(Lead\d{3})<", page)
        older = re.search(r'rel="next" href="([^"]+)"', page)
        url = older.group(1).replace("&amp;", "&") if older else None
    assert seen == [f"Lead{n:03}" for n in reversed(range(120))]
    assert url is None
    last = client.get("/leads?after=51").get_data(as_text=True)
    newer = re.search(r'rel="prev" href="([^"]+)"', last).group(1).replace("&amp;", "&")
    back = re.findall(r">(Lead\d{3})<", client.get(newer).get_data(as_text=True))
    assert back == [f"Lead{n:03}" for n in reversed(range(50, 100))]


def test_notes_come_back_as_the_timeline_fragment(rep_client):
    create(rep_client, first_name="Noted")
    lead = db.session.scalar(sa.select(Lead))
    fragment = rep_client.post(
        f"/leads/{lead.id}/notes",
        data={"text": "Call after 3pm <b>sharp</b>"},
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "<html" not in fragment
    assert "Call after 3pm &lt;b&gt;sharp&lt;/b&gt;" in fragment  # escaped, never markup


def test_empty_states(client, admin, login):
    login(admin)
    assert "No leads yet" in client.get("/leads").get_data(as_text=True)
    assert "No leads match these filters" in client.get("/leads?q=zzz").get_data(as_text=True)
    assert "No lists yet" in client.get("/lists").get_data(as_text=True)


def test_lists_can_be_created_and_names_stay_unique(client, make_user, login):
    login(make_user(Role.MARKETER))
    assert client.post("/lists/new", data={"name": "Webinar"}).status_code == 302
    again = client.post("/lists/new", data={"name": "Webinar"})
    assert "exists already" in again.get_data(as_text=True)


def test_search_matches_prefixes_of_names_companies_emails_and_phones(
    app, client, admin, login, workspace
):
    rows = [
        dict(first_name="Zoë", last_name="Smithers", company="Acme"),
        dict(first_name="Sam", last_name="Jones", company="Smith & Sons"),
        dict(full_name="Smita Rao"),
        dict(first_name="Ann", email_key="smith.ann@example.com"),
        dict(first_name="Bob", last_name="Blacksmith"),  # "smith" inside a word: no match
        dict(first_name="Cal", phone_e164="+14155550134"),
        dict(first_name="Dee", phone_e164="+442079460958"),
    ]
    db.session.execute(sa.insert(Lead), [
        {"workspace_id": workspace.id, "status": "new", "phone_time_zones": [], "custom_fields": {},
         **row} for row in rows
    ])  # fmt: skip
    db.session.commit()
    login(admin)

    def found(q):
        page = client.get("/leads", query_string={"q": q}).get_data(as_text=True)
        return set(re.findall(r'href="/leads/\d+">([^<]+)<', page))

    assert found("smi") == {"Zoë Smithers", "Sam Jones", "Smita Rao", "Ann"}
    assert found("SMITH") == {"Zoë Smithers", "Sam Jones", "Ann"}
    assert found("smith.ann@") == {"Ann"}
    assert found("(415) 555-0134") == {"Cal"}
    assert found("+44 20 7946") == {"Dee"}
    assert found("0134") == {"Cal"}  # a few digits: anywhere in the number


def test_search_plans_use_the_indexes(app, admin, workspace):
    """At a million leads a scan costs a second; every indexed search must seek."""
    from app.jobs import refresh_database_statistics
    from leads.queries import LeadFilters, filtered_leads

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite query plans")
    db.session.execute(sa.insert(Lead), [
        {"workspace_id": workspace.id, "status": "new", "phone_time_zones": [], "custom_fields": {},
         "first_name": f"First{n}", "last_name": f"Last{n}", "company": f"Co{n % 50}",
         "email_key": f"p{n}@example.com", "phone_e164": f"+1415555{n:04}"}
        for n in range(2000)
    ])  # fmt: skip
    db.session.commit()
    refresh_database_statistics()  # what the nightly job does
    for q, index in [
        ("smith", "ix_leads_search_last_name"),
        ("smith", "ix_leads_search_company"),
        ("smith@ex", "(workspace_id=? AND email_key>? AND email_key<?)"),
        ("415 555 0134", "(workspace_id=? AND phone_e164>? AND phone_e164<?)"),
    ]:
        query = filtered_leads(admin, LeadFilters(q=q)).order_by(Lead.id.desc()).limit(51)
        sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
        plan = " ".join(row[-1] for row in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}")))
        assert index in plan, (q, plan)


def test_a_new_owner_typed_into_the_form_is_an_audited_assignment(client, make_user, login):
    ann, bob = make_user(Role.REP, name="Ann Rep"), make_user(Role.REP, name="Bob Rep")
    login(make_user(Role.MANAGER, name="Mo Manager"))
    create(client, first_name="Cy", company="Acme", owner_id=str(ann.id))
    lead = db.session.scalar(sa.select(Lead))
    assert lead.owner_id == ann.id
    client.post(
        f"/leads/{lead.id}/edit",
        data={**FORM, "first_name": "Cy", "company": "Acme", "owner_id": str(bob.id)},
    )
    db.session.expire_all()
    lead = db.session.get(Lead, lead.id)
    assert lead.owner_id == bob.id and lead.assigned_at is not None
    audit = db.session.scalar(sa.select(Activity).where(Activity.type == "assignment"))
    assert (audit.data["from"], audit.data["to"]) == (ann.id, bob.id)
    assert audit.data["reason"] == "manual"
    assert audit.summary == "Reassigned to Bob Rep by Mo Manager"
