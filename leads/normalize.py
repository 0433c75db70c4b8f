"""Normalization of lead data: names, phone numbers, email addresses.

This is the single place where raw lead input (typed into the lead form or
read from a CSV import) is cleaned up, so the form and the importer agree on
what a "valid phone" or a "duplicate email" is. The CSV importer calls these
functions once per cell for millions of rows, so everything that can be
computed once (patterns, lookup tables, region metadata) lives at module level
or behind a cache.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import (
    NumberParseException,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberFormat,
    PhoneNumberType,
    ValidationResult,
    phonenumberutil,
)
from phonenumbers import timezone as phone_timezone

__all__ = [
    "BLANK_MARKERS",
    "NormalizedEmail",
    "NormalizedPhone",
    "blank_to_none",
    "describe_local_time",
    "local_time",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
    "region_code",
]

BLANK_MARKERS: frozenset[str] = frozenset(
    {"", "n/a", "null", "none", "nil", "-", "--", "?", "#n/a", "undefined"}
)
"""Casefolded cell values that spreadsheets and exports use to mean "no value"."""


# --------------------------------------------------------------------------
# Blanks and names
# --------------------------------------------------------------------------

# Zero-width space and BOM survive copy/paste from web pages and Excel exports
# but are invisible, so two "identical" names would otherwise compare unequal.
_INVISIBLE = str.maketrans("", "", "\u200b\ufeff")


def blank_to_none(value: str | None) -> str | None:
    """Return ``value`` stripped, or ``None`` if it is empty or a blank marker."""
    if value is None:
        return None
    stripped = value.strip()
    if stripped.casefold() in BLANK_MARKERS:
        return None
    return stripped


def normalize_name(value: str | None) -> str | None:
    """Return a person or company name in NFC with whitespace collapsed.

    Any run of Unicode whitespace (including no-break spaces) becomes a single
    space; blank markers such as ``"N/A"`` give ``None``.
    """
    if value is None:
        return None
    text = unicodedata.normalize("NFC", value.translate(_INVISIBLE))
    # str.split() without arguments splits on every Unicode whitespace
    # character, which is what catches NBSP and friends.
    collapsed = " ".join(text.split())
    if collapsed.casefold() in BLANK_MARKERS:
        return None
    return collapsed


# --------------------------------------------------------------------------
# Regions
# --------------------------------------------------------------------------

# ISO alpha-3 codes and the English (plus a few native) names that show up in
# country columns of lead exports, in _country_key() form. Each row is an
# alpha-2 code followed by aliases for it.
_COUNTRY_ROWS: tuple[tuple[str, ...], ...] = (
    ("US", "usa", "united states", "united states of america", "america"),
    ("CA", "can", "canada"),
    ("MX", "mex", "mexico", "méxico"),
    ("GB", "gbr", "uk", "united kingdom", "great britain", "britain"),
    ("GB", "england", "scotland", "wales", "northern ireland"),
    ("IE", "irl", "ireland", "eire", "éire"),
    ("DE", "deu", "germany", "deutschland"),
    ("FR", "fra", "france"),
    ("ES", "esp", "spain", "españa", "espana"),
    ("PT", "prt", "portugal"),
    ("IT", "ita", "italy", "italia"),
    ("NL", "nld", "netherlands", "holland", "nederland"),
    ("BE", "bel", "belgium"),
    ("LU", "lux", "luxembourg"),
    ("CH", "che", "switzerland", "schweiz", "suisse"),
    ("AT", "aut", "austria", "österreich", "osterreich"),
    ("SE", "swe", "sweden", "sverige"),
    ("NO", "nor", "norway", "norge"),
    ("DK", "dnk", "denmark", "danmark"),
    ("FI", "fin", "finland", "suomi"),
    ("IS", "isl", "iceland"),
    ("PL", "pol", "poland", "polska"),
    ("CZ", "cze", "czech republic", "czechia"),
    ("SK", "svk", "slovakia"),
    ("HU", "hun", "hungary"),
    ("RO", "rou", "romania"),
    ("BG", "bgr", "bulgaria"),
    ("GR", "grc", "greece"),
    ("HR", "hrv", "croatia"),
    ("RS", "srb", "serbia"),
    ("SI", "svn", "slovenia"),
    ("EE", "est", "estonia"),
    ("LV", "lva", "latvia"),
    ("LT", "ltu", "lithuania"),
    ("UA", "ukr", "ukraine"),
    ("RU", "rus", "russia", "russian federation"),
    ("TR", "tur", "turkey", "türkiye", "turkiye"),
    ("IL", "isr", "israel"),
    ("AE", "are", "uae", "united arab emirates"),
    ("SA", "sau", "saudi arabia"),
    ("QA", "qat", "qatar"),
    ("EG", "egy", "egypt"),
    ("MA", "mar", "morocco"),
    ("NG", "nga", "nigeria"),
    ("KE", "ken", "kenya"),
    ("GH", "gha", "ghana"),
    ("ZA", "zaf", "south africa"),
    ("IN", "ind", "india"),
    ("PK", "pak", "pakistan"),
    ("BD", "bgd", "bangladesh"),
    ("LK", "lka", "sri lanka"),
    ("CN", "chn", "china", "peoples republic of china", "prc"),
    ("HK", "hkg", "hong kong"),
    ("TW", "twn", "taiwan"),
    ("JP", "jpn", "japan", "nippon"),
    ("KR", "kor", "korea", "south korea", "republic of korea"),
    ("SG", "sgp", "singapore"),
    ("MY", "mys", "malaysia"),
    ("ID", "idn", "indonesia"),
    ("TH", "tha", "thailand"),
    ("VN", "vnm", "vietnam", "viet nam"),
    ("PH", "phl", "philippines"),
    ("AU", "aus", "australia"),
    ("NZ", "nzl", "new zealand"),
    ("BR", "bra", "brazil", "brasil"),
    ("AR", "arg", "argentina"),
    ("CL", "chl", "chile"),
    ("CO", "col", "colombia"),
    ("PE", "per", "peru", "perú"),
    ("VE", "ven", "venezuela"),
    ("EC", "ecu", "ecuador"),
    ("UY", "ury", "uruguay"),
    ("CR", "cri", "costa rica"),
    ("PA", "pan", "panama"),
    ("DO", "dom", "dominican republic"),
    ("PR", "pri", "puerto rico"),
    ("JM", "jam", "jamaica"),
)
_COUNTRY_ALIASES: dict[str, str] = {alias: row[0] for row in _COUNTRY_ROWS for alias in row[1:]}

_SUPPORTED_REGIONS: frozenset[str] = frozenset(phonenumbers.SUPPORTED_REGIONS)


def _country_key(country: str) -> str:
    """Fold spelling variants ("U.S.A.", "the  Netherlands") onto one key."""
    text = unicodedata.normalize("NFC", country).replace(".", "").replace("'", "")
    key = " ".join(text.casefold().split())
    return key.removeprefix("the ")


@lru_cache(maxsize=1024)
def region_code(country: str | None) -> str | None:
    """Map a country given as ISO alpha-2/alpha-3 code or common name to alpha-2.

    Accepts any case and punctuation variants (``"us"``, ``"USA"``,
    ``"United States"``, ``"U.K."``, ``"Deutschland"``). Returns ``None`` when
    the value is blank or not recognized. Alpha-2 codes are accepted only if
    phonenumbers has metadata for them, so the result is always usable as a
    default region for phone parsing.
    """
    if country is None:
        return None
    key = _country_key(country)
    if not key:
        return None
    if len(key) == 2 and key.isascii() and key.upper() in _SUPPORTED_REGIONS:
        return key.upper()
    return _COUNTRY_ALIASES.get(key)


# --------------------------------------------------------------------------
# Phone numbers
# --------------------------------------------------------------------------

_NUMBER_TYPE_NAMES: dict[int, str] = {
    value: name.lower()
    for name, value in vars(PhoneNumberType).items()
    if name.isupper() and name != "UNKNOWN"
}

# An international dialling prefix at the start of the number: "00" (most of
# the world) or "011" (North America). phonenumbers only honours the prefix of
# the default region, so "001-509-..." read with region US becomes "+1 001...".
_IDD_PREFIX = re.compile(r"^(?:tel:)?[\s(]*(?:00|011)(?=[\s.\-/()]*[1-9])", re.IGNORECASE)

_UNKNOWN_ZONE = "Etc/Unknown"
_TIME_ZONE_DATA = phone_timezone.TIMEZONE_DATA
_TIME_ZONE_LONGEST_PREFIX = phone_timezone.TIMEZONE_LONGEST_PREFIX
# Regions that share +1: their own international prefix is 011, so a number they
# write with 00/011/001 in front can only be meant internationally.
_NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])
# A North American number in one of the usual spellings ("(212) 555-0199",
# "212.555.0199", "+1 212 555 0199", "1-212-555-0199", "… x204"), nothing else: read
# without phonenumbers.parse, whose general extraction costs more than the rest.
_PLAIN_NANP = re.compile(
    r"(\+)?(?:1[ .\-]?)?\(?([2-9]\d\d)\)?[ .\-]?(\d{3})[ .\-]?(\d{4})"
    r"(?: ?(?:x|ext\.?) ?(\d{1,6}))?"
)
_NON_GEOGRAPHIC_REGION = "001"

_MISSING_COUNTRY_CODE = "Missing country code; write it as + and the country code."
_UNKNOWN_COUNTRY_CODE = "Unknown country code."

_PARSE_ERRORS: dict[int, str] = {
    NumberParseException.NOT_A_NUMBER: "Not a phone number.",
    NumberParseException.TOO_SHORT_AFTER_IDD: "Too short to be a phone number.",
    NumberParseException.TOO_SHORT_NSN: "Too short to be a phone number.",
    NumberParseException.TOO_LONG: "Too long to be a phone number.",
}


@dataclass(frozen=True, slots=True)
class NormalizedPhone:
    """A phone number as typed plus, when valid, its canonical form and metadata."""

    raw: str
    e164: str | None
    extension: str | None
    region: str | None
    number_type: str | None
    time_zones: tuple[str, ...]
    error: str | None

    @property
    def diallable(self) -> bool:
        """Whether the number is valid and can be dialled as ``e164``."""
        return self.e164 is not None

    @property
    def display(self) -> str:
        """The canonical form with extension for valid numbers, else the raw text."""
        if self.e164 is None:
            return self.raw
        if self.extension:
            return f"{self.e164} ext. {self.extension}"
        return self.e164


def _parse(text: str, region: str | None) -> PhoneNumber | str:
    """Parse ``text``; return the number object or an error sentence."""
    try:
        return phonenumbers.parse(text, region, keep_raw_input=False)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            return _UNKNOWN_COUNTRY_CODE if "+" in text else _MISSING_COUNTRY_CODE
        return _PARSE_ERRORS.get(exc.error_type, "Not a phone number.")


def _invalid_reason(number: PhoneNumber) -> str:
    """Explain why a parsed number is not valid, in words a user can act on."""
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == ValidationResult.TOO_SHORT:
        return "Too short to be a phone number."
    if reason == ValidationResult.TOO_LONG:
        return "Too long to be a phone number."
    if reason == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        return "Too short to be a phone number; is the area code missing?"
    if reason == ValidationResult.INVALID_COUNTRY_CODE:
        return f"Unknown country code +{number.country_code}."
    region = phonenumbers.region_code_for_country_code(number.country_code)
    where = f"+{number.country_code}" if region in ("ZZ", _NON_GEOGRAPHIC_REGION) else region
    return f"Not a valid phone number for {where}."


def _reparse_without_idd(text: str) -> PhoneNumber | str | None:
    """Re-read a number that starts with an international prefix as "+...".

    Returns ``None`` when there is no such prefix, else the parse result.
    """
    rewritten, count = _IDD_PREFIX.subn("+", text, count=1)
    if not count:
        return None
    return _parse(rewritten, None)


def _plain_nanp(text: str, region: str | None) -> PhoneNumber | None:
    """The number a plain North American spelling stands for, as parse would read it.

    A "+" must be followed by the 1; without one, the default region must share
    +1, as only then does parse read a leading 1 as the trunk prefix.
    """
    match = _PLAIN_NANP.fullmatch(text)
    if match is None:
        return None
    plus, area, exchange, line, extension = match.groups()
    if plus and not text.startswith("+1"):
        return None
    if not plus and region not in _NANP_REGIONS:
        return None
    return PhoneNumber(
        country_code=1, national_number=int(area + exchange + line), extension=extension
    )


def _is_valid(parsed: PhoneNumber | str) -> TypeGuard[PhoneNumber]:
    return _valid_region(parsed) is not None


def _valid_region(parsed: PhoneNumber | str) -> tuple[str, int] | None:
    """The region a valid number belongs to (the "001" for non-geographic) and its type.

    What region_code_for_number, is_valid_number_for_region and number_type
    work out in turn, done in one pass: each of them matches the number against
    the region's patterns again, and that matching is most of a number's cost.
    """
    if not isinstance(parsed, PhoneNumber):
        return None
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(parsed.country_code)
    if regions is None:
        return None
    national = phonenumbers.national_significant_number(parsed)
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(parsed.country_code, region)
        if metadata is None:
            continue
        shared = len(regions) > 1  # the +1 and +7 kind: the region must be found first
        if shared and metadata.leading_digits is not None:
            if not re.match(metadata.leading_digits, national):
                continue
            number_type = phonenumberutil._number_type_helper(national, metadata)
        else:
            number_type = phonenumberutil._number_type_helper(national, metadata)
            if shared and number_type == PhoneNumberType.UNKNOWN:
                continue
        return None if number_type == PhoneNumberType.UNKNOWN else (region, number_type)
    return None


def _prefer_reparse(parsed: PhoneNumber | str, reparsed: PhoneNumber | str) -> bool:
    """Whether the "+..." reading of a 00/011 number should replace the first one.

    Always when it is valid. When it is not, it still gives the more useful
    error if the first reading was not even a possible number ("001-177-..."
    read in the US is too long, while "+1 177..." names the bad area code).
    A possible first reading is kept because "011" also starts ordinary
    national numbers in some countries (Buenos Aires is 011 in Argentina).
    """
    if _is_valid(reparsed):
        return True
    first_possible = isinstance(parsed, PhoneNumber) and phonenumbers.is_possible_number(parsed)
    return isinstance(reparsed, PhoneNumber) and not first_possible


def _time_zones(number: PhoneNumber, e164: str, number_type: int) -> tuple[str, ...]:
    """IANA zones for a valid number, with phonenumbers' "unknown" mapped to ().

    What phone_timezone.time_zones_for_number does, given the type and E.164 form
    already at hand: it would derive both again, which costs as much as the parse.
    """
    if number_type == PhoneNumberType.UNKNOWN:
        return ()
    if not phonenumberutil.is_number_type_geographical(number_type, number.country_code):
        zones = phone_timezone._country_level_time_zones_for_number(number)
    else:
        digits = e164[1:]
        zones = next(
            (
                _TIME_ZONE_DATA[digits[:length]]
                for length in range(_TIME_ZONE_LONGEST_PREFIX, 0, -1)
                if digits[:length] in _TIME_ZONE_DATA
            ),
            (),
        )
    return tuple(zone for zone in zones if zone != _UNKNOWN_ZONE)


def _valid_phone(raw: str, number: PhoneNumber, region: str, number_type: int) -> NormalizedPhone:
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return NormalizedPhone(
        raw=raw,
        e164=e164,
        extension=number.extension or None,
        region=None if region in ("ZZ", _NON_GEOGRAPHIC_REGION) else region,
        number_type=_NUMBER_TYPE_NAMES.get(number_type),
        time_zones=_time_zones(number, e164, number_type),
        error=None,
    )


def _invalid_phone(raw: str, error: str) -> NormalizedPhone:
    return NormalizedPhone(
        raw=raw,
        e164=None,
        extension=None,
        region=None,
        number_type=None,
        time_zones=(),
        error=error,
    )


def normalize_phone(value: str | None, default_region: str | None = "US") -> NormalizedPhone | None:
    """Normalize a phone number typed by a person or read from a spreadsheet.

    ``default_region`` is used for numbers written without a country code and
    may be an ISO code or a country name (see :func:`region_code`); an
    unrecognized region means such numbers are reported as missing their
    country code. Numbers in international format are read as such whatever
    the region. A leading international dialling prefix ("00" or "011") is
    honoured even when it is not the default region's own prefix.

    Returns ``None`` for blank input. Never raises for bad input: invalid
    numbers come back with ``raw`` kept, ``e164`` set to ``None`` and
    ``error`` explaining the problem.
    """
    raw = blank_to_none(value)
    if raw is None:
        return None
    region = region_code(default_region)
    plain = _plain_nanp(raw, region)
    if plain is not None and (valid := _valid_region(plain)) is not None:
        return _valid_phone(raw, plain, *valid)
    if region in _NANP_REGIONS:
        # The "+" reading first: the national one of such a number is never valid
        # there, and parsing it costs as much as the number that is.
        reparsed = _reparse_without_idd(raw)
        if reparsed is not None and (valid := _valid_region(reparsed)) is not None:
            return _valid_phone(raw, reparsed, *valid)
    parsed = _parse(raw, region)
    valid = _valid_region(parsed)
    if valid is None:
        reparsed = _reparse_without_idd(raw)
        if reparsed is not None and _prefer_reparse(parsed, reparsed):
            parsed, valid = reparsed, _valid_region(reparsed)
    if valid is not None:
        return _valid_phone(raw, parsed, *valid)
    error = parsed if isinstance(parsed, str) else _invalid_reason(parsed)
    return _invalid_phone(raw, error)


# --------------------------------------------------------------------------
# Email addresses
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NormalizedEmail:
    """An email address as typed plus, when valid, its normalized form and dedupe key."""

    raw: str
    normalized: str | None
    key: str | None
    error: str | None

    @property
    def valid(self) -> bool:
        """Whether the address passed validation."""
        return self.normalized is not None


def _unwrap_email(text: str) -> str:
    """Remove the "<...>" and "mailto:" wrappers that copy/paste brings along."""
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if text[:7].casefold() == "mailto:":
        # A mailto: link may carry "?subject=..." which is not part of the address.
        text = text[7:].partition("?")[0].strip()
    return text


# The common case, checked without email-validator: a dot-atom of ASCII letters,
# digits and RFC 5322 symbols, "@", and dot-separated ASCII labels. The domain is
# still judged by email-validator (once per domain); anything else goes to it whole.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
)
_MAX_LOCAL_PART = 64
_MAX_ADDRESS = 254


def _validate_email(candidate: str) -> str:
    """email-validator's normalized form of an address; raises EmailNotValidError."""
    return validate_email(
        candidate,
        check_deliverability=False,
        allow_smtputf8=True,
        allow_display_name=True,
    ).normalized


