"""API tokens as a person makes them: create one in the browser, use it from another
program against the real server, revoke it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
import requests
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Role, User
from tests.conftest import PASSWORD

if TYPE_CHECKING:
    from tests.e2e.conftest import ConsoleLog

pytestmark = pytest.mark.e2e


def test_create_use_and_revoke_a_token(
    page: Page, make_user: Callable[..., User], console: ConsoleLog, live_server, tmp_path
) -> None:
    email = make_user(Role.REP, name="Rita Rep", email="rita@example.com").email
    db.session.close()  # hold no write lock while the server saves what the browser sends
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/leads$"))

    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("Nightly report")
    page.get_by_label("Read and search leads and their activities").check()
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token").inner_text()
    assert secret.startswith("ll_")
    page.screenshot(path=str(tmp_path / "api-tokens.png"), full_page=True)

    api = f"{live_server.url}/api/leads"
    bearer = {"Authorization": f"Bearer {secret}"}
    answer = requests.get(api, headers=bearer, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"items": [], "next_cursor": None}
    refused = requests.post(api, json={}, headers=bearer, timeout=10)
    assert refused.status_code == 403 and "leads:write" in refused.json()["message"]

    page.goto("/account/api-tokens")  # the token is not shown again, only its prefix
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.get_by_role("cell", name="Nightly report")).to_be_visible()
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("Token revoked.")).to_be_visible()
    assert requests.get(api, headers=bearer, timeout=10).status_code == 401
    assert console.errors == []
