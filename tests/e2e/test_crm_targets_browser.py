"""An admin connects HubSpot on a tablet: empty state, a refused form, test, enable."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect
from pytest_httpserver import HTTPServer

from app.extensions import db
from app.models import Role, User
from tests.conftest import PASSWORD
from tests.sync.crm.fake_hubspot import TOKEN, FakeHubSpot

if TYPE_CHECKING:
    from tests.e2e.conftest import ConsoleLog, NewContext

pytestmark = pytest.mark.e2e


@pytest.fixture
def hubspot_url() -> Iterator[str]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    FakeHubSpot().install(server)
    server.start()
    yield server.url_for("/")
    server.stop()


def _shot(page: Page, name: str) -> None:
    # Screenshots for a person to look at when asked (LEADLINE_SCREENSHOTS=<folder>).
    if folder := os.environ.get("LEADLINE_SCREENSHOTS"):
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)


def test_an_admin_connects_hubspot_on_a_tablet(
    new_context: NewContext, make_user: Callable[..., User], console: ConsoleLog, hubspot_url
) -> None:
    admin = make_user(Role.ADMIN, name="Ada Admin", email="ada@example.com")
    email = admin.email
    db.session.close()  # hold no SQLite transaction while the server writes
    page: Page = new_context(viewport={"width": 768, "height": 1024}).new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/leads$"))

    page.goto("/sync")
    page.get_by_role("link", name="CRM targets").click()
    expect(page.locator(".empty")).to_contain_text("No CRM is connected")
    _shot(page, "crm-empty")
    page.get_by_role("link", name="Connect HubSpot, Pipedrive or a webhook").click()

    page.get_by_label("Name").fill("HubSpot EU")
    page.get_by_label("Kind").select_option(label="HubSpot")
    with page.expect_response(lambda r: r.url.endswith("/settings/crm/new")) as refused:
        page.get_by_role("button", name="Save").click()
    assert refused.value.status == 422
    expect(page.locator(".field.has-error")).to_contain_text("Enter the API token.")
    expect(page.get_by_label("Name")).to_have_value("HubSpot EU")
    _shot(page, "crm-refused")

    page.get_by_label("API token").fill(TOKEN)
    page.locator("summary", has_text="Advanced settings").click()
    page.get_by_label("API base URL").fill(hubspot_url)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Saved HubSpot EU.")
    row = page.locator("tr", has_text="HubSpot EU")
    expect(row).to_contain_text("Disabled")
    expect(row).not_to_contain_text(TOKEN[-4:])
    expect(page.locator("body")).not_to_contain_text(TOKEN)

    row.get_by_role("button", name="Test connection").click()
    expect(page.locator(".flash")).to_contain_text("Connected to HubSpot.")
    page.locator("tr", has_text="HubSpot EU").get_by_role("button", name="Enable").click()
    expect(page.locator("tr", has_text="HubSpot EU")).to_contain_text("Enabled")
    _shot(page, "crm-list")

    page.get_by_role("link", name="HubSpot EU").click()
    expect(page.get_by_label("API token")).to_have_value("")
    expect(page.locator("form.stack")).to_contain_text("leave blank to keep the saved token")
    _shot(page, "crm-edit")

    page.goto("/sync")
    expect(page.get_by_role("heading", name="HubSpot EU")).to_be_visible()
    _shot(page, "crm-sync")
    # The refused form's 422 is the only failed load.
    assert [e for e in console.errors if "/settings/crm/new" not in e] == []
