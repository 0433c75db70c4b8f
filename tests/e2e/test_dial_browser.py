"""A caller works the dial queue in a real browser, by keyboard alone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Role, User
from leads.calling_hours import is_callable, place_of
from leads.dial_models import CallAttempt, Callback, SavedView
from leads.models import Lead, LeadStatus
from leads.normalize import normalize_phone
from tests.conftest import PASSWORD

if TYPE_CHECKING:  # only for annotations: importing a conftest again would run it twice
    from tests.e2e.conftest import ConsoleLog, NewContext

pytestmark = pytest.mark.e2e

MakeUser = Callable[..., User]
# Numbers around the world, so some lead is inside calling hours whenever the test runs.
PREFIXES = (
    "+1 212 555 01", "+1 312 555 01", "+1 213 555 01", "+1 808 555 01", "+44 20 7946 00",
    "+49 30 901820", "+81 3 1234 56", "+61 2 9876 54", "+91 22 2345 67", "+55 11 2345 67",
)  # fmt: skip


def _callable_prefix(callable_now: bool = True) -> str:
    """A prefix whose zone stays inside (or outside) calling hours for the next half hour."""
    now = datetime.now(UTC).replace(tzinfo=None)
    for prefix in PREFIXES:
        phone = normalize_phone(f"{prefix}10")
        assert phone is not None and phone.e164, prefix
        lead = Lead(phone_e164=phone.e164, phone_region=phone.region, country=None, state=None,
                    phone_time_zones=list(phone.time_zones))  # fmt: skip
        place = place_of(lead)
        later = now + timedelta(minutes=30)
        if callable_now == is_callable(place, now) == is_callable(place, later):
            return prefix
    raise AssertionError(f"no test prefix has callable={callable_now} now; add one")


def _add_lead(owner: User, name: str, number: str) -> Lead:
    phone = normalize_phone(number)
    assert phone is not None and phone.e164
    lead = Lead(
        workspace_id=owner.workspace_id, owner_id=owner.id, first_name=name,
        status=LeadStatus.NEW.value, phone_raw=phone.raw, phone_e164=phone.e164,
        phone_region=phone.region, phone_time_zones=list(phone.time_zones),
        time_zone=phone.time_zones[0], diallable=True,
    )  # fmt: skip
    db.session.add(lead)
    return lead


def _caller_with_leads(make_user: MakeUser, names: list[str]) -> str:
    caller = make_user(Role.CALLER, name="Cal Caller", email="cal@example.com")
    prefix = _callable_prefix()
    for number, name in enumerate(names, start=11):
        _add_lead(caller, name, f"{prefix}{number}")
    db.session.commit()
    email = caller.email
    # The server must be able to take SQLite's write lock while the browser works.
    db.session.close()
    return email


def _sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/leads")


def test_a_caller_works_three_leads_by_keyboard(
    page: Page, make_user: MakeUser, console: ConsoleLog
) -> None:
    names = ["Ada", "Bea", "Cy"]
    _sign_in(page, _caller_with_leads(make_user, names))
    page.goto("/dial/session")
    card = page.locator("[data-lead-id]")
    # The list of keys waits for "?": open, it would cover the outcomes.
    expect(page.locator("#shortcuts")).to_be_hidden()
    expect(page.locator('input[name="outcome"]').first).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    seen = []
    for name in names:
        expect(card.locator(".dial-name")).to_have_text(name)
        seen.append(card.get_attribute("data-lead-id"))
        page.keyboard.press("1")  # the first outcome: no answer
        expect(page.locator('input[name="outcome"][value="no_answer"]')).to_be_checked()
        page.keyboard.press("Enter")
        expect(page.locator(f'[data-lead-id="{seen[-1]}"]')).to_have_count(0)
    expect(page.locator("[data-empty-queue]")).to_contain_text("come back for another attempt")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    expect(page.locator("#shortcuts")).to_contain_text("Save and bring the next lead")
    # The list names the workspace's outcomes on their keys.
    expect(page.locator("#shortcuts dt").first).to_have_text("1")
    expect(page.locator("#shortcuts dd").first).to_have_text("No answer")
    # Every step was a swap inside the one page: no reload happened.
    assert page.evaluate("window.__sameDocument") is True
    calls = db.session.execute(sa.select(CallAttempt.lead_id, CallAttempt.outcome)).all()
    db.session.close()
    assert sorted(str(lead) for lead, _ in calls) == sorted(seen)
    assert {outcome for _, outcome in calls} == {"no_answer"}
    assert console.errors == []


def test_a_second_tab_cannot_record_the_call_twice(
    new_context: NewContext, make_user: MakeUser
) -> None:
    email = _caller_with_leads(make_user, ["Dee", "Eve"])
    context = new_context()
    first, second = context.new_page(), context.new_page()
    _sign_in(first, email)
    first.goto("/dial/session")
    expect(first.locator(".dial-name")).to_have_text("Dee")
    second.goto("/dial/session")
    expect(second.locator(".dial-name")).to_have_text("Dee")
    second.keyboard.press("2")
    second.keyboard.press("Enter")
    expect(second.locator(".dial-name")).to_have_text("Eve")
    # The first tab still shows Dee: its disposition is not recorded again, and Eve is shown.
    first.keyboard.press("1")
    first.keyboard.press("Enter")
    expect(first.locator("[data-dial-message]")).to_contain_text("already recorded")
    expect(first.locator(".dial-name")).to_have_text("Eve")
    assert db.session.scalar(sa.select(sa.func.count(CallAttempt.id))) == 1
    db.session.close()


def test_dial_screen_fits_a_tablet_with_touch_targets(
    new_context: NewContext, make_user: MakeUser, tmp_path: Path
) -> None:
    email = _caller_with_leads(make_user, ["Fay"])
    page = new_context(viewport={"width": 768, "height": 1024}).new_page()
    _sign_in(page, email)
    page.goto("/dial/session")
    expect(page.locator(".dial-name")).to_have_text("Fay")
    page.screenshot(path=tmp_path / "dial-768.png", full_page=True)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 768
    small = page.eval_on_selector_all(
        "#dial button, #dial .button, #dial .outcome",
        "els => els.filter(e => e.getBoundingClientRect().height < 40).map(e => e.textContent)",
    )
    assert small == []


def test_a_view_saved_after_filtering_keeps_the_filters_shown(
    page: Page, make_user: MakeUser
) -> None:
    _sign_in(page, _caller_with_leads(make_user, ["Gil"]))
    with page.expect_response(lambda r: "status=contacted" in r.url):
        page.locator("form[role=search] select[name=status]").select_option("contacted")
    page.get_by_text("Save as view").click()
    page.get_by_placeholder("View name").fill("Contacted")
    page.get_by_role("button", name="Save view").click()
    expect(page.locator(".flashes")).to_contain_text("Saved the view Contacted")
    filters = db.session.scalar(sa.select(SavedView.filters).where(SavedView.name == "Contacted"))
    db.session.close()
    assert filters == {"status": "contacted"}


def _plain_pages(app: Flask) -> list[str]:
    """Every page a signed-in user can open without arguments (downloads left out)."""
    skip = ("/logout", "/healthz", "/static", ".csv", ".xlsx", "/export", "/badge")
    urls = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith(skip)
    }
    return sorted(url for url in urls if not any(part in url for part in skip))


def test_no_page_breaks_the_content_security_policy(
    app: Flask, page: Page, make_user: MakeUser, console: ConsoleLog
) -> None:
    admin_email = make_user(*Role, name="Ali Admin", email="ali@example.com").email
    email = _caller_with_leads(make_user, ["Hal"])
    # The caller first: the admin's walk opens the dial screen, which claims a lead.
    _sign_in(page, email)
    page.goto("/dial/session")
    expect(page.locator(".dial-name")).to_have_text("Hal")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator("[data-empty-queue]")).to_be_visible()
    page.context.clear_cookies()
    _sign_in(page, admin_email)
    visited = []
    for url in _plain_pages(app):
        response = page.goto(url)
        if (
            response is not None
            and response.ok
            and "html" in response.headers.get("content-type", "")
        ):
            page.wait_for_load_state("networkidle")
            visited.append(url)
    assert "/settings/dial/outcomes" in visited and "/dial" in visited
    policy = [e for e in console.errors if "Content Security Policy" in e or "inline" in e]
    assert policy == [], policy


def _lead_named(name: str) -> Lead:
    lead = db.session.scalar(sa.select(Lead).where(Lead.first_name == name))
    assert lead is not None
    return lead


def _local_input(lead_name: str, days: int, hour: int) -> str:
    """A datetime-local value ``days`` from today at ``hour`` in the lead's own zone."""
    zone = ZoneInfo(_lead_named(lead_name).time_zone)
    day = datetime.now(zone) + timedelta(days=days)
    db.session.close()
    return day.replace(hour=hour, minute=0).strftime("%Y-%m-%dT%H:%M")