@lru_cache(maxsize=4096)
def _plain_domain(domain: str) -> str | None:
    """The normalized form of an ASCII domain, or None when email-validator refuses it."""
    try:
        return _validate_email(f"a@{domain}").partition("@")[2]
    except EmailNotValidError:
        return None


def _plain_email(candidate: str) -> str | None:
    """The normalized form of a plain address, or None when the full check must decide."""
    match = _PLAIN_EMAIL.fullmatch(candidate)
    if match is None or len(candidate) > _MAX_ADDRESS:
        return None
    local_length = match.start(1) - 1
    if local_length > _MAX_LOCAL_PART:
        return None
    domain = _plain_domain(match.group(1))
    return None if domain is None else f"{candidate[:local_length]}@{domain}"


def normalize_email(value: str | None) -> NormalizedEmail | None:
    """Validate and normalize an email address without any DNS lookups.

    Internationalized addresses are accepted. ``normalized`` is
    email-validator's form, which lower-cases only the domain because the
    local part is case-sensitive in principle; ``key`` lower-cases the whole
    address since in practice mailboxes are not, and duplicates must match.
    Returns ``None`` for blank input; never raises for bad input.
    """
    raw = blank_to_none(value)
    if raw is None:
        return None
    candidate = _unwrap_email(raw)
    normalized = _plain_email(candidate)
    if normalized is None:
        try:
            normalized = _validate_email(candidate)
        except EmailNotValidError as exc:
            return NormalizedEmail(raw=raw, normalized=None, key=None, error=str(exc))
    return NormalizedEmail(raw=raw, normalized=normalized, key=normalized.lower(), error=None)


