"""Column mapping for lead imports: the fields a column can go to, and suggestions.

The import page shows one select box per column of an uploaded file with a
suggested field. Suggestions come from the header text, matched against tables
of synonyms (in :mod:`leads.mapping_words`) covering the exports of the usual
CRMs, mail clients and list vendors in English, Spanish, Portuguese, French,
German and Italian. Sample
values only break ties where a header says too little on its own ("Contact",
"Name", "URL", an empty header).

A mapping is a list with one :class:`ColumnMapping` per column, in column order.
It is stored on an import run and in mapping templates as plain JSON (see
:func:`mapping_to_json`), which the row normalizer reads back by position.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

from leads.mapping_words import (
    CUSTOM_PREFIXES,
    JOINED_WORDS,
    LABELS,
    LEADING_QUALIFIERS,
    SALUTATIONS,
    SYMBOL_HEADERS,
    SYNONYMS,
    TRAILING_QUALIFIERS,
)
from leads.normalize import blank_to_none

__all__ = [
    "IDENTIFYING_TARGETS",
    "MAX_CUSTOM_NAME",
    "ColumnMapping",
    "Target",
    "custom_key",
    "mapping_from_json",
    "mapping_to_json",
    "normalize_header",
    "suggest_mapping",
    "validate_mapping",
]

MAX_CUSTOM_NAME = 100
"""Longest custom field key; longer header text is cut."""


class Target(StrEnum):
    """Where a column's values go: a lead field, a custom field, or nowhere."""

    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    FULL_NAME = "full_name"
    COMPANY = "company"
    TITLE = "title"
    PHONE = "phone"
    MOBILE = "mobile"
    OTHER_PHONE = "other_phone"
    EMAIL = "email"
    WEBSITE = "website"
    CITY = "city"
    STATE = "state"
    COUNTRY = "country"
    TIME_ZONE = "time_zone"
    LINKEDIN_URL = "linkedin_url"
    X_URL = "x_url"
    OTHER_PROFILE_URL = "other_profile_url"
    BIRTHDAY = "birthday"
    EXTERNAL_ID = "external_id"
    NOTES = "notes"
    SOURCE = "source"
    CUSTOM = "custom"
    IGNORE = "ignore"

    @property
    def label(self) -> str:
        """The name shown in the select box."""
        return LABELS[self.value]

    @property
    def single(self) -> bool:
        """Whether at most one column may go to this target.

        The row normalizer keeps the first non-blank value per field, so a
        second column on the same field would be dropped without a word.
        """
        return self not in (Target.CUSTOM, Target.IGNORE)


IDENTIFYING_TARGETS: frozenset[Target] = frozenset(
    {
        Target.FIRST_NAME,
        Target.LAST_NAME,
        Target.FULL_NAME,
        Target.COMPANY,
        Target.PHONE,
        Target.MOBILE,
        Target.OTHER_PHONE,
        Target.EMAIL,
    }
)
"""A mapping needs one of these, or no row could become a recognizable lead."""


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """What one column of the file becomes.

    ``custom_name`` is the custom field key and only kept for ``Target.CUSTOM``;
    it is cleaned with :func:`custom_key` so "Lead Score" typed on one import and
    "lead score" on the next fill the same custom field. ``note`` explains a
    mapping the user should look at (e.g. a template field that no longer
    exists); it is not saved and does not take part in comparisons.
    """

    target: Target
    custom_name: str | None = None
    note: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # Forms hand in the select box value as a plain string.
        object.__setattr__(self, "target", Target(self.target))
        name = custom_key(self.custom_name) if self.target is Target.CUSTOM else ""
        object.__setattr__(self, "custom_name", name or None)


# --------------------------------------------------------------------------
# Header text
# --------------------------------------------------------------------------

