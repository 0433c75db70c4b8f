"""The JSON API: tokens, authentication, scopes, errors, and the lead, call and import
endpoints, on real databases and Redis."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import ApiToken, Role, hash_token
from leads.dial_models import CallAttempt
from leads.erasure import erase
from leads.imports import run_import
from leads.models import Activity, ActivityType, ImportRun, Lead, LeadList
from tests.leads.dial_factories import make_lead


def _list(workspace, name="Webinar") -> LeadList:
    lead_list = LeadList(workspace_id=workspace.id, name=name)
    db.session.add(lead_list)
    db.session.commit()
    return lead_list


# ---------------------------------------------------------------------------
# Tokens and authentication
# ---------------------------------------------------------------------------


def test_a_token_is_shown_once_stored_as_a_hash_and_revocable(client, api_client, make_user, login):
    user = make_user(Role.MARKETER)
    login(user)
    page = client.post(
        "/account/api-tokens", data={"name": "Website", "scopes": ["leads:read"]}
    ).get_data(as_text=True)
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user.id))
    secret = page.split('<code id="new-token">')[1].split("</code>")[0]
    assert token.token_hash == hash_token(secret) and secret not in token.token_hash
    assert token.scope_set == {"leads:read"}
    headers = {"Authorization": f"Bearer {secret}"}
    assert api_client.get("/api/leads", headers=headers).status_code == 200
    # The list shows its prefix, never the token again.
    listing = client.get("/account/api-tokens").get_data(as_text=True)
    assert secret not in listing and token.prefix in listing

    assert client.post(f"/account/api-tokens/{token.id}/revoke").status_code == 302
    response = api_client.get("/api/leads", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.get_json()["message"]


def test_a_token_form_without_scopes_is_refused_with_the_form_kept(client, make_user, login):
    login(make_user(Role.REP))
    response = client.post("/account/api-tokens", data={"name": "Nothing"})
    assert response.status_code == 422
    assert "Choose at least one scope" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 0


def test_nobody_revokes_another_users_token(client, make_user, login, api_headers):
    owner = make_user(Role.REP)
    api_headers(owner)
    token = db.session.scalar(sa.select(ApiToken))
    login(make_user(Role.ADMIN))
    assert client.post(f"/account/api-tokens/{token.id}/revoke").status_code == 404
    assert db.session.get(ApiToken, token.id).revoked_at is None


def test_missing_or_bad_tokens_get_a_json_401(api_client):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = api_client.get("/api/leads", headers=headers)
        assert response.status_code == 401
        assert response.is_json and response.get_json()["code"] == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_signed_in_session_is_no_api_credential(client, make_user, login):
    login(make_user(Role.ADMIN))
    response = client.get("/api/leads")
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers


def test_a_disabled_users_tokens_stop_working(api_client, make_user, api_headers):
    user = make_user(Role.ADMIN)
    headers = api_headers(user)
    user.active = False
    db.session.commit()
    assert api_client.get("/api/leads", headers=headers).status_code == 401


def test_a_missing_scope_is_a_403_naming_it(api_client, make_user, api_headers):
    headers = api_headers(make_user(Role.ADMIN), "deals:read")
    response = api_client.get("/api/leads", headers=headers)
    assert response.status_code == 403
    assert "leads:read" in response.get_json()["message"]


def test_errors_under_api_are_json_never_pages(api_client, make_user, api_headers):
    headers = api_headers(make_user(Role.ADMIN))
    for method, url in (("GET", "/api/nothing"), ("DELETE", "/api/leads"),
                        ("GET", "/api/leads/999999")):  # fmt: skip
        response = api_client.open(url, method=method, headers=headers)
        assert response.status_code in (404, 405), url
        assert response.is_json and "<html" not in response.get_data(as_text=True)


def test_state_changes_need_no_csrf_token(api_client, workspace, make_user, api_headers):
    lead_list = _list(workspace)
    response = api_client.post(
        "/api/leads",
        json={"list_id": lead_list.id, "email": "ada@example.com"},
        headers=api_headers(make_user(Role.MARKETER)),
    )
    assert response.status_code == 201, response.get_json()


def test_each_token_has_its_own_rate_limit(make_app, make_user, api_headers):
    limited = make_app(API_MAX_REQUESTS=2, API_WINDOW_SECONDS=60).test_client()
    first, second = api_headers(make_user(Role.ADMIN)), api_headers(make_user(Role.ADMIN))
    assert [limited.get("/api/leads", headers=first).status_code for _ in range(3)] == [
        200, 200, 429,
    ]  # fmt: skip
    refused = limited.get("/api/leads", headers=first)
    assert refused.is_json and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert limited.get("/api/leads", headers=second).status_code == 200


# ---------------------------------------------------------------------------
# Leads
# ---------------------------------------------------------------------------


def test_creating_a_lead_normalizes_and_dedupes_like_capture(
    api_client, workspace, make_user, api_headers
):
    lead_list = _list(workspace)
    headers = api_headers(make_user(Role.MARKETER))
    body = {"list_id": lead_list.id, "first_name": " ada ", "email": "Ada@Example.COM",
            "phone": "(212) 555-0142"}  # fmt: skip
    created = api_client.post("/api/leads", json=body, headers=headers)
    assert created.status_code == 201
    lead = created.get_json()["lead"]
    assert lead["phone_e164"] == "+12125550142" and lead["email_normalized"] == "Ada@example.com"
    assert lead["list_id"] == lead_list.id and lead["source"] == "API"

    again = api_client.post(
        "/api/leads", json={"list_id": lead_list.id, "email": "ada@example.com",
                            "company": "Engines"}, headers=headers,
    )  # fmt: skip
    assert again.status_code == 200
    assert again.get_json() | {"lead": None} == {"status": "updated", "suppressed": False,
                                                 "lead": None}  # fmt: skip
    assert again.get_json()["lead"]["id"] == lead["id"]
    assert again.get_json()["lead"]["company"] == "Engines"
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 1


def test_an_erased_person_is_not_created_again(api_client, workspace, make_user, api_headers):
    lead_list = _list(workspace)
    manager = make_user(Role.MANAGER)
    headers = api_headers(make_user(Role.MARKETER))
    body = {"list_id": lead_list.id, "first_name": "Odile", "email": "odile@example.com"}
    created = api_client.post("/api/leads", json=body, headers=headers)
    erase([db.session.get(Lead, created.get_json()["lead"]["id"])], manager)
    db.session.commit()

    again = api_client.post("/api/leads", json=body, headers=headers)
    assert again.status_code == 422
    assert "erased on request" in again.get_json()["message"]
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 0


def test_a_lead_without_contact_or_with_a_bad_list_is_a_422(
    api_client, workspace, make_user, api_headers
):
    lead_list = _list(workspace)
    headers = api_headers(make_user(Role.ADMIN))
    nothing = api_client.post("/api/leads", json={"list_id": lead_list.id}, headers=headers)
    assert nothing.status_code == 422 and "email" in nothing.get_json()["errors"]
    bad = api_client.post(
        "/api/leads", json={"list_id": lead_list.id, "phone": "12"}, headers=headers
    )
    assert bad.status_code == 422 and "phone" in bad.get_json()["errors"]
    stranger = api_client.post("/api/leads", json={"list_id": 999, "email": "a@example.com"},
                               headers=headers)  # fmt: skip
    assert stranger.status_code == 422 and "list_id" in stranger.get_json()["errors"]
    unknown = api_client.post("/api/leads", json={"list_id": lead_list.id, "x": 1},
                              headers=headers)  # fmt: skip
    assert unknown.status_code == 422 and "x" in unknown.get_json()["errors"]["json"]


def test_reps_and_callers_see_only_their_own_leads(api_client, make_user, api_headers):
    caller, other = make_user(Role.CALLER), make_user(Role.CALLER)
    mine, theirs = make_lead(caller), make_lead(other)
    headers = api_headers(caller)
    found = api_client.get("/api/leads", headers=headers).get_json()
    assert [lead["id"] for lead in found["items"]] == [mine.id]
    assert api_client.get(f"/api/leads/{theirs.id}", headers=headers).status_code == 404
    patch = api_client.patch(f"/api/leads/{theirs.id}", json={"title": "x"}, headers=headers)
    assert patch.status_code == 404
    assert api_client.get(f"/api/leads/{mine.id}", headers=headers).get_json()["id"] == mine.id


def test_search_filters_and_pages_by_cursor(api_client, make_user, api_headers):
    manager, caller = make_user(Role.MANAGER), make_user(Role.CALLER)
    leads = [make_lead(caller, first_name=f"Zed{n}") for n in range(5)]
    make_lead(None, workspace_id=caller.workspace_id, first_name="Nobody")
    headers = api_headers(manager)
    seen, cursor = [], None
    while True:
        query = {"owner": str(caller.id), "limit": 2} | ({"after": cursor} if cursor else {})
        page = api_client.get("/api/leads", query_string=query, headers=headers).get_json()
        seen += [lead["id"] for lead in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == sorted((lead.id for lead in leads), reverse=True)
    named = api_client.get("/api/leads", query_string={"q": "zed3"}, headers=headers).get_json()
    assert [lead["first_name"] for lead in named["items"]] == ["Zed3"]
    bad = api_client.get("/api/leads", query_string={"status": "nope"}, headers=headers)
    assert bad.status_code == 422 and "status" in bad.get_json()["errors"]["query"]


def test_updating_a_lead_goes_through_the_forms_checks(api_client, make_user, api_headers):
    caller = make_user(Role.CALLER)
    lead = make_lead(caller, last_name="Lovelace")
    headers = api_headers(caller)
    response = api_client.patch(
        f"/api/leads/{lead.id}", json={"email": "ADA@example.com", "title": "CTO",
                                       "custom_fields": {"score": "9"}}, headers=headers,
    )  # fmt: skip
    body = response.get_json()
    assert response.status_code == 200, body
    assert (body["email_normalized"], body["title"], body["last_name"]) == (
        "ADA@example.com", "CTO", "Lovelace",
    )  # fmt: skip
    assert body["custom_fields"] == {"score": "9"}
    changed = db.session.scalar(
        sa.select(Activity).where(
            Activity.lead_id == lead.id, Activity.type == ActivityType.UPDATED.value
        )  # fmt: skip
    )
    assert "email_raw" in changed.data["changes"]
    bad = api_client.patch(f"/api/leads/{lead.id}", json={"phone": "12"}, headers=headers)
    assert bad.status_code == 422 and "phone" in bad.get_json()["errors"]
    # A caller keeps their leads: reassigning is for those who see every lead.
    other = make_user(Role.CALLER)
    moved = api_client.patch(f"/api/leads/{lead.id}", json={"owner_id": other.id},
                             headers=headers)  # fmt: skip
    assert moved.status_code == 403


def test_a_duplicate_email_on_update_is_refused(api_client, make_user, api_headers):
    admin = make_user(Role.ADMIN)
    first = make_lead(admin, email_raw="a@example.com", email="a@example.com",
                      email_key="a@example.com")  # fmt: skip
    second = make_lead(admin)
    response = api_client.patch(f"/api/leads/{second.id}", json={"email": "a@example.com"},
                                headers=api_headers(admin))  # fmt: skip
    assert response.status_code == 422
    assert first.display_name in response.get_json()["errors"]["email"]


def test_activities_list_the_leads_timeline(api_client, make_user, api_headers):
    caller = make_user(Role.CALLER)
    lead = make_lead(caller)
    headers = api_headers(caller)
    api_client.patch(f"/api/leads/{lead.id}", json={"title": "CTO"}, headers=headers)
    items = api_client.get(f"/api/leads/{lead.id}/activities", headers=headers).get_json()["items"]
    assert [item["type"] for item in items] == ["updated"]
    assert items[0]["actor_id"] == caller.id


# ---------------------------------------------------------------------------
# Dispositions
# ---------------------------------------------------------------------------


def test_a_retried_disposition_is_recorded_once(api_client, make_user, api_headers):
    caller = make_user(Role.CALLER)
    lead = make_lead(caller)
    headers = api_headers(caller) | {"Idempotency-Key": "call-42"}
    body = {"outcome": "voicemail", "note": "left a message", "duration_seconds": 40}
    first = api_client.post(f"/api/leads/{lead.id}/dispositions", json=body, headers=headers)
    again = api_client.post(f"/api/leads/{lead.id}/dispositions", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["result"] == "recorded"
    assert again.get_json()["result"] == "already_recorded"
    calls = db.session.scalars(sa.select(CallAttempt)).all()
    assert [(c.outcome, c.duration_seconds, c.caller_id) for c in calls] == [
        ("voicemail", 40, caller.id)
    ]
    db.session.refresh(lead)
    assert (lead.dial_attempts, lead.status, lead.dial_lease_token) == (1, "contacted", None)
    other_key = headers | {"Idempotency-Key": "call-43"}
    assert api_client.post(f"/api/leads/{lead.id}/dispositions", json=body,
                           headers=other_key).status_code == 201  # fmt: skip
    assert db.session.scalar(sa.select(sa.func.count(CallAttempt.id))) == 2


def test_a_disposition_needs_a_key_a_known_outcome_and_a_visible_lead(
    api_client, make_user, api_headers
):
    caller = make_user(Role.CALLER)
    lead, theirs = make_lead(caller), make_lead(make_user(Role.CALLER))
    headers = api_headers(caller)
    url = f"/api/leads/{lead.id}/dispositions"
    no_key = api_client.post(url, json={"outcome": "busy"}, headers=headers)
    assert no_key.status_code == 422 and "Idempotency-Key" in no_key.get_json()["errors"]["headers"]
    keyed = headers | {"Idempotency-Key": "k1"}
    unknown = api_client.post(url, json={"outcome": "nope"}, headers=keyed)
    assert unknown.status_code == 422 and "outcome" in unknown.get_json()["message"]
    hidden = api_client.post(f"/api/leads/{theirs.id}/dispositions", json={"outcome": "busy"},
                             headers=keyed)  # fmt: skip
    assert hidden.status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(CallAttempt.id))) == 0


def test_a_lead_on_someone_elses_dial_screen_is_not_called_over(api_client, make_user, api_headers):
    from leads.calling_hours import utc_now

    manager, caller = make_user(Role.MANAGER), make_user(Role.CALLER)
    lead = make_lead(caller)
    lead.dial_lease_token, lead.dial_leased_by_id = "held-by-caller", caller.id
    lead.dial_lease_until = utc_now().replace(year=utc_now().year + 1)
    db.session.commit()
    response = api_client.post(
        f"/api/leads/{lead.id}/dispositions", json={"outcome": "busy"},
        headers=api_headers(manager) | {"Idempotency-Key": "k"},
    )  # fmt: skip
    assert response.status_code == 422
    db.session.refresh(lead)
    assert lead.dial_lease_token == "held-by-caller"


# ---------------------------------------------------------------------------
# Imports
# ---------------------------------------------------------------------------

CSV = (
    b"Name,E-mail,Phone\nAda Lovelace,ada@example.com,212-555-0142\nAlan Turing,alan@example.com,\n"
)


def test_an_import_starts_from_an_upload_and_reports_its_status(
    api_client, workspace, make_user, api_headers
):
    lead_list = _list(workspace)
    headers = api_headers(make_user(Role.MARKETER))
    mapping = '[{"target": "full_name"}, {"target": "email"}, {"target": "phone"}]'
    response = api_client.post(
        "/api/imports", headers=headers, content_type="multipart/form-data",
        data={"file": (io.BytesIO(CSV), "people.csv"), "mapping": mapping,
              "list_id": str(lead_list.id), "source": "Partner"},
    )  # fmt: skip
    assert response.status_code == 202, response.get_json()
    run = response.get_json()
    assert (run["status"], run["list_id"]) == ("queued", lead_list.id)
    run_import(run["id"])
    status = api_client.get(f"/api/imports/{run['id']}", headers=headers).get_json()
    assert (status["status"], status["created"], status["errors"]) == ("succeeded", 2, 0)
    names = db.session.scalars(sa.select(Lead.full_name).order_by(Lead.id)).all()
    assert names == ["Ada Lovelace", "Alan Turing"]


def test_an_import_with_a_bad_mapping_or_file_is_refused_and_kept_nowhere(
    api_client, make_user, api_headers
):
    headers = api_headers(make_user(Role.ADMIN))

    def post(**data):
        return api_client.post("/api/imports", headers=headers,
                               content_type="multipart/form-data", data=data)  # fmt: skip

    short = post(file=(io.BytesIO(CSV), "p.csv"), mapping='[{"target": "email"}]')
    assert short.status_code == 422 and "3 columns" in short.get_json()["message"]
    twice = post(
        file=(io.BytesIO(CSV), "p.csv"),
        mapping='[{"target": "email"}, {"target": "email"}, {"target": "phone"}]',
    )
    assert twice.status_code == 422 and "mapped twice" in twice.get_json()["message"]
    garbage = post(file=(io.BytesIO(CSV), "p.csv"), mapping="not json")
    assert garbage.status_code == 422
    assert "mapping" in garbage.get_json()["errors"]["form_and_files"]
    word = post(file=(io.BytesIO(b"hello"), "p.doc"))
    assert word.status_code == 422 and ".csv" in word.get_json()["message"]
    assert post().status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(ImportRun.id))) == 0


def test_import_status_is_only_for_the_workspace_importers(
    api_client, workspace, make_user, api_headers
):
    marketer = make_user(Role.MARKETER)
    run = ImportRun(workspace_id=workspace.id, original_name="a.csv", stored_name="x.csv")
    db.session.add(run)
    db.session.commit()
    assert api_client.get(f"/api/imports/{run.id}",
                          headers=api_headers(marketer)).status_code == 200  # fmt: skip
    assert api_client.get(f"/api/imports/{run.id}",
                          headers=api_headers(make_user(Role.REP))).status_code == 403  # fmt: skip


def _post_disposition(config: dict, url: str, headers: dict, answers) -> None:
    from app import create_app

    application = create_app(config)
    client = application.test_client()
    response = client.post(url, json={"outcome": "busy"}, headers=headers)
    answers.put((response.status_code, (response.get_json() or {}).get("result")))


@pytest.mark.slow
def test_retries_racing_each_other_record_one_call(app, app_config, make_user, api_headers):
    """The same request sent by several processes at once (a client retrying on a
    timeout while the first is still running): one call, the rest told it exists."""
    import multiprocessing

    caller = make_user(Role.CALLER)
    lead = make_lead(caller)
    headers = api_headers(caller) | {"Idempotency-Key": "retry-me"}
    url = f"/api/leads/{lead.id}/dispositions"
    db.session.commit()  # hold no transaction while the processes run
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    senders = [
        context.Process(target=_post_disposition, args=(app_config, url, headers, answers))
        for _ in range(4)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(timeout=120)
    assert [sender.exitcode for sender in senders] == [0] * 4
    results = sorted(answers.get(timeout=5) for _ in senders)
    assert results == [(200, "already_recorded")] * 3 + [(201, "recorded")]
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(CallAttempt.id))) == 1


def test_text_with_a_nul_character_is_invalid_input(api_client, workspace, make_user, api_headers):
    """PostgreSQL cannot store NUL in text; SQLite can. Refused alike on both."""
    lead_list = _list(workspace)
    headers = api_headers(make_user(Role.ADMIN))
    search = api_client.get("/api/leads", query_string={"q": "a\x00"}, headers=headers)
    assert search.status_code == 422 and "q" in search.get_json()["errors"]["query"]
    create = api_client.post("/api/leads", json={"list_id": lead_list.id,
                             "email": "a\x00@example.com"}, headers=headers)  # fmt: skip
    assert create.status_code == 422 and "email" in create.get_json()["errors"]["json"]
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 0
