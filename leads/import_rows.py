"""One imported record becomes lead columns: mapping, normalization, merging duplicates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import available_timezones

from leads.editing import contact_columns
from leads.export import unescape_cell
from leads.models import DuplicatePolicy, ImportRun
from leads.normalize import (
    NormalizedPhone,
    blank_to_none,
    normalize_email,
    normalize_name,
    normalize_phone,
    region_code,
)
from leads.sources import SourceRow

NAME_TARGETS = ("first_name", "last_name", "full_name", "company", "title", "city", "state")
TEXT_TARGETS = (
    "website", "linkedin_url", "x_url", "other_profile_url", "external_id", "notes", "source",
)  # fmt: skip
PHONE_TARGETS = ("phone", "mobile", "other_phone")
# Lead columns an import may write; undo restores exactly these.
IMPORTED_COLUMNS = (
    *NAME_TARGETS, *TEXT_TARGETS, "country", "birthday", "time_zone", "custom_fields",
    "other_phones", "phone_raw", "phone_e164", "phone_extension", "phone_region", "phone_type",
    "phone_time_zones", "diallable", "email_raw", "email", "email_key", "email_valid", "list_id",
)  # fmt: skip
# The columns that identify a person: each is unique within a workspace.
KEY_COLUMNS = ("phone_e164", "email_key", "external_id")
_TIME_ZONES = frozenset(available_timezones())
_DATE_FORMATS_MONTH_FIRST = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%d.%m.%Y", "%Y/%m/%d")
_DATE_FORMATS_DAY_FIRST = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d")
_SPREADSHEET_NUMBER = re.compile(r"^\d(\.\d+)?[eE]\+\d+$")


@dataclass(slots=True)
class Candidate:
    """One record, normalized and ready to become (or update) a lead."""

    line: int
    raw: str
    columns: dict[str, Any]
    # The columns as the driver takes them for a new lead (LeadEncoder.encode), worked
    # out where the record was normalized.
    params: tuple[Any, ...] | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Values in IMPORTED_COLUMNS order rather than the dict: unpickling the dicts
        # of a chunk cost the runner 20 µs a record.
        values = tuple(map(self.columns.get, IMPORTED_COLUMNS))
        return _candidate, (self.line, self.raw, values, self.params)

    @property
    def keys(self) -> list[tuple[str, str]]:
        """(column, value) of each unique key it has; read anew, since merging may add one."""
        columns = self.columns
        return [(name, value) for name in KEY_COLUMNS if (value := columns.get(name))]


def _candidate(line: int, raw: str, values: tuple, params: tuple | None) -> Candidate:
    return Candidate(line, raw, dict(zip(IMPORTED_COLUMNS, values, strict=True)), params)


@dataclass(frozen=True)
class RowNormalizer:
    """Turns records into lead columns by one run's mapping (read once, used per row)."""

    targets: tuple[tuple[str, str | None], ...]
    default_region: str
    list_id: int | None
    source: str | None

    @classmethod
    def for_run(cls, run: ImportRun) -> RowNormalizer:
        targets = tuple((e.get("target", "ignore"), e.get("custom")) for e in run.mapping)
        return cls(targets, run.default_region, run.list_id, run.source)

    def normalize(self, record: SourceRow) -> tuple[Candidate | None, str | None]:
        """A lead's columns from one record; or why it cannot be one."""
        values, custom = self._values(record.cells)
        country = region_code(values.get("country")) if values.get("country") else None
        region = country or self.default_region
        columns: dict[str, Any] = {n: normalize_name(values.get(n)) for n in NAME_TARGETS}
        columns.update({name: blank_to_none(values.get(name)) for name in TEXT_TARGETS})
        primary, others = _phones(values, region)
        columns.update(contact_columns(primary, normalize_email(values.get("email"))))
        if not columns["time_zone"] and values.get("time_zone") in _TIME_ZONES:
            columns["time_zone"] = values["time_zone"]
        columns.update(
            country=country,
            birthday=parse_date(values.get("birthday"), month_first=region in ("US", "CA")),
            other_phones=others,
            custom_fields=custom,
            list_id=self.list_id,
            source=columns["source"] or self.source,
        )
        if not any(columns.get(name) for name in IDENTIFYING_COLUMNS):
            return None, "No name, company, phone or email in this row."
        return Candidate(record.line, raw_text(record.cells), columns), None

    def _values(self, cells: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        values: dict[str, str] = {}
        custom: dict[str, str] = {}
        for (target, custom_name), cell in zip(self.targets, cells, strict=False):
            if target == "ignore" or (value := _cell(cell)) is None:
                continue
            if target == "custom":
                custom[custom_name or "field"] = value
            else:
                values.setdefault(target, value)
        return values, custom


IDENTIFYING_COLUMNS = ("first_name", "last_name", "full_name", "company", "phone_raw", "email_raw")


def raw_text(cells: list[str]) -> str:
    """A record as one line of text, for the error file."""
    return ",".join(cells)


def _cell(cell: str) -> str | None:
    # One leading apostrophe is how exports (ours included) defuse formulas and
    # keep "+1…" as text; spreadsheets hide it, so it is not part of the value.
    return blank_to_none(unescape_cell(cell))


def _phones(values: dict[str, str], region: str) -> tuple[NormalizedPhone | None, list[dict]]:
    """The number to dial (the first valid one) and the others, kept for the card."""
    phones = []
    for kind in PHONE_TARGETS:
        if not (text := values.get(kind)):
            continue
        # 1.55512E+10 is what Excel shows for a long number: the digits are gone.
        mangled = _SPREADSHEET_NUMBER.match(text)
        phones.append((kind, None if mangled else normalize_phone(text, region), text))
    if not phones:
        return None, []
    first_valid = next((i for i, p in enumerate(phones) if p[1] and p[1].diallable), 0)
    kind, primary, text = phones[first_valid]
    others = [
        {"kind": other_kind, "raw": other_text, "e164": phone.e164 if phone else None,
         "extension": phone.extension if phone else None}
        for i, (other_kind, phone, other_text) in enumerate(phones) if i != first_valid
    ]  # fmt: skip
    return primary or normalize_phone(text, region), others


def parse_date(text: str | None, month_first: bool) -> date | None:
    """A birthday in the usual spreadsheet spellings; None when it is not a date."""
    if not text:
        return None
    for pattern in _DATE_FORMATS_MONTH_FIRST if month_first else _DATE_FORMATS_DAY_FIRST:
        try:
            return datetime.strptime(text.strip()[:10], pattern).date()
        except ValueError:
            continue
    return None


def merge_into(current: dict[str, Any], incoming: dict[str, Any], policy: str) -> dict[str, Any]:
    """The fields `incoming` changes in `current` under `policy`, applied in place."""
    changed: dict[str, Any] = {}
    if policy == DuplicatePolicy.SKIP:
        return changed
    for name in _MERGED_COLUMNS:
        new = incoming.get(name)
        old = current.get(name)
        if new in (None, "", [], {}) or new == old:
            continue
        if policy == DuplicatePolicy.FILL and old not in (None, "", [], {}):
            continue
        changed[name] = old
        current[name] = new
    for leader, followers in _DERIVED_COLUMNS.items():
        if leader in changed:
            for name in followers:
                changed[name] = current.get(name)
                current[name] = incoming.get(name)
    custom = {**incoming.get("custom_fields", {})}
    if custom:
        merged = dict(current.get("custom_fields") or {})
        for key, value in custom.items():
            if policy == DuplicatePolicy.OVERWRITE or not merged.get(key):
                merged[key] = value
        if merged != current.get("custom_fields"):
            changed["custom_fields"] = current.get("custom_fields")
            current["custom_fields"] = merged
    return changed


# What normalization derives from the typed phone and email moves with it as a group,
# so a lead never ends up with one number's text and another number's E.164.
_DERIVED_COLUMNS = {
    "phone_raw": ("phone_e164", "phone_extension", "phone_region", "phone_type",
                  "phone_time_zones", "diallable", "time_zone"),
    "email_raw": ("email", "email_key", "email_valid"),
}  # fmt: skip
_MERGED_COLUMNS = tuple(
    name for name in IMPORTED_COLUMNS
    if name != "custom_fields" and not any(name in group for group in _DERIVED_COLUMNS.values())
)  # fmt: skip