# Zero-width characters and the BOM that Excel puts before the first header.
_INVISIBLE = str.maketrans("", "", "\u200b\u200c\u200d\u2060\ufeff")
# Dropped rather than turned into a space: "Assistant's Phone" is one word.
_APOSTROPHES = str.maketrans("", "", "'\u2019`\u00b4")
# "phone1" and "PHONE2" number a column like "Phone 1" does; "b2b" is left alone.
_TRAILING_DIGITS = re.compile(r"(?<=[^\W\d_])(?=\d+\b)")
# "FirstName", "MobilePhone": API names and some exports run words together.
_CAMEL_CASE = re.compile(r"(?<=[a-z])(?=[A-Z])")


def _words(text: str) -> list[str]:
    """Casefolded words of ``text``: letters, digits and marks; the rest separates."""
    text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).translate(_APOSTROPHES)
    # Categories rather than \w so combining marks (Devanagari vowel signs, say)
    # stay inside their word.
    kept = "".join(ch if unicodedata.category(ch)[0] in "LNM" else " " for ch in text.casefold())
    words = _TRAILING_DIGITS.sub(" ", kept).split()
    joined: list[str] = []
    for word in words:
        pair = (joined[-1], word) if joined else None
        if pair in JOINED_WORDS:
            joined[-1] = JOINED_WORDS[pair]
        else:
            joined.append(word)
    return joined


def custom_key(text: str | None) -> str:
    """The custom field key for a header or a typed name: "Lead-Score " → "lead score".

    Accents are kept so keys read naturally in the user's language; the result
    is at most :data:`MAX_CUSTOM_NAME` characters and may be empty.
    """
    if not text:
        return ""
    return " ".join(_words(text))[:MAX_CUSTOM_NAME].strip()


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_header(text: str | None) -> str:
    """The comparable form of a header: "E-mail Address" → "email address".

    Casefolded, accents, BOM and punctuation (including ``_ - .``) removed,
    whitespace collapsed.
    """
    return _strip_accents(custom_key(text)) if text else ""


# --------------------------------------------------------------------------
# Synonym tables
# --------------------------------------------------------------------------

# The synonyms with their fields as Target members; a misspelt field in the
# word tables fails here, on import.
_SYNONYM_ROWS: tuple[tuple[Target, int, tuple[str, ...]], ...] = tuple(
    (Target(name), rank, texts) for name, rank, texts in SYNONYMS
)


class _Kind(Enum):
    """What a column's sample values look like."""

    EMAIL = "email"
    PHONE = "phone"
    LINKEDIN = "linkedin"
    X = "x"
    PROFILE = "profile"
    URL = "url"
    COMPANY = "company"
    SALUTATION = "salutation"
    SEQUENCE = "sequence"


@dataclass(frozen=True, slots=True)
class _ByValue:
    kind: _Kind
    target: Target
    custom_name: str | None = None


@dataclass(frozen=True, slots=True)
class _Ambiguity:
    """A header that names no field by itself; its values decide.

    ``by_value`` is tried in order. ``default`` applies when sample values exist
    but match no rule, ``without_values`` when there are none. A ``None``
    target means "a name": which name depends on the columns next to it.
    """

    by_value: tuple[_ByValue, ...]
    default: Target | None
    without_values: Target | None


_CONTACT_VALUES = (
    _ByValue(_Kind.EMAIL, Target.EMAIL),
    _ByValue(_Kind.LINKEDIN, Target.LINKEDIN_URL),
    _ByValue(_Kind.X, Target.X_URL),
    _ByValue(_Kind.PROFILE, Target.OTHER_PROFILE_URL),
    _ByValue(_Kind.URL, Target.WEBSITE),
    # Before phones: 1, 2, 3… are digits too.
    _ByValue(_Kind.SEQUENCE, Target.IGNORE),
    _ByValue(_Kind.PHONE, Target.PHONE),
)
_PROFILE_VALUES = (
    _ByValue(_Kind.LINKEDIN, Target.LINKEDIN_URL),
    _ByValue(_Kind.X, Target.X_URL),
    _ByValue(_Kind.PROFILE, Target.OTHER_PROFILE_URL),
)