def test_bad_callbacks_are_explained_and_a_double_click_records_once(
    page: Page, make_user: MakeUser
) -> None:
    _sign_in(page, _caller_with_leads(make_user, ["Ivy", "Jo"]))
    page.goto("/dial/session")
    expect(page.locator(".dial-name")).to_have_text("Ivy")
    page.keyboard.press("b")  # the call-back outcome, and the date field focused
    expect(page.locator('input[name="outcome"][value="call_back"]')).to_be_checked()
    expect(page.locator("#callback-at")).to_be_focused()
    page.locator("#callback-at").fill(_local_input("Ivy", -1, 10))
    page.locator("#dial-note").fill("asked for a call tomorrow")
    save = page.get_by_role("button", name="Save & next")
    save.click()
    expect(page.locator("#dispose .error")).to_contain_text("in the past for this lead")
    expect(page.locator("#dial-note")).to_have_value("asked for a call tomorrow")
    expect(page.locator(".dial-name")).to_have_text("Ivy")
    page.locator("#callback-at").fill(_local_input("Ivy", 1, 23))
    save.click()
    expect(page.locator("#dispose .error")).to_contain_text("outside calling hours")
    page.keyboard.press("Escape")
    page.locator("body").click()
    page.keyboard.press("2")
    save.dblclick()
    expect(page.locator(".dial-name")).to_have_text("Jo")
    calls = db.session.scalars(sa.select(CallAttempt.outcome)).all()
    db.session.close()
    assert calls == ["busy"]


