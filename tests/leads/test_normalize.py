"""Tests for leads.normalize against the real phonenumbers and email-validator."""

from __future__ import annotations

import csv
import re
import string
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from leads.normalize import (
    BLANK_MARKERS,
    NormalizedEmail,
    NormalizedPhone,
    blank_to_none,
    describe_local_time,
    local_time,
    normalize_email,
    normalize_name,
    normalize_phone,
    region_code,
)

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "vectors"
NO_VECTORS = f"shared test vectors not found at {VECTORS}"

# Property tests run in the normal suite, so keep them quick and leave no
# example database behind in the working tree.
QUICK = settings(max_examples=150, deadline=None, database=None)

# 2024-01-15 23:04 UTC: 3:04 PM in Los Angeles (PST), 6:04 PM in New York.
WINTER = datetime(2024, 1, 15, 23, 4, tzinfo=UTC)


def _read_vectors(name: str) -> list[dict[str, str]]:
    with (VECTORS / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _vector_params(build: Callable[[], list[object]], width: int = 1) -> list[object]:
    """Parameters built from the vector files, or one skipped case when they are absent."""
    if not VECTORS.is_dir():
        return [pytest.param(*[None] * width, marks=pytest.mark.skip(reason=NO_VECTORS))]
    return build()


# --------------------------------------------------------------------------
# Blanks and names
# --------------------------------------------------------------------------

BLANKS = [None, "", "   ", "N/A", "n/a", "NULL", "null", "None", "nil", "-", "--", "?"]
BLANKS += ["#N/A", "undefined", " \t-\n"]


def test_blank_markers_are_casefolded() -> None:
    assert all(marker == marker.casefold() for marker in BLANK_MARKERS)
    assert {"", "n/a", "null", "-", "#n/a", "undefined"} <= BLANK_MARKERS


@pytest.mark.parametrize("value", BLANKS)
def test_blank_values_become_none_everywhere(value: str | None) -> None:
    assert blank_to_none(value) is None
    assert normalize_name(value) is None
    assert normalize_phone(value) is None
    assert normalize_email(value) is None


def test_blank_to_none_strips_real_values() -> None:
    assert blank_to_none("  Ada Lovelace \n") == "Ada Lovelace"
    assert blank_to_none("Nancy") == "Nancy"
    assert blank_to_none("n/a please") == "n/a please"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  José\u00a0 de   la\tCruz ", "José de la Cruz"),
        ("Jose\u0301 Pe\u0301rez", "José Pérez"),
        ("Ann\u200b Smith\ufeff", "Ann Smith"),
        ("O'Brien\u2003&\u3000Sons", "O'Brien & Sons"),
        ("ACME, Inc.", "ACME, Inc."),
    ],
)
def test_normalize_name(value: str, expected: str) -> None:
    result = normalize_name(value)
    assert result == expected
    assert result is not None and result == result.strip()


# --------------------------------------------------------------------------
# Regions
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("US", "US"),
        ("us", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("United States", "US"),
        ("united states of america", "US"),
        ("Canada", "CA"),
        ("CAN", "CA"),
        ("UK", "GB"),
        (" united   Kingdom ", "GB"),
        ("gb", "GB"),
        ("Deutschland", "DE"),
        ("DEU", "DE"),
        ("the Netherlands", "NL"),
        ("MÉXICO", "MX"),
        ("Me\u0301xico", "MX"),
        ("Narnia", None),
        ("ZZ", None),
        ("", None),
        (None, None),
    ],
)
def test_region_code(country: str | None, expected: str | None) -> None:
    assert region_code(country) == expected


def test_region_code_accepts_every_supported_alpha2() -> None:
    for region in phonenumbers.SUPPORTED_REGIONS:
        assert region_code(region.lower()) == region


