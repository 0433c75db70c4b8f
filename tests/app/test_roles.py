"""Every route's access, by role, checked against a table a human wrote.

A route missing from the table fails the test, so a new page cannot ship without
someone deciding who may open it.
"""

from __future__ import annotations

import pytest

from app.api import SCOPES, create_token
from app.extensions import db
from app.models import Role

PUBLIC = "public"
ANY = frozenset(Role)
ADMIN = frozenset({Role.ADMIN})
IMPORTERS = frozenset({Role.ADMIN, Role.MANAGER, Role.MARKETER})
DEAL_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.REP})
SYNC_ADMINS = frozenset({Role.ADMIN, Role.MANAGER})
SOCIAL_WORKERS = frozenset({Role.ADMIN, Role.REP})
TASK_CREATORS = frozenset({Role.ADMIN, Role.MANAGER, Role.MARKETER, Role.REP})
MANAGERS = frozenset({Role.ADMIN, Role.MANAGER})
CADENCE_USERS = frozenset({Role.ADMIN, Role.MANAGER, Role.MARKETER, Role.REP})

EXPECTED: dict[str, str | frozenset[Role]] = {
    "static": PUBLIC,
    "auth.login": PUBLIC,
    "auth.accept_invite": PUBLIC,
    "health.healthz": PUBLIC,
    "leads.capture_form": PUBLIC,
    "leads.capture_submit": PUBLIC,
    "auth.logout": ANY,
    "auth.change_password": ANY,
    "leads.home": ANY,
    "leads.index": ANY,
    "leads.count": ANY,
    "leads.export": ANY,
    "leads.new": ANY,
    "leads.edit": ANY,
    "leads.preview": ANY,
    "leads.detail": ANY,
    "leads.note": ANY,
    "leads.lists": ANY,
    "leads.dial_home": ANY,
    "leads.dial_session": ANY,
    "leads.dial_next": ANY,
    "leads.dial_dispose": ANY,
    "leads.dial_skip": ANY,
    "leads.save_lead_view": ANY,
    "leads.delete_view": ANY,
    "leads.dnc_list": ANY,
    "leads.dnc_export": ANY,
    "leads.dnc_add": ANY,
    "leads.dnc_import": ANY,
    "leads.dnc_remove": frozenset({Role.ADMIN, Role.MANAGER}),
    "leads.dial_outcome_settings": MANAGERS,
    "leads.edit_dial_outcome": MANAGERS,
    "leads.move_dial_outcome": MANAGERS,
    "leads.toggle_dial_outcome": MANAGERS,
    "leads.dial_hours_settings": MANAGERS,
    "leads.erase_confirm": MANAGERS,
    "leads.erase_lead": MANAGERS,
    "leads.edit_list": IMPORTERS,
    "leads.list_capture": IMPORTERS,
    "leads.imports": IMPORTERS,
    "leads.new_import": IMPORTERS,
    "leads.import_setup": IMPORTERS,
    "leads.start_import": IMPORTERS,
    "leads.import_status": IMPORTERS,
    "leads.cancel_import": IMPORTERS,
    "leads.undo_import": IMPORTERS,
    "leads.import_errors": IMPORTERS,
    "sync.qualification": ANY,
    "sync.save_checklist": ANY,
    "sync.promote_lead": DEAL_ROLES,
    "sync.qualification_settings": SYNC_ADMINS,
    "sync.sync_page": SYNC_ADMINS,
    "sync.lead_sync_log": SYNC_ADMINS,
    "sync.export_backlog": SYNC_ADMINS,
    "sync.retry_handoff": SYNC_ADMINS,
    "sync.discard_handoff": SYNC_ADMINS,
    "sync.crm_targets": SYNC_ADMINS,
    "sync.new_crm_target": ADMIN,
    "sync.edit_crm_target": ADMIN,
    "sync.toggle_crm_target": ADMIN,
    "sync.test_crm_target": ADMIN,
    "sync.backfill_crm_target": ADMIN,
    "sync.board_page": DEAL_ROLES,
    "sync.move": DEAL_ROLES,
    "sync.deal": DEAL_ROLES,
    "sync.edit_deal": DEAL_ROLES,
    "sync.close_deal": DEAL_ROLES,
    "sync.deal_note": DEAL_ROLES,
    "sync.contact": DEAL_ROLES,
    "sync.pipeline_setup": SYNC_ADMINS,
    "sync.new_pipeline": SYNC_ADMINS,
    "sync.new_stage": SYNC_ADMINS,
    "sync.change_stage": SYNC_ADMINS,
    "leads.social_queue": SOCIAL_WORKERS,
    "leads.social_badge": ANY,
    "leads.my_tasks": ANY,
    "leads.task_done": ANY,
    "leads.task_snooze": ANY,
    "leads.social_outcome": SOCIAL_WORKERS,
    "leads.social_skip": SOCIAL_WORKERS,
    "leads.social_snooze": SOCIAL_WORKERS,
    "leads.lead_social_tasks": TASK_CREATORS,
    "leads.social_bulk": TASK_CREATORS,
    "leads.social_quotas": frozenset({Role.ADMIN, Role.MANAGER}),
    "leads.rotation": IMPORTERS,
    "leads.rotation_rule": IMPORTERS,
    "leads.delete_rotation_rule": IMPORTERS,
    "leads.rotate_now": IMPORTERS,
    "leads.rotation_report": IMPORTERS,
    "leads.escalations": MANAGERS,
    "leads.reassign_leads": MANAGERS,
    "leads.rotation_reps_page": MANAGERS,
    "leads.rep_availability": MANAGERS,
    "leads.add_rep_away": MANAGERS,
    "leads.delete_rep_away": MANAGERS,
    "leads.rotation_handover": ADMIN,
    "leads.rotation_badge": ANY,
    "leads.metrics_mine": ANY,
    "leads.metrics_team": frozenset({Role.ADMIN, Role.MANAGER}),
    "leads.metrics_calls": frozenset({Role.ADMIN, Role.MANAGER}),
    "leads.metrics_goals": frozenset({Role.ADMIN, Role.MANAGER}),
    "leads.metrics_delete_goal": frozenset({Role.ADMIN, Role.MANAGER}),
    "leads.metrics_lists": IMPORTERS,
    "cadences.unsubscribe_confirm": PUBLIC,
    "cadences.unsubscribe_submit": PUBLIC,
    "cadences.inbound_reply": PUBLIC,
    "cadences.index": CADENCE_USERS,
    "cadences.create": CADENCE_USERS,
    "cadences.detail": CADENCE_USERS,
    "cadences.add": CADENCE_USERS,
    "cadences.delete_step": CADENCE_USERS,
    "cadences.move": CADENCE_USERS,
    "cadences.settings": CADENCE_USERS,
    "cadences.stats_export": CADENCE_USERS,
    "cadences.toggle_pause": CADENCE_USERS,
    "cadences.enroll_lead": CADENCE_USERS,
    "cadences.enroll_view": CADENCE_USERS,
    "cadences.change_enrollment": CADENCE_USERS,
    "cadences.lead_replied": CADENCE_USERS,
    "cadences.lead_panel": CADENCE_USERS,
    "cadences.enroll_from_lead": CADENCE_USERS,
    "cadences.lead_panel_replied": CADENCE_USERS,
    "cadences.approve": CADENCE_USERS,
    "cadences.templates": CADENCE_USERS,
    "cadences.save_template": CADENCE_USERS,
    "cadences.preview": CADENCE_USERS,
    "cadences.senders": IMPORTERS,
    "cadences.save_sender": IMPORTERS,
    "cadences.holidays": IMPORTERS,
    "cadences.save_holiday": IMPORTERS,
    "cadences.birthdays": IMPORTERS,
    "cadences.save_birthdays": IMPORTERS,
    "admin.teams": frozenset({Role.ADMIN, Role.MANAGER}),
    "admin.users": ADMIN,
    "admin.new_user": ADMIN,
    "admin.edit_user": ADMIN,
    "admin.disable": ADMIN,
    "admin.enable": ADMIN,
    "admin.reinvite": ADMIN,
    "admin.edit_team": ADMIN,
    "admin.system_page": ADMIN,
    "admin.job_action": ADMIN,
    "tokens.api_tokens": ANY,
    "tokens.revoke_api_token": ANY,
    # The JSON API: the token's user's roles, as on the pages (tests/app/test_api.py
    # checks the scopes and the scoping of what each call sees).
    "api-docs.openapi_json": PUBLIC,
    "api_leads.search_leads": ANY,
    "api_leads.create_lead": IMPORTERS,
    "api_leads.get_lead": ANY,
    "api_leads.update_lead": ANY,
    "api_leads.lead_activities": ANY,
    "api_leads.record_disposition": ANY,
    "api_leads.start_import": IMPORTERS,
    "api_leads.import_status": IMPORTERS,
    "api_deals.list_deals": DEAL_ROLES,
    "api_deals.get_deal": DEAL_ROLES,
    "api_deals.update_deal": DEAL_ROLES,
}