def test_the_empty_queue_says_why_and_a_listed_number_leaves_at_once(
    new_context: NewContext, make_user: MakeUser
) -> None:
    caller = make_user(Role.CALLER, name="Cal Caller", email="cal@example.com")
    make_user(Role.MANAGER, name="Meg Manager", email="meg@example.com")
    open_prefix, closed_prefix = _callable_prefix(), _callable_prefix(callable_now=False)
    _add_lead(caller, "Kim", f"{open_prefix}21")
    listed = _add_lead(caller, "Lou", f"{open_prefix}22").phone_e164
    _add_lead(caller, "Max", f"{closed_prefix}23")  # outside calling hours where it rings
    db.session.commit()
    db.session.close()
    dialer = new_context().new_page()
    _sign_in(dialer, "cal@example.com")
    dialer.goto("/dial/session")
    expect(dialer.locator(".dial-name")).to_have_text("Kim")
    # While Kim is on the caller's screen a manager lists Lou's number, elsewhere.
    desk = new_context().new_page()
    _sign_in(desk, "meg@example.com")
    desk.goto("/dnc")
    desk.get_by_label("Phone or email", exact=True).fill(listed)
    desk.locator("#dnc-reason").fill("asked on the phone")
    desk.get_by_role("button", name="Add", exact=True).click()
    expect(desk.locator(".flashes")).to_contain_text("added to the list")
    dialer.keyboard.press("1")
    dialer.keyboard.press("Enter")
    empty = dialer.locator("[data-empty-queue]")
    expect(empty).to_contain_text("1 lead is on the do-not-contact list")
    expect(empty).to_contain_text("1 lead waits for calling hours")
    expect(empty).to_contain_text("the next becomes callable at")
    expect(empty).to_contain_text("1 lead comes back for another attempt later")