# --------------------------------------------------------------------------
# Local time at the lead's end of the line
# --------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    """Load a zone once; ``None`` for names the tz database does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError covers malformed keys such as absolute paths, OSError
        # names that are directories of the tz database ("America").
        return None


def local_time(time_zones: Sequence[str], at: datetime | None = None) -> list[tuple[str, datetime]]:
    """Return ``(zone, wall-clock time)`` for each known zone, now or at ``at``.

    ``at`` must be timezone-aware. Unknown zone names are skipped, so the
    result may be shorter than ``time_zones``.
    """
    if at is None:
        at = datetime.now(UTC)
    elif at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("`at` must be a timezone-aware datetime")
    result: list[tuple[str, datetime]] = []
    for name in time_zones:
        zone = _zone(name)
        if zone is not None:
            result.append((name, at.astimezone(zone)))
    return result


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _clock(moment: datetime, with_day: bool) -> str:
    # Built by hand rather than strftime: "%-I" is not portable, and "%p" and
    # "%a" follow the process locale.
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    text = f"{hour}:{moment.minute:02d} {suffix}"
    return f"{_WEEKDAYS[moment.weekday()]} {text}" if with_day else text


def describe_local_time(time_zones: Sequence[str], at: datetime | None = None) -> str | None:
    """Describe the local time for a contact, e.g. ``"3:04 PM America/Los_Angeles"``.

    Several zones give the earliest to latest wall-clock time, e.g.
    ``"3:04 PM – 6:04 PM (4 zones)"``; weekdays are added when the range
    crosses midnight. Returns ``None`` when no zone is known.
    """
    times = local_time(time_zones, at)
    if not times:
        return None
    if len(times) == 1:
        name, moment = times[0]
        return f"{_clock(moment, with_day=False)} {name}"
    # Every entry is the same instant, so ordering by naive wall-clock time
    # puts the zone furthest behind first, across midnight too.
    moments = sorted((moment for _, moment in times), key=lambda m: m.replace(tzinfo=None))
    earliest, latest = moments[0], moments[-1]
    with_day = earliest.date() != latest.date()
    first = _clock(earliest, with_day)
    last = _clock(latest, with_day)
    span = first if first == last else f"{first} – {last}"
    return f"{span} ({len(times)} zones)"