_AMBIGUOUS_ROWS: tuple[tuple[_Ambiguity, tuple[str, ...]], ...] = (
    # A blank header (and pandas' name for one) with nothing below it is an empty column.
    (_Ambiguity(_CONTACT_VALUES, Target.CUSTOM, Target.IGNORE), ("", "unnamed")),
    (_Ambiguity(_CONTACT_VALUES, Target.CUSTOM, Target.CUSTOM), (
        "column", "col", "field", "value", "data", "info", "untitled", "details",
        "contact info", "contact information", "contact details", "kontaktdaten",
        "datos de contacto", "coordonnées",
    )),
    # In B2B lists "Contact" next to "Company" is the person to ask for.
    (_Ambiguity(_CONTACT_VALUES, Target.FULL_NAME, Target.FULL_NAME), (
        "contact", "contacto", "contato", "kontakt", "contatto",
    )),
    (_Ambiguity(_PROFILE_VALUES, Target.WEBSITE, Target.WEBSITE), (
        "url", "link", "links", "web link", "hyperlink",
    )),
    (_Ambiguity(_PROFILE_VALUES, Target.OTHER_PROFILE_URL, Target.OTHER_PROFILE_URL), (
        "profile", "profile url", "profile link", "social", "social profile", "social media",
        "social url", "social link", "public profile url",
    )),
    # Our own export writes "X"; elsewhere a lone X may be a coordinate.
    (_Ambiguity((_ByValue(_Kind.X, Target.X_URL),), Target.CUSTOM, Target.X_URL), ("x",)),
    (_Ambiguity(
        (_ByValue(_Kind.SEQUENCE, Target.IGNORE), _ByValue(_Kind.PHONE, Target.PHONE)),
        Target.CUSTOM, Target.CUSTOM,
    ), ("number", "nummer", "numero", "num")),
    # Outlook's "Title" is Mr./Ms.; Salesforce's is the job title.
    (_Ambiguity(
        (_ByValue(_Kind.SALUTATION, Target.CUSTOM, "salutation"),), Target.TITLE, Target.TITLE,
    ), ("title", "titel", "título", "titre")),
    # "Name" is the whole name, the surname next to "Vorname"/"Prénom", or the
    # first name next to "Surname"/"Apellidos"/"Cognome".
    (_Ambiguity((_ByValue(_Kind.COMPANY, Target.COMPANY),), None, None), (
        "name", "nombre", "nom", "nome", "naam", "navn", "namn",
    )),
)  # fmt: skip

# Which name a "Name" column is, given (first name mapped, last name mapped).
# With both present it repeats them or names something else (an account), so
# it is kept as a custom field rather than guessed into a name field.
_NAME_BY_SIBLINGS: dict[tuple[bool, bool], Target] = {
    (False, False): Target.FULL_NAME,
    (True, False): Target.LAST_NAME,
    (False, True): Target.FIRST_NAME,
    (True, True): Target.CUSTOM,
}

# Later columns that lose a single-valued field try these before becoming custom.
_FALLBACKS: dict[Target, tuple[Target, ...]] = {
    Target.PHONE: (Target.OTHER_PHONE,),
    Target.MOBILE: (Target.OTHER_PHONE,),
}

# Fields whose values must differ from row to row; repeats in the samples mean
# the column is something else (the importer merges rows sharing an external id).
_UNIQUE_TARGETS: frozenset[Target] = frozenset({Target.EXTERNAL_ID})

_AMBIGUOUS_RANK = 1
_FUZZY_PENALTY = 2
# Typos are only forgiven in long headers: in short ones one letter is a
# different word ("county" / "country").
_FUZZY_MIN_LENGTH = 8


def _build_tables() -> tuple[dict[str, tuple[Target, int]], dict[str, tuple[Target, int]]]:
    by_key: dict[str, tuple[Target, int]] = {}
    by_compact: dict[str, tuple[Target, int]] = {}
    for target, rank, texts in _SYNONYM_ROWS:
        for text in texts:
            key = normalize_header(text)
            by_key.setdefault(key, (target, rank))
            # The first spelling wins a compact collision ("birthday" over "birth day").
            by_compact.setdefault(key.replace(" ", ""), (target, rank))
    return by_key, by_compact


