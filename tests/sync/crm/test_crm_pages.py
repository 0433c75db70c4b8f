"""The CRM targets admin pages: add, edit with masked secrets, enable, test the connection."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Role, Workspace
from sync.crm_secrets import unseal
from sync.models import StoredCrmTarget
from tests.sync.crm.fake_hubspot import TOKEN


def _stored() -> list[StoredCrmTarget]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(StoredCrmTarget)))


def test_the_empty_page_says_what_to_do(client, login, admin):
    login(admin)
    page = client.get("/settings/crm").get_data(as_text=True)
    assert "No CRM is connected" in page
    assert "/settings/crm/new" in page


def test_a_manager_sees_the_targets_but_cannot_change_them(
    client, login, make_user, workspace
):
    db.session.add(StoredCrmTarget(workspace_id=workspace.id, kind="hubspot", name="Sales CRM",
                                   settings={"token": TOKEN}, field_mapping={}))  # fmt: skip
    db.session.commit()
    login(make_user(Role.MANAGER))
    page = client.get("/settings/crm").get_data(as_text=True)
    assert "Sales CRM" in page
    assert TOKEN not in page and TOKEN[-4:] not in page
    assert "Test connection" not in page


def test_an_admin_adds_edits_enables_and_tests_a_target(client, login, admin, server, hubspot):
    login(admin)
    base_url = server.url_for("/")
    form = {"name": "HubSpot EU", "kind": "hubspot", "token": TOKEN, "base_url": base_url,
            "field_mapping": "contact.jobtitle = title"}  # fmt: skip
    assert client.post("/settings/crm/new", data=form).status_code == 302
    (stored,) = _stored()
    # Stored encrypted, readable with the app's key only.
    assert stored.settings["token"].startswith("fernet:") and TOKEN not in repr(stored.settings)
    assert unseal(stored.settings)["token"] == TOKEN and not stored.enabled
    assert stored.field_mapping == {"contact": {"jobtitle": "title"}}

    edit = client.get(f"/settings/crm/{stored.id}").get_data(as_text=True)
    assert TOKEN not in edit and "leave blank to keep" in edit
    # A blank token keeps the stored one.
    changed = {**form, "token": "", "name": "HubSpot Europe"}
    assert client.post(f"/settings/crm/{stored.id}", data=changed).status_code == 302
    (stored,) = _stored()
    assert stored.name == "HubSpot Europe" and unseal(stored.settings)["token"] == TOKEN

    client.post(f"/settings/crm/{stored.id}/enabled", data={"enabled": "1"})
    (stored,) = _stored()
    assert stored.enabled and stored.enabled_at is not None

    page = client.post(f"/settings/crm/{stored.id}/test", follow_redirects=True)
    assert "Connected to" in page.get_data(as_text=True)


def test_test_connection_shows_the_vendors_message(
    client, login, admin, server, hubspot, workspace
):
    db.session.add(StoredCrmTarget(workspace_id=workspace.id, kind="hubspot", name="Wrong",
                                   settings={"token": "pat-wrong", "base_url": server.url_for("/")},
                                   field_mapping={}))  # fmt: skip
    db.session.commit()
    (stored,) = _stored()
    login(admin)
    page = client.post(f"/settings/crm/{stored.id}/test", follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "Connection failed" in text and "authentication" in text.lower()


def test_bad_input_is_a_422_that_keeps_what_was_typed(client, login, admin):
    login(admin)
    form = {"name": "<b>Hooks</b>", "kind": "webhook", "url": "ftp://example.com/x",
            "secret": "short", "field_mapping": "nonsense line"}  # fmt: skip
    response = client.post("/settings/crm/new", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "&lt;b&gt;Hooks&lt;/b&gt;" in page and "<b>Hooks" not in page
    assert "Use an http:// or https:// URL." in page
    assert "nonsense line" in page and "Line 1" in page
    assert _stored() == []


def test_a_second_target_with_the_same_name_is_refused(client, login, admin, workspace):
    db.session.add(StoredCrmTarget(workspace_id=workspace.id, kind="hubspot", name="CRM",
                                   settings={"token": TOKEN}, field_mapping={}))  # fmt: skip
    db.session.commit()
    login(admin)
    response = client.post("/settings/crm/new", data={"name": "CRM", "kind": "hubspot",
                                                      "token": TOKEN})  # fmt: skip
    assert response.status_code == 422
    assert "Another target has that name." in response.get_data(as_text=True)


def test_another_workspaces_target_is_not_found(client, login, admin):

    other = Workspace(name="Other")
    db.session.add(other)
    db.session.flush()
    db.session.add(StoredCrmTarget(workspace_id=other.id, kind="hubspot", name="Theirs",
                                   settings={"token": TOKEN}, field_mapping={}))  # fmt: skip
    db.session.commit()
    (stored,) = _stored()
    login(admin)
    assert client.get(f"/settings/crm/{stored.id}").status_code == 404
    assert client.post(f"/settings/crm/{stored.id}/test").status_code == 404