# --------------------------------------------------------------------------
# Phones
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "region", "e164", "extension"),
    [
        ("(415) 555-0134 x12", "US", "+14155550134", "12"),
        ("415.555.0134 ext 12", "US", "+14155550134", "12"),
        ("415-555-0134 extension 7", "US", "+14155550134", "7"),
        ("tel:+1-415-555-0134", "US", "+14155550134", None),
        ("tel:+1-415-555-0134;ext=99", "US", "+14155550134", "99"),
        ("+1-509-713-0449x1234", "US", "+15097130449", "1234"),
        ("1 (212) 555-0134", "US", "+12125550134", None),
        ("+44 20 7946 0958", "US", "+442079460958", None),
        ("020 7946 0958", "GB", "+442079460958", None),
        ("030 123456", "Deutschland", "+4930123456", None),
        ("416 555 0134", "Canada", "+14165550134", None),
        ("1-800-FLOWERS", "US", "+18003569377", None),
    ],
)
def test_normalize_phone_valid(value: str, region: str, e164: str, extension: str | None) -> None:
    result = normalize_phone(value, region)
    assert result is not None
    assert result.raw == value
    assert result.e164 == e164
    assert result.extension == extension
    assert result.error is None
    assert result.diallable


def test_phone_raw_is_stripped() -> None:
    result = normalize_phone("  (415) 555-0134 \n")
    assert result is not None and result.raw == "(415) 555-0134"


def test_phone_display_with_and_without_extension() -> None:
    with_ext = normalize_phone("(415) 555-0134 x12")
    without = normalize_phone("(415) 555-0134")
    assert with_ext is not None and without is not None
    assert with_ext.display == "+14155550134 ext. 12"
    assert without.display == "+14155550134"


def test_phone_metadata_for_us_number() -> None:
    result = normalize_phone("(415) 555-0134")
    assert result == NormalizedPhone(
        raw="(415) 555-0134",
        e164="+14155550134",
        extension=None,
        region="US",
        number_type="fixed_line_or_mobile",
        time_zones=("America/Los_Angeles",),
        error=None,
    )


@pytest.mark.parametrize("region", ["US", "DE", "GB", "JP", None, "Narnia"])
def test_international_format_ignores_default_region(region: str | None) -> None:
    result = normalize_phone("+44 20 7946 0958", region)
    assert result is not None
    assert result.e164 == "+442079460958"
    assert result.region == "GB"
    assert result.number_type == "fixed_line"
    assert result.time_zones == ("Europe/London",)


def test_001_trap_is_the_us_number_not_plus_1001() -> None:
    # The trap is real: phonenumbers alone reads it as +1 001..., which is invalid.
    assert not phonenumbers.is_valid_number(phonenumbers.parse("001-509-713-0449", "US"))
    result = normalize_phone("001-509-713-0449", "US")
    assert result is not None
    assert result.e164 == "+15097130449"
    assert result.region == "US"
    assert result.raw == "001-509-713-0449"


def test_001_trap_keeps_extension() -> None:
    result = normalize_phone("001-509-713-0449x1234", "US")
    assert result is not None
    assert (result.e164, result.extension) == ("+15097130449", "1234")
    assert result.display == "+15097130449 ext. 1234"


def test_00_prefix_from_the_us() -> None:
    result = normalize_phone("0044 20 7946 0958", "US")
    assert result is not None and result.e164 == "+442079460958"


def test_011_trap_outside_north_america() -> None:
    # 011 is only the international prefix in North America; in the UK
    # phonenumbers alone takes it as a national number.
    assert not phonenumbers.is_valid_number(phonenumbers.parse("011 44 20 7946 0958", "GB"))
    result = normalize_phone("011 44 20 7946 0958", "GB")
    assert result is not None and result.e164 == "+442079460958"


def test_idd_prefix_without_default_region() -> None:
    result = normalize_phone("00 49 30 123456", None)
    assert result is not None and result.e164 == "+4930123456"


def test_011_is_still_a_national_prefix_in_argentina() -> None:
    result = normalize_phone("011 4444 4444", "AR")
    assert result is not None
    assert (result.e164, result.region) == ("+541144444444", "AR")