_BY_KEY, _BY_COMPACT = _build_tables()
_AMBIGUOUS: dict[str, _Ambiguity] = {
    normalize_header(text): ambiguity for ambiguity, texts in _AMBIGUOUS_ROWS for text in texts
}
_AMBIGUOUS_COMPACT: dict[str, _Ambiguity] = {
    key.replace(" ", ""): ambiguity for key, ambiguity in _AMBIGUOUS.items()
}
_STANDARD_NAMES: dict[str, Target] = {
    name: target
    for target in Target
    if target.single
    for name in (normalize_header(target.label), normalize_header(target.value))
}
"""Custom field names that would read as a lead field."""


# --------------------------------------------------------------------------
# Sample values
# --------------------------------------------------------------------------

_EMAIL_VALUE = re.compile(r"^(?:mailto:)?<?[^\s@<>]+@[^\s@<>]+\.[^\s@<>.]+>?$", re.IGNORECASE)
_URL_VALUE = re.compile(
    r"^(?:https?://|www\.)\S+$|^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?:/\S*)?$", re.IGNORECASE
)
_LINKEDIN_VALUE = re.compile(r"(?:^|[/.])linkedin\.com/", re.IGNORECASE)
_X_VALUE = re.compile(r"(?:^|[/.])(?:twitter|x)\.com/|^@\w{1,15}$", re.IGNORECASE)
_PROFILE_VALUE = re.compile(
    r"(?:^|[/.])(?:facebook|fb|instagram|github|xing|youtube|tiktok|threads|bsky)\.(?:com|net|app)/",
    re.IGNORECASE,
)
_PHONE_VALUE = re.compile(r"^(?:tel:)?\+?[\d\s().\-/]+?(?:\s*(?:x|ext\.?|#)\s*\d{1,6})?$", re.I)
# Dates are digits and dashes too.
_DATE_VALUE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}$")
_COMPANY_VALUE = re.compile(
    r"\b(?:inc|llc|l\.l\.c|ltd|limited|plc|corp|corporation|co|company|group|holdings?|gmbh"
    r"|ag|kg|sa|s\.a|sas|sarl|srl|s\.r\.l|spa|s\.p\.a|bv|b\.v|nv|oy|ab|pty|pte|lp|llp"
    r"|partners|associates|enterprises|industries|solutions|technologies|consulting)\.?$"
    r"|\s(?:and|&|und)\s",
    re.IGNORECASE,
)


def _phone_like(value: str) -> bool:
    if not _PHONE_VALUE.match(value) or _DATE_VALUE.match(value):
        return False
    main = re.split(r"x|ext|#", value, maxsplit=1, flags=re.IGNORECASE)[0]
    return 7 <= sum(ch.isdigit() for ch in main) <= 15


def _sequence(values: Sequence[str]) -> bool:
    """1, 2, 3…: a row number rather than data."""
    # isdigit() alone admits "²", which int() refuses.
    if len(values) < 2 or not all(v.isascii() and v.isdigit() for v in values):
        return False
    numbers = [int(v) for v in values]
    return all(b == a + 1 for a, b in zip(numbers, numbers[1:], strict=False))


def _majority(test: Callable[[str], bool]) -> Callable[[Sequence[str]], bool]:
    # Most rather than all: one malformed cell should not hide what a column is.
    return lambda values: bool(values) and 2 * sum(map(test, values)) > len(values)


_KIND_TESTS: dict[_Kind, Callable[[Sequence[str]], bool]] = {
    _Kind.EMAIL: _majority(lambda v: bool(_EMAIL_VALUE.match(v))),
    _Kind.PHONE: _majority(_phone_like),
    _Kind.LINKEDIN: _majority(lambda v: bool(_LINKEDIN_VALUE.search(v))),
    _Kind.X: _majority(lambda v: bool(_X_VALUE.search(v))),
    _Kind.PROFILE: _majority(lambda v: bool(_PROFILE_VALUE.search(v))),
    _Kind.URL: _majority(lambda v: "@" not in v and bool(_URL_VALUE.match(v))),
    _Kind.COMPANY: _majority(lambda v: bool(_COMPANY_VALUE.search(v))),
    _Kind.SALUTATION: _majority(lambda v: " ".join(_words(v)) in SALUTATIONS),
    _Kind.SEQUENCE: _sequence,
}