def test_a_due_callback_raises_a_browser_notification_once_allowed(
    new_context: NewContext, make_user: MakeUser
) -> None:
    caller = make_user(Role.CALLER, name="Cal Caller", email="cal@example.com")
    lead = _add_lead(caller, "Nia", f"{_callable_prefix()}31")
    db.session.flush()
    due = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5)
    db.session.add(Callback(lead_id=lead.id, owner_id=caller.id, due_at=due, note="as promised"))
    db.session.commit()
    db.session.close()
    context = new_context()
    page = context.new_page()
    _sign_in(page, "cal@example.com")
    # Before permission is given the Dial page offers to ask for it.
    page.goto("/dial")
    expect(page.locator("[data-enable-notifications]")).to_be_visible()
    context.grant_permissions(["notifications"])
    # Record what the page shows, still through the browser's own Notification.
    context.add_init_script(NOTIFICATION_RECORDER)
    page.goto("/dial/session")
    expect(page.locator(".dial-name")).to_have_text("Nia")
    expect(page.locator("[data-due-callbacks]")).to_contain_text("1 callback due")
    expect(page.locator("[data-enable-notifications]")).to_be_hidden()
    page.wait_for_function("window.__notified.length > 0")
    assert page.evaluate("window.__notified") == ["1 callback due: they come first."]


NOTIFICATION_RECORDER = """
(() => {
  const Real = window.Notification;
  if (!Real) { return; }
  window.__notified = [];
  function Recorded(title, options) {
    window.__notified.push(options && options.body);
    return new Real(title, options);
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = Real.requestPermission.bind(Real);
  window.Notification = Recorded;
})();
"""


def test_a_manager_reorders_outcomes_and_the_callers_keys_follow(
    new_context: NewContext, make_user: MakeUser
) -> None:
    make_user(Role.MANAGER, name="Meg Manager", email="meg@example.com")
    email = _caller_with_leads(make_user, ["Oz", "Pam"])
    desk = new_context().new_page()
    _sign_in(desk, "meg@example.com")
    desk.locator("summary", has_text="Settings").click()
    desk.get_by_role("link", name="Dial outcomes").click()
    desk.get_by_role("button", name="Move Busy up").click()
    expect(desk.locator("[data-outcome=busy] kbd")).to_have_text("1")
    desk.get_by_role("row", name="Gatekeeper").get_by_role("button", name="Turn off").click()
    expect(desk.locator(".flashes")).to_contain_text("past calls keep it")
    # A bad rename keeps the form and says what to do.
    desk.locator("[data-outcome=voicemail]").get_by_role("link", name="Edit").click()
    desk.get_by_label("Name").fill("Busy")
    desk.get_by_role("button", name="Save outcome").click()
    expect(desk.locator("#outcome-label-msg")).to_contain_text("already called “Busy”")
    desk.get_by_label("Name").fill("Voicemail left")
    desk.get_by_role("button", name="Save outcome").click()
    expect(desk.locator("[data-outcome=voicemail]")).to_contain_text("Voicemail left")
    dialer = new_context().new_page()
    _sign_in(dialer, email)
    dialer.goto("/dial/session")
    expect(dialer.locator(".dial-name")).to_have_text("Oz")
    expect(dialer.locator('label:has(input[data-key="3"])')).to_contain_text("Voicemail left")
    dialer.keyboard.press("1")
    expect(dialer.locator('input[name="outcome"][value="busy"]')).to_be_checked()
    expect(dialer.locator('input[name="outcome"][value="gatekeeper"]')).to_have_count(0)
    dialer.keyboard.press("Enter")
    expect(dialer.locator(".dial-name")).to_have_text("Pam")
    assert db.session.scalars(sa.select(CallAttempt.outcome)).all() == ["busy"]
    db.session.close()