@pytest.mark.parametrize(
    ("value", "region", "error"),
    [
        # 555 is not an area code.
        ("(555) 123-4567", "US", "Not a valid phone number for US."),
        # 212 is, but exchanges never start with 0.
        ("(212) 055-0134", "US", "Not a valid phone number for US."),
        ("+1-955-540-6921", "US", "Not a valid phone number for US."),
        # The 001 reading names the real problem (area code 177), not "too long".
        ("001-177-695-3840x97459", "US", "Not a valid phone number for US."),
        ("+44 20 7946", "US", "Too short to be a phone number; is the area code missing?"),
        ("12", "US", "Too short to be a phone number."),
        ("555-0134", "US", "Too short to be a phone number; is the area code missing?"),
        ("abc", "US", "Not a phone number."),
        ("415 555 0134", None, "Missing country code; write it as + and the country code."),
        ("+999 123 4567", "US", "Unknown country code."),
        ("1" * 30, "US", "Too long to be a phone number."),
    ],
)
def test_invalid_phone_kept_raw_and_flagged(value: str, region: str | None, error: str) -> None:
    result = normalize_phone(value, region)
    assert result == NormalizedPhone(
        raw=value,
        e164=None,
        extension=None,
        region=None,
        number_type=None,
        time_zones=(),
        error=error,
    )
    assert not result.diallable
    assert result.display == value


def test_us_toll_free_spans_many_zones() -> None:
    result = normalize_phone("1-800-555-0199")
    assert result is not None
    assert result.number_type == "toll_free"
    assert len(result.time_zones) > 4
    assert {"America/New_York", "America/Los_Angeles", "Pacific/Honolulu"} <= set(result.time_zones)


def test_canadian_number() -> None:
    result = normalize_phone("+1 416 555 0134", "US")
    assert result is not None
    assert (result.region, result.time_zones) == ("CA", ("America/Toronto",))


def test_alaska_number_has_two_zones() -> None:
    result = normalize_phone("(907) 555-0134")
    assert result is not None
    assert result.time_zones == ("America/Adak", "America/Anchorage")


def test_non_geographic_number_has_no_region_or_zones() -> None:
    # phonenumbers reports ("Etc/Unknown",) for these.
    result = normalize_phone("+800 1234 5678")
    assert result is not None
    assert result.e164 == "+80012345678"
    assert result.number_type == "toll_free"
    assert result.region is None
    assert result.time_zones == ()


def test_mobile_type_name() -> None:
    result = normalize_phone("+44 7911 123456")
    assert result is not None and result.number_type == "mobile"


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _phone_vector_params() -> list[object]:
    by_region: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in _read_vectors("libphonenumber-example-numbers.csv"):
        by_region[row["region"]].append(row)
    return [pytest.param(rows, id=region) for region, rows in sorted(by_region.items())]


def _agrees_with_installed_metadata(row: dict[str, str]) -> bool:
    """Whether the installed phonenumbers still sees this example as the vector does.

    The vector file and the installed metadata are released separately, so a
    few numbers change validity or type between them.
    """
    number = phonenumbers.parse(row["e164"])
    if not phonenumbers.is_valid_number(number):
        return False
    installed = phonenumbers.number_type(number)
    expected = _camel_to_snake(row["number_type"]).upper()
    combined = phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE
    return installed == getattr(phonenumbers.PhoneNumberType, expected) or (
        installed == combined and expected in ("FIXED_LINE", "MOBILE")
    )


@pytest.mark.parametrize("rows", _vector_params(_phone_vector_params))
def test_libphonenumber_example_numbers(rows: list[dict[str, str]]) -> None:
    checked = [row for row in rows if _agrees_with_installed_metadata(row)]
    if not checked:
        pytest.skip("installed phonenumbers metadata differs from the vector file here")
    for row in checked:
        e164 = row["e164"]
        country_code = int(row["country_code"])
        result = normalize_phone(e164, None)
        assert result is not None and result.e164 == e164, row
        expected_type = _camel_to_snake(row["number_type"])
        allowed_types = {expected_type}
        if expected_type in ("fixed_line", "mobile"):
            allowed_types.add("fixed_line_or_mobile")
        assert result.number_type in allowed_types, row
        if row["region"] == "001":
            assert result.region is None, row
            continue
        # Regions sharing a country code (NANP, +44, +7...) may claim each other's numbers.
        assert result.region in phonenumbers.region_codes_for_country_code(country_code), row
        national = normalize_phone(row["example_national_significant_number"], row["region"])
        assert national is not None and national.e164 == e164, row
        # A default region elsewhere must not change an international number.
        assert normalize_phone(e164, "US") == result


# --------------------------------------------------------------------------
# Emails
# --------------------------------------------------------------------------