URL_VALUES = {
    "run_id": 999_999,
    "user_id": 999_999,
    "team_id": 999_999,
    "lead_id": 999_999,
    "list_id": 999_999,
    "token": "nope",
    "job_id": "nope",
    "action": "delete",
    "filename": "css/app.css",
    "key": "nope",
    "pipeline_id": 999_999,
    "deal_id": 999_999,
    "target_id": 999_999,
    "contact_id": 999_999,
    "handoff_id": 999_999,
    "stage_id": 999_999,
    "task_id": 999_999,
    "rule_id": 999_999,
    "period_id": 999_999,
    "view_id": 999_999,
    "entry_id": 999_999,
    "goal_id": 999_999,
    "cadence_id": 999_999,
    "step_id": 999_999,
    "enrollment_id": 999_999,
    "change": "pause",
    "token_id": 999_999,
}


def _is_api(app, endpoint: str) -> bool:
    return hasattr(app.view_functions[endpoint], "api_scope")


def _rules(app):
    # Signing out would end the session the rest of the walk needs, so it goes last.
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint == "auth.logout"):
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        url = rule.build({k: URL_VALUES[k] for k in rule.arguments}, append_unknown=False)[1]
        yield rule.endpoint, url, methods


def test_every_route_is_in_the_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - EXPECTED.keys() == set(), "add new routes to EXPECTED"
    assert EXPECTED.keys() - endpoints == set(), "remove deleted routes from EXPECTED"