# --------------------------------------------------------------------------
# Suggestions
# --------------------------------------------------------------------------


@dataclass(slots=True)
class _Column:
    """One column while suggestions are worked out."""

    position: int
    header: str
    values: tuple[str, ...]
    target: Target = Target.CUSTOM
    rank: int = 0
    number: int = 0
    ambiguity: _Ambiguity | None = None
    custom_name: str | None = None

    @property
    def priority(self) -> tuple[int, bool, int, int]:
        # Better name, then a column with data over an empty one, then "Phone 1"
        # over "Phone 2", then the first column.
        return (self.rank, not self.values, self.number, self.position)


def _text(value: object) -> str:
    # Spreadsheet readers hand over None for empty cells and numbers as numbers.
    return "" if value is None else str(value)


_NUMBER_WORD = re.compile(r"^(\d+)(?:st|nd|rd|th)?$")


def _split_number(words: list[str]) -> tuple[list[str], int]:
    """Words without the column number, and that number ("Phone 2 - Value" → 2)."""
    base: list[str] = []
    number = 0
    for word in words:
        if found := _NUMBER_WORD.match(word):
            number = number or int(found[1])
        else:
            base.append(word)
    return base, number


def _variants(words: list[str]) -> Iterator[tuple[str, int, bool]]:
    """Lookup keys for ``words`` with qualifiers stripped, fewest removals first.

    Yields ``(key, added rank, qualified)``, where ``qualified`` tells that a
    word with a rank of its own was removed.
    """
    leading = 0
    while leading < len(words) and words[leading] in LEADING_QUALIFIERS:
        leading += 1
    trailing = 0
    while trailing < len(words) and words[-1 - trailing] in TRAILING_QUALIFIERS:
        trailing += 1
    for removed in range(leading + trailing + 1):
        for front in range(min(removed, leading) + 1):
            back = removed - front
            # Something must remain of a header that had words.
            if back > trailing or (words and front + back >= len(words)):
                continue
            dropped = [LEADING_QUALIFIERS[w] for w in words[:front]]
            dropped += [TRAILING_QUALIFIERS[w] for w in words[len(words) - back :]]
            yield " ".join(words[front : len(words) - back]), sum(dropped), any(dropped)


def _one_edit_apart(a: str, b: str) -> bool:
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1:
        return False
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    # Past the first difference, the rest must match after one substitution
    # (same length) or one insertion into the shorter string.
    return a[i + 1 :] == b[i + 1 :] if len(a) == len(b) else a[i:] == b[i + 1 :]


def _fuzzy(compact: str) -> tuple[Target, int] | None:
    """The field a long header names with one typo ("FIRSNAME"), if only one fits."""
    if len(compact) < _FUZZY_MIN_LENGTH or not compact.isalpha():
        return None
    hits = {
        entry
        for key, entry in _BY_COMPACT.items()
        if key != compact and _one_edit_apart(key, compact)
    }
    targets = {target for target, _ in hits}
    if len(targets) != 1:
        return None
    return targets.pop(), min(rank for _, rank in hits) + _FUZZY_PENALTY


