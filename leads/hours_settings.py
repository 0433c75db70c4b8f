"""Editing a workspace's dial rules: calling-hours windows, the recent-call gap, attempts.

The windows are stored in the shape of ``leads.calling_hours.DEFAULT_RULES``, which
is what the claim reads; a window with no start and no end means closed that day.
A state's rule only ever narrows its country's: a lead must be inside both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import Any

import phonenumbers
from werkzeug.datastructures import MultiDict

from app.extensions import db
from leads.calling_hours import workspace_rules
from leads.calling_zones import subdivision
from leads.dial_models import DialSettings

CLOSED = ["00:00", "00:00"]
WINDOW_FIELDS = ("weekday_start", "weekday_end", "weekend_start", "weekend_end")
BLANK_ROWS = 2
# name: (label, lowest, highest)
NUMBERS = {
    "recent_call_minutes": ("Skip leads called in the last … minutes", 1, 7 * 24 * 60),
    "max_attempts": ("Most calls per lead", 1, 100),
    "lease_minutes": ("A lead returns to the queue after … minutes on an idle screen", 1, 120),
}


@dataclass
class HoursForm:
    """The settings as typed; ``problems`` holds a message per field or rule row."""

    numbers: dict[str, str]
    default: dict[str, str]
    countries: list[dict[str, str]]
    states: list[dict[str, str]]
    problems: dict[str, str] = field(default_factory=dict)


def _row(code: str, rule: dict[str, list[str]]) -> dict[str, str]:
    row = {"code": code}
    for day in ("weekday", "weekend"):
        start, end = rule[day] if rule[day] != CLOSED else ("", "")
        row[f"{day}_start"], row[f"{day}_end"] = start, end
    return row


def current_form(workspace_id: int) -> HoursForm:
    """The workspace's settings (or the defaults) as the form shows them."""
    settings = db.session.get(DialSettings, workspace_id) or DialSettings()
    rules = workspace_rules(settings.calling_hours)
    blank = {"code": "", **dict.fromkeys(WINDOW_FIELDS, "")}
    return HoursForm(
        numbers={
            "recent_call_minutes": str(settings.recent_call_minutes or 60),
            "max_attempts": str(settings.max_attempts or 6),
            "lease_minutes": str(settings.lease_minutes or 5),
        },
        default=_row("", rules["default"]),
        countries=[_row(c, r) for c, r in sorted(rules.get("countries", {}).items())]
        + [dict(blank) for _ in range(BLANK_ROWS)],
        states=[_row(c, r) for c, r in sorted(rules.get("subdivisions", {}).items())]
        + [dict(blank) for _ in range(BLANK_ROWS)],
    )


def typed_form(form: MultiDict[str, str]) -> HoursForm:
    """The form as submitted, rows kept in order (blank ones included) for showing again."""

    def rows(prefix: str) -> list[dict[str, str]]:
        columns = {name: form.getlist(f"{prefix}-{name}") for name in ("code", *WINDOW_FIELDS)}
        count = max(len(values) for values in columns.values())
        return [
            {
                name: (values[i] if i < len(values) else "").strip()
                for name, values in columns.items()
            }
            for i in range(count)
        ]

    return HoursForm(
        numbers={name: form.get(name, "").strip() for name in NUMBERS},
        default={name: form.get(f"default-{name}", "").strip() for name in WINDOW_FIELDS},
        countries=rows("country"),
        states=rows("state"),
    )


def _window(row: dict[str, str], day: str) -> list[str]:
    """["HH:MM", "HH:MM"] from a row's two times; raises ValueError with the reason."""
    start, end = row[f"{day}_start"], row[f"{day}_end"]
    if not start and not end:
        return CLOSED
    try:
        opens, closes = time.fromisoformat(start), time.fromisoformat(end)
    except ValueError:
        raise ValueError(
            f"Give the {day} window as two times like 08:00 and 21:00, or leave both "
            "blank for closed."
        ) from None
    if opens >= closes:
        raise ValueError(f"The {day} window must open before it closes.")
    return [opens.strftime("%H:%M"), closes.strftime("%H:%M")]


def _rule(row: dict[str, str]) -> dict[str, list[str]]:
    return {"weekday": _window(row, "weekday"), "weekend": _window(row, "weekend")}


def _country_code(text: str) -> str:
    code = text.upper()
    if len(code) != 2 or not phonenumbers.country_code_for_region(code):
        raise ValueError(f"“{text}” is not a two-letter country code such as CA or GB.")
    return code


def _state_code(text: str) -> str:
    country, _, state = text.upper().rpartition("-")
    code = subdivision(country or None, state)
    if code is None:
        raise ValueError(f"“{text}” is not a US state or Canadian province, e.g. FL or CA-QC.")
    return code


def _rule_rows(
    rows: list[dict[str, str]], prefix: str, parse_code, problems: dict[str, str]
) -> dict[str, Any]:
    rules: dict[str, Any] = {}
    for index, row in enumerate(rows):
        if not any(row.values()):
            continue
        try:
            if not row["code"]:
                raise ValueError("Say which place this rule is for, or clear the row.")
            code = parse_code(row["code"])
            if code in rules:
                raise ValueError(f"{code} has two rules: keep one.")
            rules[code] = _rule(row)
        except ValueError as exc:
            problems[f"{prefix}-{index}"] = str(exc)
    return rules


def parse(typed: HoursForm) -> dict[str, Any]:
    """The values to store, filling ``typed.problems`` with what cannot be taken."""
    problems = typed.problems
    values: dict[str, Any] = {}
    for name, (label, lowest, highest) in NUMBERS.items():
        text = typed.numbers.get(name, "")
        if text.isdigit() and lowest <= int(text) <= highest:
            values[name] = int(text)
        else:
            problems[name] = f"{label}: a whole number from {lowest} to {highest:,}."
    try:
        default = _rule(typed.default)
    except ValueError as exc:
        problems["default"] = str(exc)
        default = None
    values["calling_hours"] = {
        "default": default,
        "countries": _rule_rows(typed.countries, "country", _country_code, problems),
        "subdivisions": _rule_rows(typed.states, "state", _state_code, problems),
    }
    return values


def save(workspace_id: int, values: dict[str, Any]) -> DialSettings:
    """Store the settings; the next claim in any process reads them."""
    settings = db.session.get(DialSettings, workspace_id)
    if settings is None:
        settings = DialSettings(workspace_id=workspace_id)
        db.session.add(settings)
    for name, value in values.items():
        setattr(settings, name, value)
    return settings


def restore_default_hours(workspace_id: int) -> None:
    """Back to the federal, state and Canadian defaults; the numbers stay as set."""
    save(workspace_id, {"calling_hours": {}})