def test_email_domain_lower_cased_local_part_kept() -> None:
    result = normalize_email("  Foo.Bar@Example.COM ")
    assert result == NormalizedEmail(
        raw="Foo.Bar@Example.COM",
        normalized="Foo.Bar@example.com",
        key="foo.bar@example.com",
        error=None,
    )
    assert result.valid


@pytest.mark.parametrize(
    "value",
    [
        "mailto:Jane@Example.com",
        "MAILTO:Jane@Example.com",
        "<Jane@Example.com>",
        "<mailto:Jane@Example.com>",
        "mailto:Jane@Example.com?subject=Hello",
        "Jane Doe <Jane@Example.com>",
    ],
)
def test_email_wrappers_removed(value: str) -> None:
    result = normalize_email(value)
    assert result is not None
    assert result.raw == value
    assert result.normalized == "Jane@example.com"
    assert result.key == "jane@example.com"


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("用户@例子.广告", "用户@例子.广告"),
        ("José@Example.com", "José@example.com"),
        ("info@BÜCHER.example", "info@bücher.example"),
    ],
)
def test_internationalized_email(value: str, normalized: str) -> None:
    result = normalize_email(value)
    assert result is not None and result.valid
    assert result.normalized == normalized
    assert result.key == normalized.lower()


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("bad@", "There must be something after the @-sign."),
        ("no-at-sign.example.com", "An email address must have an @-sign."),
        ("two@@example.com", None),
        ("me@localhost", None),
        # Quoted local parts are legal but almost always a paste error in lead data.
        ('"john smith"@example.com', "Quoting the part before the @-sign is not allowed here."),
    ],
)
def test_invalid_email_kept_raw_with_message(value: str, error: str | None) -> None:
    result = normalize_email(value)
    assert result is not None
    assert not result.valid
    assert (result.raw, result.normalized, result.key) == (value, None, None)
    assert result.error
    if error is not None:
        assert result.error == error


def test_email_keys_match_across_case() -> None:
    first = normalize_email("John.Smith@Example.com")
    second = normalize_email("JOHN.SMITH@EXAMPLE.COM")
    assert first is not None and second is not None
    assert first.normalized != second.normalized
    assert first.key == second.key


# Upstream tests in the email-validator file that ran with the options used here.
_DEFAULT_OPTION_TESTS = {
    "test_email_valid",
    "test_email_valid_intl_local_part",
    "test_email_invalid_syntax",
    "test_email_unsafe_character",
    "test_email_invalid_reserved_domain",
    "test_pyisemail_tests",
}


def _deliberate_difference(address: str, expect_valid: bool, message: str) -> str | None:
    """Why normalize_email intentionally disagrees with the vector, if it does.

    Such rows are left out of the vector test; the behaviour they would
    contradict is covered by the explicit email tests above.
    """
    if address != address.strip():
        return "cells are stripped"
    if address.startswith("<") and address.endswith(">"):
        return "angle brackets are unwrapped"
    if not expect_valid and message.startswith("A display name"):
        return "display names are accepted"
    addr_spec = address[address.rfind("<") + 1 : -1] if address.endswith(">") else address
    local_part = addr_spec.rpartition("@")[0]
    if expect_valid and local_part.startswith('"'):
        return "quoted local parts are rejected"
    if len(local_part) > 64:
        return "the 64-character local part limit is strict mode only"
    return None


def _email_validator_params() -> list[object]:
    params: list[object] = []
    for index, row in enumerate(_read_vectors("email-validator-syntax-cases.csv")):
        if row["test"] not in _DEFAULT_OPTION_TESTS:
            continue
        expect_valid = row["expect_valid"] == "True"
        if _deliberate_difference(row["email_input"], expect_valid, row["normalized_or_error"]):
            continue
        params.append(pytest.param(row, id=f"{index}-{row['test'][5:]}"))
    return params


@pytest.mark.parametrize("row", _vector_params(_email_validator_params))
def test_email_validator_vectors(row: dict[str, str]) -> None:
    expect_valid = row["expect_valid"] == "True"
    result = normalize_email(row["email_input"])
    assert result is not None
    assert result.valid is expect_valid, result.error
    if expect_valid and row["test"] != "test_pyisemail_tests":
        assert result.normalized == row["normalized_or_error"]
    if not expect_valid:
        assert result.error


