"""The leads pages in a real browser: htmx behaviour, the CSP, tablet layout, sign-out."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import Role, User
from leads.editing import LeadInput, check_lead, save_lead
from leads.models import Lead, LeadStatus
from leads.normalize import normalize_email, normalize_phone
from tests.conftest import PASSWORD

if TYPE_CHECKING:  # only for annotations: importing a conftest again would run it twice
    from tests.e2e.conftest import ConsoleLog, NewContext

pytestmark = pytest.mark.e2e

MakeUser = Callable[..., User]
TABLET_VIEWPORTS = [(768, 1024), (1024, 768)]
MIN_BUTTON_HEIGHT = 40


def _release_database() -> None:
    # Reading an attribute after a commit opens a new transaction, and on SQLite
    # the test process begins it IMMEDIATE: it would hold the write lock while
    # the server tries to save what the browser submits.
    db.session.close()


def _admin(make_user: MakeUser) -> str:
    """Create an admin and return the email to sign in with."""
    email = make_user(Role.ADMIN, name="Ada Admin", email="ada@example.com").email
    _release_database()
    return email


def _add_lead(owner_email: str, **values: Any) -> None:
    """Save a lead the way the lead form does, owned by the given user."""
    owner = db.session.scalar(sa.select(User).where(User.email == owner_email))
    assert owner is not None
    lead = Lead(workspace_id=owner.workspace_id, status=LeadStatus.NEW.value)
    problems, columns = check_lead(
        lead, LeadInput({"status": LeadStatus.NEW.value, "owner_id": owner.id, **values}), "US"
    )
    assert not problems, problems.by_field
    save_lead(lead, columns, owner)
    db.session.commit()
    _release_database()


def _sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/leads$"))


def _lead_rows(page: Page):
    return page.locator("#results table.leads-table tbody tr")


def test_create_a_messy_lead_then_find_it_with_active_search(
    page: Page, make_user: MakeUser, console: ConsoleLog
) -> None:
    email = _admin(make_user)
    _add_lead(email, first_name="Alan", last_name="Turing", company="Bletchley Park",
              phone="+44 20 7946 0018", email="alan@example.org")  # fmt: skip
    _sign_in(page, email)

    page.get_by_role("link", name="New lead").click()
    expect(page).to_have_url(re.compile(r"/leads/new$"))
    page.get_by_label("First name").fill("  Grace ")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("Company").fill("Navy   Labs")
    page.get_by_label("Phone").press_sequentially("(415) 555-0134 x12")
    page.get_by_label("Email").fill("Grace.Hopper@Example.COM")

    # The preview is htmx's work while typing: nothing has been submitted yet.
    preview = page.locator("#normalized")
    expect(preview).to_contain_text("+14155550134 ext. 12")
    expect(preview).to_contain_text(
        re.compile(r"Local time: \d{1,2}:\d\d [AP]M America/Los_Angeles")
    )
    expect(preview).to_contain_text("Grace.Hopper@example.com")
    expect(page).to_have_url(re.compile(r"/leads/new$"))
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 1
    _release_database()

    page.get_by_role("button", name="Create lead").click()
    expect(page).to_have_url(re.compile(r"/leads/\d+$"))
    # The card shows what was stored: names trimmed and collapsed, phone in E.164.
    expect(page.get_by_role("heading", level=1)).to_have_text("Grace Hopper")
    expect(page.locator(".page-head .sub")).to_have_text("Navy Labs")
    card = page.get_by_role("region", name="Contact details")
    expect(card.locator("a.call")).to_have_text("+14155550134 ext. 12")
    expect(card).to_contain_text("Grace.Hopper@example.com")
    expect(card).to_contain_text("America/Los_Angeles")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Leads").click()
    expect(page).to_have_url(re.compile(r"/leads$"))
    expect(_lead_rows(page)).to_have_count(2)
    expect(_lead_rows(page).filter(has_text="Grace Hopper")).to_contain_text("+14155550134")

    # A marker on window survives only if the search swaps #results in place
    # rather than loading a new page.
    page.evaluate("window.__sameDocument = true")
    with page.expect_response(
        lambda r: "q=hop" in r.url and r.request.headers.get("hx-request") == "true"
    ):
        page.get_by_role("searchbox").press_sequentially("hop")
    expect(_lead_rows(page)).to_have_count(1)
    expect(_lead_rows(page)).to_contain_text("Grace Hopper")
    expect(page.locator("#results")).not_to_contain_text("Alan Turing")
    assert page.evaluate("window.__sameDocument") is True
    expect(page).to_have_url(re.compile(r"/leads\?q=hop"))  # hx-push-url keeps the search linkable
    assert console.errors == []


def test_malformed_phone_and_email_are_refused_next_to_the_fields(
    page: Page, make_user: MakeUser
) -> None:
    _sign_in(page, _admin(make_user))
    bad_phone, bad_email = "415-55", "grace@@example"
    page.goto("/leads/new")
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Phone").fill(bad_phone)
    page.get_by_label("Email").fill(bad_email)
    page.get_by_role("button", name="Create lead").click()

    expect(page).to_have_url(re.compile(r"/leads/new$"))
    expected = {"phone": (bad_phone, normalize_phone(bad_phone, "US").error),
                "email": (bad_email, normalize_email(bad_email).error)}  # fmt: skip
    for field_id, (typed, message) in expected.items():
        assert message, f"normalization accepted {typed!r}; pick a value it refuses"
        field = page.locator(f".field:has(#{field_id})")
        expect(field).to_have_class(re.compile(r"\bhas-error\b"))
        expect(field.locator(f"#{field_id}-msg")).to_have_text(message)
        expect(page.locator(f"#{field_id}")).to_have_value(typed)
        expect(page.locator(f"#{field_id}")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("First name")).to_have_value("Grace")
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 0
    _release_database()


@pytest.mark.parametrize(("width", "height"), TABLET_VIEWPORTS, ids=lambda v: str(v))
def test_tablet_layout_fits_and_buttons_are_tappable(
    new_context: NewContext, make_user: MakeUser, tmp_path: Path, width: int, height: int
) -> None:
    email = _admin(make_user)
    # Long values are what push a table wider than the screen.
    _add_lead(email, first_name="Maximiliane", last_name="Oppenheimer-Featherstonehaugh",
              company="Consolidated Intercontinental Logistics Holdings",
              title="Vice President, Strategic Partnerships", phone="(415) 555-0134 x12",
              email="maximiliane.oppenheimer@consolidated-logistics.example.com")  # fmt: skip
    _add_lead(email, first_name="Alan", last_name="Turing", phone="+44 20 7946 0018")
    page = new_context(viewport={"width": width, "height": height}).new_page()
    _sign_in(page, email)
    lead_path = page.locator("#results a", has_text="Maximiliane").get_attribute("href")

    problems = []
    for name, path in (("leads", "/leads"), ("lead-form", "/leads/new"), ("lead", lead_path)):
        page.goto(path)
        page.wait_for_load_state("networkidle")  # htmx's count and preview have landed
        # Screenshots land in the test's tmp dir, to look at when the layout changes.
        page.screenshot(path=tmp_path / f"{name}-{width}x{height}.png", full_page=True)
        scroll_width, inner_width = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        if scroll_width > inner_width:
            problems.append(f"{path} is {scroll_width}px wide in a {inner_width}px window")
        heights = page.eval_on_selector_all(
            "button, .button, input[type=submit]",
            """els => els.filter(e => e.getClientRects().length)
                        .map(e => [e.textContent.trim() || e.value,
                                   e.getBoundingClientRect().height])""",
        )
        if not heights:
            problems.append(f"{path} shows no buttons; the selector has gone stale")
        problems += [
            f"{path}: button {label!r} is {height:.0f}px high"
            for label, height in heights
            if height < MIN_BUTTON_HEIGHT
        ]
    assert not problems, f"at {width}x{height} (screenshots in {tmp_path}):\n" + "\n".join(problems)


def test_pages_raise_no_console_errors_under_the_csp(
    page: Page, make_user: MakeUser, console: ConsoleLog
) -> None:
    _sign_in(page, _admin(make_user))
    page.goto("/leads/new")
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Phone").fill("+1 415 555 0134")
    expect(page.locator("#normalized")).to_contain_text("+14155550134")
    page.get_by_role("button", name="Create lead").click()
    expect(page).to_have_url(re.compile(r"/leads/\d+$"))
    page.get_by_label("Note", exact=True).fill("Called, left a voicemail.")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#timeline .activity-note")).to_contain_text("left a voicemail")
    page.goto("/leads")
    page.get_by_role("searchbox").fill("gra")
    expect(_lead_rows(page)).to_have_count(1)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof htmx") == "object", "htmx did not load"
    assert console.errors == []


def test_sign_out_revokes_the_session_cookie(new_context: NewContext, make_user: MakeUser) -> None:
    email = _admin(make_user)
    first = new_context()
    page = first.new_page()
    _sign_in(page, email)
    cookies = first.cookies()
    assert any(c["name"] == "leadline_session" for c in cookies)

    # The copied cookie works before sign-out, so the refusal below is the revocation.
    copy = new_context()
    copy.add_cookies(cookies)
    before = copy.new_page()
    before.goto("/leads")
    expect(before).to_have_url(re.compile(r"/leads$"))
    copy.close()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flashes")).to_contain_text("You are signed out.")

    replay = new_context()
    replay.add_cookies(cookies)
    after = replay.new_page()
    after.goto("/leads")
    expect(after).to_have_url(re.compile(r"/login(\?|$)"))
    expect(after.get_by_role("button", name="Sign in")).to_be_visible()


def test_erase_a_person_with_their_twin_after_a_confirm(
    page: Page, make_user: MakeUser, console: ConsoleLog
) -> None:
    email = _admin(make_user)
    _add_lead(email, first_name="Odile", last_name="Ferrand", phone="+1 646 555 0178",
              email="odile@example.org")  # fmt: skip
    # The same person, imported earlier with her number as a further phone.
    admin = db.session.scalar(sa.select(User).where(User.email == email))
    mobile = {"kind": "mobile", "raw": "646 555 0178", "e164": "+16465550178"}
    db.session.add(Lead(workspace_id=admin.workspace_id, status=LeadStatus.NEW.value,
                        first_name="O.", last_name="Ferrand", owner_id=admin.id,
                        other_phones=[mobile]))  # fmt: skip
    db.session.commit()
    _release_database()
    _add_lead(email, first_name="Alan", last_name="Turing", email="alan@example.org")
    _sign_in(page, email)

    _lead_rows(page).filter(has_text="Odile Ferrand").get_by_role("link").first.click()
    page.get_by_role("link", name="Erase").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Erase Odile Ferrand")
    twin = page.get_by_role("checkbox", name=re.compile("O. Ferrand"))
    expect(twin).to_be_checked()  # the same email: offered, ticked by default

    # Without the confirm box nothing is erased and the page says why.
    page.get_by_role("button", name="Erase permanently").click()
    expect(page.get_by_role("alert")).to_contain_text("Tick the box to confirm")
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 3
    _release_database()

    page.get_by_label("I understand this cannot be undone.").check()
    page.get_by_role("button", name="Erase permanently").click()
    expect(page).to_have_url(re.compile(r"/leads$"))
    expect(page.locator(".flash")).to_contain_text("Erased 2 lead(s)")
    expect(_lead_rows(page)).to_have_count(1)
    expect(_lead_rows(page)).to_contain_text("Alan Turing")
    names = db.session.scalars(sa.select(Lead.first_name)).all()
    assert names == ["Alan"]
    _release_database()

    # Typing the person in again is refused at the field, with the reason.
    page.get_by_role("link", name="New lead").click()
    page.get_by_label("First name").fill("Odile")
    page.get_by_label("Email").fill("odile@example.org")
    page.get_by_role("button", name="Create lead").click()
    expect(page.locator("body")).to_contain_text("erased on request")
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 1
    # The two refusals answer 422, which the browser logs; nothing else went wrong.
    assert [e for e in console.errors if "422" not in e] == []
