"""Where a lead's phone rings: US states and Canadian provinces, their names and zones.

Used when a number gives no zone (the address decides) and to find the state whose
stricter calling hours apply (from the address, or the area code's state).
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

ET, CT, MT, PT = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"

# code: (name, zones); states split across zones list every zone they span.
US_STATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "AL": ("Alabama", (CT,)), "AK": ("Alaska", ("America/Anchorage", "America/Adak")),
    "AZ": ("Arizona", ("America/Phoenix",)), "AR": ("Arkansas", (CT,)),
    "CA": ("California", (PT,)), "CO": ("Colorado", (MT,)), "CT": ("Connecticut", (ET,)),
    "DE": ("Delaware", (ET,)), "DC": ("Washington D.C.", (ET,)), "FL": ("Florida", (ET, CT)),
    "GA": ("Georgia", (ET,)), "HI": ("Hawaii", ("Pacific/Honolulu",)),
    "ID": ("Idaho", (MT, PT)), "IL": ("Illinois", (CT,)),
    "IN": ("Indiana", ("America/Indiana/Indianapolis", CT)), "IA": ("Iowa", (CT,)),
    "KS": ("Kansas", (CT, MT)), "KY": ("Kentucky", (ET, CT)), "LA": ("Louisiana", (CT,)),
    "ME": ("Maine", (ET,)), "MD": ("Maryland", (ET,)), "MA": ("Massachusetts", (ET,)),
    "MI": ("Michigan", ("America/Detroit", CT)), "MN": ("Minnesota", (CT,)),
    "MS": ("Mississippi", (CT,)), "MO": ("Missouri", (CT,)), "MT": ("Montana", (MT,)),
    "NE": ("Nebraska", (CT, MT)), "NV": ("Nevada", (PT,)), "NH": ("New Hampshire", (ET,)),
    "NJ": ("New Jersey", (ET,)), "NM": ("New Mexico", (MT,)), "NY": ("New York", (ET,)),
    "NC": ("North Carolina", (ET,)), "ND": ("North Dakota", (CT, MT)), "OH": ("Ohio", (ET,)),
    "OK": ("Oklahoma", (CT,)), "OR": ("Oregon", (PT, MT)), "PA": ("Pennsylvania", (ET,)),
    "RI": ("Rhode Island", (ET,)), "SC": ("South Carolina", (ET,)),
    "SD": ("South Dakota", (CT, MT)), "TN": ("Tennessee", (CT, ET)), "TX": ("Texas", (CT, MT)),
    "UT": ("Utah", (MT,)), "VT": ("Vermont", (ET,)), "VA": ("Virginia", (ET,)),
    "WA": ("Washington", (PT,)), "WV": ("West Virginia", (ET,)), "WI": ("Wisconsin", (CT,)),
    "WY": ("Wyoming", (MT,)), "PR": ("Puerto Rico", ("America/Puerto_Rico",)),
}  # fmt: skip

CA_PROVINCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "AB": ("Alberta", ("America/Edmonton",)),
    "BC": ("British Columbia", ("America/Vancouver", "America/Edmonton")),
    "MB": ("Manitoba", ("America/Winnipeg",)),
    "NB": ("New Brunswick", ("America/Moncton",)),
    "NL": ("Newfoundland and Labrador", ("America/St_Johns", "America/Goose_Bay")),
    "NS": ("Nova Scotia", ("America/Halifax",)),
    "NT": ("Northwest Territories", ("America/Yellowknife",)),
    "NU": ("Nunavut", ("America/Iqaluit", "America/Rankin_Inlet", "America/Cambridge_Bay")),
    "ON": ("Ontario", ("America/Toronto", "America/Winnipeg")),
    "PE": ("Prince Edward Island", ("America/Halifax",)),
    "QC": ("Quebec", ("America/Toronto", "America/Halifax")),
    "SK": ("Saskatchewan", ("America/Regina",)),
    "YT": ("Yukon", ("America/Whitehorse",)),
}

_SUBDIVISIONS = {"US": US_STATES, "CA": CA_PROVINCES}
# Names as geocoding and people write them, lower-cased, to "US-FL" style codes.
_BY_NAME = {
    name.lower(): f"{country}-{code}"
    for country, table in _SUBDIVISIONS.items()
    for code, (name, _) in table.items()
} | {"washington state": "US-WA", "washington d.c": "US-DC", "québec": "CA-QC"}


def subdivision(country: str | None, state: str | None) -> str | None:
    """``"US-FL"`` for a state written as a code or a name; None when unknown."""
    if not state:
        return None
    text = state.strip().rstrip(".").lower()
    if country in _SUBDIVISIONS and text.upper() in _SUBDIVISIONS[country]:
        return f"{country}-{text.upper()}"
    if country is None:
        for candidate in ("US", "CA"):
            if text.upper() in _SUBDIVISIONS[candidate]:
                return f"{candidate}-{text.upper()}"
    return _BY_NAME.get(text)


def subdivision_zones(code: str) -> tuple[str, ...]:
    country, _, part = code.partition("-")
    return _SUBDIVISIONS.get(country, {}).get(part, ("", ()))[1]


def country_zones(country: str | None) -> tuple[str, ...]:
    """Every zone a country's phones may ring in, for when nothing narrower is known."""
    if country in _SUBDIVISIONS:
        return tuple(sorted({z for _, zones in _SUBDIVISIONS[country].values() for z in zones}))
    return calling_code_zones(country)


@lru_cache(maxsize=256)
def calling_code_zones(country: str | None) -> tuple[str, ...]:
    """Every zone phonenumbers knows for the country's calling code (+1: all of North America)."""
    example = phonenumbers.example_number(country) if country else None
    if example is None:
        return ()
    zones = phonenumbers.timezone._country_level_time_zones_for_number(example)
    return tuple(zone for zone in zones if zone != "Etc/Unknown")


_AREA_CODES: dict[str, str | None] = {}


def phone_subdivision(e164: str) -> str | None:
    """The state or province of a North American number's area code, else None."""
    if not e164.startswith("+1") or len(e164) < 5:
        return None
    # Area codes do not cross state lines: one geocoder lookup per area code.
    area = e164[:5]
    if area not in _AREA_CODES:
        # Imported here: the geocoder's data takes 100 MB, and most processes (the
        # import's work-horse among them) never look up an area code.
        from phonenumbers import geocoder

        description = geocoder.description_for_number(phonenumbers.parse(e164), "en")
        _AREA_CODES[area] = _BY_NAME.get(description.lower())
    return _AREA_CODES[area]