def _isemail_params() -> list[object]:
    # The isemail file writes control characters as their Unicode "control
    # pictures" (U+2400 block) so the CSV stays printable.
    pictures = {code: code - 0x2400 for code in range(0x2400, 0x2420)}
    params: list[object] = []
    for row in _read_vectors("isemail-tests.csv"):
        category = row["category"]
        if category not in ("ISEMAIL_ERR", "ISEMAIL_VALID_CATEGORY"):
            continue
        address = row["address"].translate(pictures)
        expect_valid = category == "ISEMAIL_VALID_CATEGORY"
        if address != address.strip():
            continue  # cells are stripped, so surrounding whitespace never reaches validation
        if expect_valid and "." not in address.rpartition("@")[2]:
            continue  # email-validator requires a dot in the domain ("test@io")
        params.append(pytest.param(address, expect_valid, id=f"{row['id']}-{category[8:]}"))
    return params


@pytest.mark.parametrize(("address", "expect_valid"), _vector_params(_isemail_params, width=2))
def test_isemail_vectors(address: str, expect_valid: bool) -> None:
    result = normalize_email(address)
    if expect_valid:
        assert result is not None and result.valid, result
    else:
        assert result is None or not result.valid


# --------------------------------------------------------------------------
# Local time
# --------------------------------------------------------------------------


def test_local_time_in_each_zone() -> None:
    result = local_time(["America/Los_Angeles", "Etc/Unknown", "America/New_York"], WINTER)
    assert [(zone, moment.strftime("%H:%M")) for zone, moment in result] == [
        ("America/Los_Angeles", "15:04"),
        ("America/New_York", "18:04"),
    ]
    assert all(moment == WINTER for _, moment in result)


def test_local_time_defaults_to_now() -> None:
    before = datetime.now(UTC)
    ((zone, moment),) = local_time(["Europe/Berlin"])
    assert zone == "Europe/Berlin"
    assert moment.tzinfo is not None
    assert before <= moment <= datetime.now(UTC)


def test_local_time_rejects_naive_datetime() -> None:
    with pytest.raises(ValueError):
        local_time(["UTC"], datetime(2024, 1, 1, 12, 0))


@pytest.mark.parametrize(
    ("zones", "at", "expected"),
    [
        (["America/Los_Angeles"], WINTER, "3:04 PM America/Los_Angeles"),
        # Daylight saving time: 22:04 UTC is 3:04 PM PDT.
        (
            ["America/Los_Angeles"],
            datetime(2024, 7, 1, 22, 4, tzinfo=UTC),
            "3:04 PM America/Los_Angeles",
        ),
        (
            ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"],
            WINTER,
            "3:04 PM – 6:04 PM (4 zones)",
        ),
        (["Europe/London", "Europe/Jersey"], WINTER, "11:04 PM (2 zones)"),
        (["Pacific/Honolulu", "Asia/Tokyo"], WINTER, "Mon 1:04 PM – Tue 8:04 AM (2 zones)"),
        (["UTC"], datetime(2024, 1, 1, 0, 5, tzinfo=UTC), "12:05 AM UTC"),
        (["UTC"], datetime(2024, 1, 1, 12, 5, tzinfo=UTC), "12:05 PM UTC"),
        ([], WINTER, None),
        (["Etc/Unknown", "Not/AZone", "America", ""], WINTER, None),
    ],
)
def test_describe_local_time(zones: list[str], at: datetime, expected: str | None) -> None:
    assert describe_local_time(zones, at) == expected


def test_describe_local_time_for_a_phone() -> None:
    phone = normalize_phone("(415) 555-0134 x12")
    assert phone is not None
    assert describe_local_time(phone.time_zones, WINTER) == "3:04 PM America/Los_Angeles"
    toll_free = normalize_phone("800-555-0199")
    assert toll_free is not None
    description = describe_local_time(toll_free.time_zones, WINTER)
    assert description is not None
    assert description.endswith(f"({len(toll_free.time_zones)} zones)")


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

REGIONS = st.sampled_from([None, "US", "GB", "DE", "AR", "IL", "JP", "us", "Canada", "Narnia"])

PHONE_LIKE = st.text(alphabet="0123456789 +-().x#/extTEL:;=,*", max_size=40)


