"""Dial settings pages: outcomes (add, rename, reorder, turn off) and calling hours."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from leads.dial_models import CallAttempt, DialOutcome, DialSettings
from leads.dialing import claim_next
from leads.dispositions import DEFAULT_OUTCOMES
from tests.leads.dial_factories import OPEN, make_lead

HX = {"HX-Request": "true"}
_TOKEN = re.compile(r'name="token" value="([0-9a-f]{32})"')
NEW_OUTCOME = {
    "label": "Left message with assistant", "category": "gatekeeper", "retry_minutes": "120",
    "new_status": "contacted", "cadence_event": "assistant_message", "shortcut": "2",
}  # fmt: skip


@pytest.fixture
def manager(make_user, login, app, monkeypatch):
    monkeypatch.setitem(app.config, "DIAL_NOW", OPEN.isoformat())
    user = make_user(Role.MANAGER, name="Meg Manager")
    login(user)
    return user


def _keys(html: str) -> list[tuple[str, str]]:
    """(key, outcome) pairs of the dial card, in the order shown."""
    return re.findall(r'name="outcome" value="([a-z0-9_]+)" data-key="([^"]*)"', html)


def _card(client, caller, login) -> str:
    login(caller)
    return client.post("/dial/next", headers=HX).get_data(as_text=True)


def test_the_page_lists_the_default_outcomes_in_keyboard_order(client, manager):
    html = client.get("/settings/dial/outcomes").get_data(as_text=True)
    assert html.index("No answer") < html.index("Busy") < html.index("Do not call")
    assert "<kbd>1</kbd>" in html and "<kbd>-</kbd>" in html
    # Looking stores nothing: the defaults are written on the first change.
    assert db.session.scalar(sa.select(sa.func.count(DialOutcome.id))) == 0


def test_bad_outcome_input_is_refused_with_the_form_kept(client, manager):
    response = client.post("/settings/dial/outcomes", data={
        "label": "No answer", "category": "nonsense", "retry_minutes": "-5",
        "new_status": "won", "cadence_event": "Bad Event!", "shortcut": "x",
        "do_not_contact": "on", "needs_callback": "on",
    })  # fmt: skip
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for message in ("already called “No answer”", "Pick the category", "whole minutes from 1",
                    "Pick a status", "lower-case letters", "cannot also ask for a callback",
                    "one of 1–9, 0 or -"):  # fmt: skip
        assert message in html, message
    assert 'value="Bad Event!"' in html and 'value="-5"' in html
    assert db.session.scalar(sa.select(sa.func.count(DialOutcome.id))) == 0


def test_an_added_outcome_takes_its_key_and_the_dial_screen_follows(
    client, manager, make_user, login
):
    # Eleven keys, eleven default outcomes: one goes off to make room.
    client.post("/settings/dial/outcomes/gatekeeper/active", data={"active": "0"})
    response = client.post("/settings/dial/outcomes", data=NEW_OUTCOME)
    assert response.status_code == 302
    added = db.session.scalar(
        sa.select(DialOutcome).where(DialOutcome.key == "left_message_with_assistant")
    )
    assert (added.position, added.retry_minutes, added.cadence_event) == (
        2,
        120,
        "assistant_message",
    )
    caller = make_user(Role.CALLER)
    make_lead(caller)
    keys = _keys(_card(client, caller, login))
    assert keys[:3] == [("no_answer", "1"), ("left_message_with_assistant", "2"), ("busy", "3")]
    assert keys[-1] == ("do_not_call", "-") and len(keys) == 11
    assert "gatekeeper" not in dict(keys)


def test_twelve_active_outcomes_are_refused(client, manager):
    again = client.post("/settings/dial/outcomes", data=NEW_OUTCOME)
    assert again.status_code == 422
    assert "At most 11 outcomes can be active" in again.get_data(as_text=True)


def test_renaming_and_turning_off_keeps_past_calls(client, manager, make_user, login):
    caller = make_user(Role.CALLER)
    make_lead(caller)
    make_lead(caller)
    token = _TOKEN.search(_card(client, caller, login)).group(1)
    client.post("/dial/dispose", data={"token": token, "outcome": "busy"}, headers=HX)
    login(manager)
    renamed = client.post("/settings/dial/outcomes/busy", data={
        "label": "Line busy", "category": "busy", "retry_minutes": "45",
    })  # fmt: skip
    assert renamed.status_code == 302
    off = client.post("/settings/dial/outcomes/busy/active", data={"active": "0"})
    assert off.status_code == 302
    busy = db.session.scalar(sa.select(DialOutcome).where(DialOutcome.key == "busy"))
    assert (busy.label, busy.retry_minutes, busy.active, busy.shortcut) == (
        "Line busy",
        45,
        False,
        "",
    )
    call = db.session.scalar(sa.select(CallAttempt))
    assert (call.outcome, call.category) == ("busy", "busy")
    html = _card(client, caller, login)
    keys = _keys(html)
    assert "busy" not in dict(keys) and keys[1] == ("voicemail", "2")
    # A card opened before the change still offers it: the caller is told, nothing recorded.
    token = _TOKEN.search(html).group(1)
    stale = client.post("/dial/dispose", data={"token": token, "outcome": "busy"}, headers=HX)
    assert stale.status_code == 422
    assert "“Line busy” was turned off" in stale.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(CallAttempt.id))) == 1
    login(manager)
    page = client.get("/settings/dial/outcomes").get_data(as_text=True)
    assert "Line busy" in page and "Turn on" in page


def test_moving_and_rekeying_reorder_the_keys(client, manager):
    client.post("/settings/dial/outcomes/busy/move", data={"direction": "up"})
    client.post("/settings/dial/outcomes/qualified/move", data={"direction": "down"})
    client.post("/settings/dial/outcomes/do_not_call/move", data={"direction": "down"})
    bad = client.post("/settings/dial/outcomes/busy/move", data={"direction": "sideways"})
    assert bad.status_code == 422
    client.post("/settings/dial/outcomes/conversation", data={
        "label": "Conversation", "category": "conversation", "retry_minutes": "10080",
        "new_status": "connected", "shortcut": "1",
    })  # fmt: skip
    order = db.session.scalars(
        sa.select(DialOutcome.key).where(DialOutcome.active).order_by(DialOutcome.position)
    ).all()
    assert order[:3] == ["conversation", "busy", "no_answer"]
    assert order[-3:] == ["wrong_number", "qualified", "do_not_call"]
    positions = db.session.scalars(sa.select(DialOutcome.position).where(DialOutcome.active)).all()
    assert sorted(positions) == list(range(1, 12))


def test_the_last_active_outcome_cannot_be_turned_off(client, manager):
    keys = [key for key, *_ in DEFAULT_OUTCOMES]
    for key in keys[:-1]:
        assert (
            client.post(f"/settings/dial/outcomes/{key}/active", data={"active": "0"}).status_code
            == 302
        )
    last = client.post(f"/settings/dial/outcomes/{keys[-1]}/active", data={"active": "0"})
    assert last.status_code == 422
    assert "at least one outcome" in last.get_data(as_text=True)
    assert (
        client.post("/settings/dial/outcomes/nope/active", data={"active": "0"}).status_code == 404
    )


def test_only_admins_and_managers_see_the_settings(client, make_user, login):
    login(make_user(Role.CALLER))
    assert client.get("/settings/dial/outcomes").status_code == 403
    assert client.get("/settings/dial/hours").status_code == 403


# -- calling hours -------------------------------------------------------------

HOURS = {
    "recent_call_minutes": "90", "max_attempts": "3", "lease_minutes": "5",
    "default-weekday_start": "09:00", "default-weekday_end": "17:00",
    "default-weekend_start": "", "default-weekend_end": "",
    "country-code": ["CA", ""], "country-weekday_start": ["09:00", ""],
    "country-weekday_end": ["21:30", ""], "country-weekend_start": ["10:00", ""],
    "country-weekend_end": ["18:00", ""],
    "state-code": ["fl", "CA-QC"], "state-weekday_start": ["10:00", "09:30"],
    "state-weekday_end": ["16:00", "20:00"], "state-weekend_start": ["", ""],
    "state-weekend_end": ["", ""],
}  # fmt: skip


def test_the_hours_page_shows_the_defaults(client, manager):
    html = client.get("/settings/dial/hours").get_data(as_text=True)
    assert 'value="08:00"' in html and 'value="21:00"' in html and 'value="US-FL"' in html
    assert 'value="21:30"' in html and 'name="recent_call_minutes" value="60"' in html


def test_bad_hours_are_refused_with_each_reason(client, manager):
    bad = {
        **HOURS, "max_attempts": "0", "recent_call_minutes": "soon",
        "default-weekday_start": "18:00", "default-weekday_end": "09:00",
        "country-code": ["ZZ", ""], "state-code": ["Atlantis", ""],
        "state-weekday_start": ["10:00", "09:30"], "state-weekday_end": ["", "20:00"],
    }  # fmt: skip
    response = client.post("/settings/dial/hours", data=bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for message in (
        "Most calls per lead: a whole number from 1", "Skip leads called",
        "must open before it closes", "“ZZ” is not a two-letter country code",
        "“Atlantis” is not a US state", "Say which place this rule is for",
    ):  # fmt: skip
        assert message in html, message
    assert 'value="Atlantis"' in html
    assert db.session.get(DialSettings, manager.workspace_id) is None


def test_saved_hours_decide_what_the_queue_serves(client, manager, make_user, app):
    assert client.post("/settings/dial/hours", data=HOURS).status_code == 302
    stored = db.session.get(DialSettings, manager.workspace_id)
    assert (stored.recent_call_minutes, stored.max_attempts) == (90, 3)
    assert stored.calling_hours["subdivisions"] == {
        "US-FL": {"weekday": ["10:00", "16:00"], "weekend": ["00:00", "00:00"]},
        "CA-QC": {"weekday": ["09:30", "20:00"], "weekend": ["00:00", "00:00"]},
    }
    caller = make_user(Role.CALLER)

    def served(area: str, at) -> list[bool]:
        """Whether a new lead of the area code is served at each moment, one after another."""
        lead = make_lead(caller, area=area)
        results = []
        for moment in at:
            claimed = claim_next(caller, {}, at=moment, holds_none=True)
            results.append(claimed is not None and claimed.id == lead.id)
            lead.dial_lease_until = lead.dial_leased_by_id = lead.dial_lease_token = None
            db.session.commit()
        lead.dial_done = True
        db.session.commit()
        return results

    # OPEN is Wednesday 13:00 in New York; the workspace opens at 09:00 and closes at 17:00.
    assert served("212", [OPEN - timedelta(hours=4, minutes=1), OPEN - timedelta(hours=4), OPEN,
                          OPEN + timedelta(hours=3, minutes=59), OPEN + timedelta(hours=4)]) == [
        False, True, True, True, False]  # fmt: skip
    # Miami: Florida's rule here closes at 16:00, before the default 17:00.
    assert served("305", [OPEN + timedelta(hours=2, minutes=59), OPEN + timedelta(hours=3)]) == [
        True, False]  # fmt: skip
    # Weekends are closed by these settings: Saturday noon in New York.
    assert served("212", [OPEN + timedelta(days=3, hours=-1)]) == [False]
    restored = client.post("/settings/dial/hours", data={"reset": "1"})
    assert restored.status_code == 302
    assert db.session.get(DialSettings, manager.workspace_id).calling_hours == {}


def test_a_bad_rename_before_any_change_stores_nothing(client, manager):
    response = client.post("/settings/dial/outcomes/busy", data={"label": "", "category": "busy"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Give the outcome a name" in html and "Edit Busy" in html
    assert db.session.scalar(sa.select(sa.func.count(DialOutcome.id))) == 0
    assert client.get("/settings/dial/outcomes/nope").status_code == 404