def _match(column: _Column) -> None:
    """Set the column's target from its header alone, or mark it ambiguous."""
    header = column.header.strip()
    folded = header.casefold()
    for prefix in CUSTOM_PREFIXES:
        if folded.startswith(prefix) and custom_key(header[len(prefix) :]):
            column.custom_name = custom_key(header[len(prefix) :])
            return
    spaced = _CAMEL_CASE.sub(" ", SYMBOL_HEADERS.get(header, header))
    words, column.number = _split_number(_words(spaced))
    # A header that is only digits or an address is the first record of a file
    # without a header row; read it as one more sample value.
    if (header and not words) or _KIND_TESTS[_Kind.EMAIL]((header,)):
        column.values = (header, *column.values)
        column.ambiguity = _AMBIGUOUS[""]
        column.custom_name = f"column {column.position + 1}"
        return
    words = [_strip_accents(w) for w in words]
    for key, added, qualified in _variants(words):
        compact = key.replace(" ", "")
        entry = _BY_KEY.get(key) or _BY_COMPACT.get(compact)
        if entry is not None:
            column.target, column.rank = entry[0], entry[1] + added
            return
        ambiguity = _AMBIGUOUS.get(key) or _AMBIGUOUS_COMPACT.get(compact)
        # "Home Name" or "Other URL" say too little to guess from.
        if ambiguity is not None and not qualified:
            column.ambiguity, column.rank = ambiguity, _AMBIGUOUS_RANK + added
            return
    guess = _fuzzy("".join(words))
    if guess is not None:
        column.target, column.rank = guess


def _resolve(column: _Column, ambiguity: _Ambiguity, siblings: frozenset[Target]) -> None:
    """Decide an ambiguous column from its values and the columns next to it."""
    target = ambiguity.default if column.values else ambiguity.without_values
    for rule in ambiguity.by_value:
        if _KIND_TESTS[rule.kind](column.values):
            target = rule.target
            column.custom_name = rule.custom_name or column.custom_name
            break
    if target is None:
        target = _NAME_BY_SIBLINGS[(Target.FIRST_NAME in siblings, Target.LAST_NAME in siblings)]
    column.target = target


def _assign(columns: list[_Column]) -> None:
    """Give each single-valued field to its best column; the others fall back.

    Rounds follow the fallback chains, so a column named "Other Phone" keeps
    OTHER_PHONE even when a second "Phone" column would fall back to it.
    """
    chains = {c.position: (c.target, *_FALLBACKS.get(c.target, ())) for c in columns}
    pending = [c for c in columns if c.target.single]
    taken: set[Target] = set()
    for round_ in range(max((len(chain) for chain in chains.values()), default=0)):
        losers = []
        for column in sorted(pending, key=lambda c: c.priority):
            chain = chains[column.position]
            if round_ < len(chain) and chain[round_] not in taken:
                column.target = chain[round_]
                taken.add(column.target)
            else:
                losers.append(column)
        pending = losers
    for column in pending:
        column.target = Target.CUSTOM


def _name_custom_fields(columns: list[_Column]) -> None:
    """Give every custom column a distinct key that does not read as a lead field.

    A clash becomes "<name> <n>", n counting columns with that header so the
    third "Phone" column is "phone 3".
    """
    occurrences: Counter[str] = Counter()
    used: set[str] = set()
    for column in columns:
        base = column.custom_name or custom_key(column.header) or f"column {column.position + 1}"
        occurrences[normalize_header(base)] += 1
        if column.target is not Target.CUSTOM:
            continue
        name, n = base, max(occurrences[normalize_header(base)], 2)
        while normalize_header(name) in used or normalize_header(name) in _STANDARD_NAMES:
            name = custom_key(f"{base[: MAX_CUSTOM_NAME - 8]} {n}")
            n += 1
        used.add(normalize_header(name))
        column.custom_name = name


def suggest_mapping(
    headers: Sequence[str], sample_rows: Sequence[Sequence[str]] = ()
) -> list[ColumnMapping]:
    """Suggest a target for each column from its header and, to break ties, its values.

    ``sample_rows`` are the first data rows (any number; short rows are fine).
    Every single-valued field goes to at most one column, so the suggestion
    always passes :func:`validate_mapping` except when nothing identifies a lead.
    """
    columns = []
    for position, header in enumerate(headers):
        values = tuple(
            value
            for row in sample_rows
            if position < len(row) and (value := blank_to_none(_text(row[position]))) is not None
        )
        column = _Column(position, _text(header), values)
        _match(column)
        columns.append(column)
    siblings = frozenset(c.target for c in columns if c.ambiguity is None)
    for column in columns:
        if column.ambiguity is not None:
            _resolve(column, column.ambiguity, siblings)
        if column.target in _UNIQUE_TARGETS and len(set(column.values)) < len(column.values):
            column.target = Target.CUSTOM
    _assign(columns)
    _name_custom_fields(columns)
    return [
        ColumnMapping(c.target, c.custom_name if c.target is Target.CUSTOM else None)
        for c in columns
    ]


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def _columns_text(numbers: Sequence[int]) -> str:
    listed = ", ".join(str(n) for n in numbers[:-1])
    return f"columns {listed} and {numbers[-1]}"