def _example_numbers() -> list[str]:
    examples = (phonenumbers.example_number(region) for region in phonenumbers.SUPPORTED_REGIONS)
    return sorted(
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        for number in examples
        if number is not None
    )


EXAMPLE_NUMBERS = _example_numbers()


@st.composite
def plausible_phones(draw: st.DrawFn) -> str:
    """Real example numbers with new last digits, written in assorted styles."""
    e164 = draw(st.sampled_from(EXAMPLE_NUMBERS))
    digits = draw(st.text(alphabet="0123456789", min_size=2, max_size=2))
    number = phonenumbers.parse(e164[:-2] + digits)
    style = draw(
        st.sampled_from(
            [
                phonenumbers.PhoneNumberFormat.E164,
                phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                phonenumbers.PhoneNumberFormat.RFC3966,
            ]
        )
    )
    text = phonenumbers.format_number(number, style)
    if draw(st.booleans()):
        text = "00" + text.removeprefix("tel:").removeprefix("+")
    if draw(st.booleans()):
        text += " x" + draw(st.text(alphabet="0123456789", min_size=1, max_size=5))
    return text


@QUICK
@given(st.one_of(st.text(), PHONE_LIKE, plausible_phones()), REGIONS)
def test_normalize_phone_never_raises(value: str, region: str | None) -> None:
    result = normalize_phone(value, region)
    if result is None:
        assert blank_to_none(value) is None
        return
    assert result.raw == value.strip()
    assert result.diallable == (result.error is None)
    assert result.e164 is None or result.e164.startswith("+")


@st.composite
def example_variants(draw: st.DrawFn) -> str:
    """An example number in E.164 with other last digits: valid or not, by the metadata."""
    e164 = draw(st.sampled_from(EXAMPLE_NUMBERS))
    return e164[:-2] + draw(st.text(alphabet="0123456789", min_size=2, max_size=2))


@settings(max_examples=1000, deadline=None, database=None)
@given(example_variants())
def test_phone_metadata_is_what_the_library_says(e164: str) -> None:
    """The one-pass validity, region, type and time-zone look-up agrees with phonenumbers."""
    number = phonenumbers.parse(e164)
    result = normalize_phone(e164, None)
    assert result is not None
    assert result.diallable == phonenumbers.is_valid_number(number)
    if not result.diallable:
        return
    library_region = phonenumbers.region_code_for_number(number)
    assert result.region == (None if library_region == "001" else library_region)
    library_type = phonenumbers.number_type(number)
    assert result.number_type == phonenumbers.PhoneNumberType.to_string(library_type).lower()
    zones = phonenumbers.timezone.time_zones_for_number(number)
    assert result.time_zones == tuple(zone for zone in zones if zone != "Etc/Unknown")


NANP_STYLES = (
    "{a}-{e}-{l}", "({a}) {e}-{l}", "({a}){e}-{l}", "{a}.{e}.{l}", "{a}{e}{l}", "1 {a} {e} {l}",
    "1-{a}-{e}-{l}", "1({a}){e}-{l}", "+1 {a} {e} {l}", "+1{a}{e}{l}", "+1-{a}-{e}-{l}",
    "+{a}{e}{l}", "1{a}{e}{l}", "{a} {e} {l}", "{a}-{e}{l}", "({a}) {e}-{l} x{x}",
    "{a}-{e}-{l}x{x}", "{a}.{e}.{l} ext. {x}", "{a} {e} {l} x {x}", "{a}-{e}-{l} ext{x}",
    "{a}-{e}-{l} Ext. {x}", "{a}-{e}-{l} #{x}",
)  # fmt: skip


@st.composite
def nanp_spellings(draw: st.DrawFn) -> str:
    """North American numbers in the usual spellings; in-service area codes and any others."""
    area = draw(st.one_of(st.sampled_from(["212", "415", "416", "604", "876", "787", "800", "900"]),
                          st.text(alphabet="0123456789", min_size=3, max_size=3)))  # fmt: skip
    exchange = draw(st.text(alphabet="0123456789", min_size=3, max_size=3))
    line = draw(st.text(alphabet="0123456789", min_size=4, max_size=4))
    extension = draw(st.text(alphabet="0123456789", min_size=0, max_size=9))
    return draw(st.sampled_from(NANP_STYLES)).format(a=area, e=exchange, l=line, x=extension)