def test_views_declare_the_roles_the_table_expects(app):
    for endpoint, expected in EXPECTED.items():
        declared = getattr(app.view_functions[endpoint], "allowed_roles", PUBLIC)
        assert declared == expected, endpoint


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_role_matrix(app, client, make_user, login, role):
    user = make_user(role)
    login(user)
    # API calls go as the same user, by a token holding every scope: only roles decide.
    _, secret = create_token(user, "every scope", SCOPES)
    db.session.commit()
    bearer = {"Authorization": f"Bearer {secret}"}
    for endpoint, url, methods in _rules(app):
        allowed = EXPECTED[endpoint]
        headers = bearer if _is_api(app, endpoint) else {}
        for method in methods:
            response = client.open(url, method=method, headers=headers)
            if allowed == PUBLIC or role in allowed:
                assert response.status_code != 403, (role, method, url)
            else:
                assert response.status_code == 403, (role, method, url, response.status_code)


def test_anonymous_visitors_are_sent_to_sign_in(app, client):
    for endpoint, url, methods in _rules(app):
        if EXPECTED[endpoint] == PUBLIC:
            continue
        for method in methods:
            response = client.open(url, method=method)
            if _is_api(app, endpoint):
                # No token: a JSON 401, never a redirect to a sign-in page.
                assert response.status_code == 401, (method, url)
                assert response.get_json()["code"] == 401
                continue
            assert response.status_code == 302, (method, url)
            assert response.headers["Location"].startswith("/login"), url


def test_htmx_requests_get_a_full_page_redirect_to_sign_in(client):
    response = client.get("/leads", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/login")


def test_forbidden_page_is_a_fragment_for_htmx(client, make_user, login):
    login(make_user(Role.CALLER))
    page = client.get("/admin/users")
    fragment = client.get("/admin/users", headers={"HX-Request": "true"})
    assert page.status_code == fragment.status_code == 403
    assert "<html" in page.get_data(as_text=True)
    assert "<html" not in fragment.get_data(as_text=True)
    assert "Not allowed" in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]


def test_unknown_route_is_a_404_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)