def _times(count: int) -> str:
    return "twice" if count == 2 else f"{count} times"


def validate_mapping(mapping: Sequence[ColumnMapping]) -> list[str]:
    """Problems that keep a mapping from being imported, as sentences for the page.

    Columns are numbered from 1 as the user sees them.
    """
    problems: list[str] = []
    by_target: defaultdict[Target, list[int]] = defaultdict(list)
    by_custom: defaultdict[str, list[int]] = defaultdict(list)
    names: dict[str, str] = {}
    for number, entry in enumerate(mapping, start=1):
        if entry.target.single:
            by_target[entry.target].append(number)
        elif entry.target is Target.CUSTOM:
            if not entry.custom_name:
                problems.append(f"Column {number} is a custom field without a name.")
                continue
            key = normalize_header(entry.custom_name)
            by_custom[key].append(number)
            names.setdefault(key, entry.custom_name)
    for target in Target:
        numbers = by_target.get(target, [])
        if len(numbers) > 1:
            problems.append(
                f"{target.label} is mapped {_times(len(numbers))}: {_columns_text(numbers)}."
            )
    for key, numbers in by_custom.items():
        name = names[key]
        if len(numbers) > 1:
            problems.append(
                f'Custom field "{name}" is mapped {_times(len(numbers))}: {_columns_text(numbers)}.'
            )
        if key in _STANDARD_NAMES:
            label = _STANDARD_NAMES[key].label
            problems.append(
                f'Custom field "{name}" (column {numbers[0]}) has the name of the {label} '
                f"field; map the column to {label} or rename the custom field."
            )
    if not any(entry.target in IDENTIFYING_TARGETS for entry in mapping):
        problems.append(
            "Nothing identifies a lead: map at least one column to a name, company, phone or email."
        )
    return problems


# --------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------


def mapping_to_json(mapping: Sequence[ColumnMapping]) -> list[dict[str, str | None]]:
    """The mapping as plain JSON data: ``[{"target": "email", "custom": None}, ...]``.

    This is what import runs and mapping templates store in their JSON column.
    """
    return [{"target": entry.target.value, "custom": entry.custom_name} for entry in mapping]


def _entry_from_json(number: int, item: object) -> ColumnMapping:
    if not isinstance(item, dict):
        return ColumnMapping(Target.IGNORE, note=f"Column {number} had no readable mapping.")
    raw = item.get("target")
    custom = item.get("custom")
    try:
        target = Target(raw)
    except (ValueError, TypeError):
        # Saved by a version with a field this one no longer has.
        return ColumnMapping(
            Target.IGNORE,
            note=f'Column {number} was mapped to "{raw}", which is no longer a field.',
        )
    if target is Target.CUSTOM and not custom_key(custom if isinstance(custom, str) else None):
        return ColumnMapping(
            Target.IGNORE, note=f"Column {number} was a custom field without a name."
        )
    return ColumnMapping(target, custom if isinstance(custom, str) else None)


def mapping_from_json(data: str | bytes | Sequence[Any]) -> list[ColumnMapping]:
    """Read a mapping saved by :func:`mapping_to_json` (the data, or its JSON text).

    Entries this version cannot use (an unknown field, a nameless custom
    field, garbage) become IGNORE with a ``note`` saying why, so an old
    template still lines up with the file's columns. Raises ``ValueError``
    when the data is not a list at all.
    """
    if isinstance(data, str | bytes):
        data = json.loads(data)
    if not isinstance(data, list):
        raise ValueError("A saved mapping is a list of columns.")
    return [_entry_from_json(number, item) for number, item in enumerate(data, start=1)]