@settings(max_examples=1000, deadline=None, database=None)
@given(nanp_spellings(), st.sampled_from(["US", "CA", "JM", "GB", "DE", None]))
def test_north_american_spellings_read_as_the_library_reads_them(text: str, region: str | None):
    """The shortcut for plain North American numbers gives what phonenumbers.parse gives."""
    result = normalize_phone(text, region)
    assert result is not None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_valid_number(number):
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        assert result.e164 == e164
        assert result.extension == (number.extension or None)
    elif not text.lstrip("(+").startswith("0"):  # 00/011 are read as international prefixes
        assert not result.diallable


@QUICK
@given(plausible_phones(), REGIONS)
def test_valid_phone_renormalizes_to_itself(value: str, region: str | None) -> None:
    result = normalize_phone(value, region)
    assert result is not None
    if not result.diallable:
        return
    assert result.e164 is not None
    again = normalize_phone(result.e164, region)
    assert again is not None and again.e164 == result.e164
    from_display = normalize_phone(result.display, "US")
    assert from_display is not None
    assert (from_display.e164, from_display.extension) == (result.e164, result.extension)


NAME_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.sampled_from(" \t\n\u00a0\u2003\u3000\u200b\ufeff\u0301\u0308eéAaN/"),
    )
)


@QUICK
@given(NAME_TEXT)
def test_normalize_name_is_idempotent(value: str) -> None:
    once = normalize_name(value)
    assert normalize_name(once) == once
    if once is not None:
        assert once == once.strip()
        assert "  " not in once


@QUICK
@given(st.one_of(st.text(), st.emails()))
def test_normalize_email_never_raises(value: str) -> None:
    result = normalize_email(value)
    if result is None:
        return
    assert result.valid == (result.error is None)
    if result.normalized is not None:
        assert result.key == result.normalized.lower()
        again = normalize_email(result.normalized)
        assert again is not None and again.normalized == result.normalized


def test_na_is_a_surname_not_a_blank():
    # "Na" is a common Korean surname; only the spelled-out "N/A" means missing.
    assert normalize_name("Na") == "Na"


# --------------------------------------------------------------------------
# The plain-address fast path agrees with email-validator
# --------------------------------------------------------------------------


def _validator_verdict(address: str) -> str | None:
    """email-validator's own normalized form with the options the app uses, or None."""
    try:
        return validate_email(
            address, check_deliverability=False, allow_smtputf8=True, allow_display_name=True
        ).normalized
    except EmailNotValidError:
        return None


_ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
_LOCAL_PARTS = st.text(alphabet=_ATEXT + ".\"é (),:;<>[\\]", min_size=0, max_size=70)
_LABELS = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=0, max_size=64),
    st.sampled_from(["com", "COM", "io", "test", "local", "localhost", "invalid", "onion",
                     "arpa", "123", "xn--bcher-kva", "xn--zz", "bücher", "example"]),
)  # fmt: skip
_DOMAINS = st.lists(_LABELS, min_size=1, max_size=4).map(".".join)
_ADDRESSES = st.one_of(
    st.builds(lambda local, domain: f"{local}@{domain}", _LOCAL_PARTS, _DOMAINS),
    st.emails(),
    st.text(alphabet=_ATEXT + ".@", max_size=40),
)


@settings(max_examples=1000, deadline=None, database=None)
@given(_ADDRESSES)
def test_plain_addresses_normalize_as_email_validator_does(address: str) -> None:
    result = normalize_email(address)
    if result is None or address != address.strip() or address.startswith(("<", "mailto:")):
        return  # blank markers, stripping and unwrapping are ours, tested above
    assert result.normalized == _validator_verdict(address)


def _vector_addresses() -> list[object]:
    rows = _read_vectors("email-validator-syntax-cases.csv")
    addresses = [row["email_input"] for row in rows]
    addresses += [row["address"] for row in _read_vectors("isemail-tests.csv")]
    return [address for address in addresses if address == address.strip() and address]


@pytest.mark.parametrize("address", _vector_params(_vector_addresses))
def test_vector_addresses_normalize_as_email_validator_does(address: str) -> None:
    result = normalize_email(address)
    if result is None or address.startswith(("<", "mailto:")):
        return
    assert result.normalized == _validator_verdict(address)
