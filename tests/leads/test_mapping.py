"""Tests for leads.mapping: header suggestions, validation and saved mapping templates."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leads import mapping as mapping_module
from leads.mapping import (
    IDENTIFYING_TARGETS,
    MAX_CUSTOM_NAME,
    ColumnMapping,
    Target,
    custom_key,
    mapping_from_json,
    mapping_to_json,
    normalize_header,
    suggest_mapping,
    validate_mapping,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SAMPLE_FOLDERS = (SHARED / "leads", SHARED / "messy" / "thunderbird-addressbook")
NO_SHARED = f"shared sample files not found under {SHARED}"

# Property tests run in the normal suite, so keep them quick and leave no
# example database behind in the working tree.
QUICK = settings(max_examples=120, deadline=None, database=None)

T = Target
# An expected suggestion: a target, or a string for a custom field of that name.
Expected = Target | str


def suggest(headers: list[str], rows: list[list[str]] | None = None) -> dict[str, ColumnMapping]:
    """Suggestions by header, checked to be complete and free of conflicts."""
    mapping = suggest_mapping(headers, rows or ())
    assert len(mapping) == len(headers)
    problems = validate_mapping(mapping)
    assert not [p for p in problems if not p.startswith("Nothing identifies")], problems
    return dict(zip(headers, mapping, strict=True))


def _expected(want: Expected) -> ColumnMapping:
    # Targets are strings too (StrEnum), so test for them first.
    return ColumnMapping(want) if isinstance(want, Target) else ColumnMapping(T.CUSTOM, want)


def check(suggested: dict[str, ColumnMapping], expected: dict[str, Expected]) -> None:
    wrong = {}
    for header, want in expected.items():
        got = suggested[header]
        if got != _expected(want):
            wrong[header] = (got.target.value, got.custom_name)
    assert not wrong, wrong


# --------------------------------------------------------------------------
# Header text
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "normalized"),
    [
        ("E-mail Address", "email address"),
        ("\ufeffFirst_Name", "first name"),
        ("  Phone 1 - Value ", "phone 1 value"),
        ("State/Province", "state province"),
        ("PHONE1", "phone 1"),
        ("Téléphone", "telephone"),
        ("Nº", "no"),
        ("Assistant's Phone", "assistants phone"),
        ("e.mail", "email"),
        ("zip\u200bcode", "zipcode"),
        ("Straße", "strasse"),
        ("B2B  segment", "b2b segment"),
        ("", ""),
    ],
)
def test_normalize_header(header: str, normalized: str) -> None:
    assert normalize_header(header) == normalized


def test_custom_keys_keep_accents_and_have_a_length_limit() -> None:
    assert custom_key("Número de Cliente") == "número de cliente"
    assert custom_key(" Lead-Score ") == "lead score"
    assert custom_key("!!!") == ""
    assert custom_key(None) == ""
    assert len(custom_key("word " * 100)) <= MAX_CUSTOM_NAME


def test_every_target_has_a_distinct_label() -> None:
    labels = [target.label for target in Target]
    assert all(labels) and len(set(labels)) == len(labels)
    assert T.EMAIL.label == "Email"
    assert not T.CUSTOM.single and not T.IGNORE.single and T.NOTES.single


def test_synonym_tables_are_unambiguous() -> None:
    """A header text belongs to one target, and is never also a "decide by values" header."""
    owners: dict[str, set[Target]] = {}
    for target, _, texts in mapping_module._SYNONYM_ROWS:
        for text in texts:
            owners.setdefault(normalize_header(text), set()).add(target)
    assert {key: t for key, t in owners.items() if len(t) > 1} == {}
    assert set(owners) & set(mapping_module._AMBIGUOUS) == set()


# --------------------------------------------------------------------------
# Export styles
# --------------------------------------------------------------------------

STYLES: dict[str, tuple[list[str], dict[str, Expected]]] = {
    "outlook": (
        ["Title", "First Name", "Middle Name", "Last Name", "Suffix", "Company", "Department",
         "Job Title", "Business Street", "Business City", "Business State",
         "Business Postal Code", "Business Country/Region", "Home City", "Home State",
         "Home Country/Region", "Assistant's Phone", "Business Fax", "Business Phone",
         "Business Phone 2", "Car Phone", "Company Main Phone", "Home Phone", "Home Phone 2",
         "Mobile Phone", "Other Phone", "Pager", "Primary Phone", "Account", "Birthday",
         "E-mail Address", "E-mail Type", "E-mail Display Name", "E-mail 2 Address",
         "E-mail 3 Address", "Notes", "Organizational ID Number", "User 1", "Web Page"],
        {"First Name": T.FIRST_NAME, "Last Name": T.LAST_NAME, "Company": T.COMPANY,
         "Job Title": T.TITLE, "Title": "title 2", "Business City": T.CITY,
         "Home City": "home city", "Business State": T.STATE,
         "Business Country/Region": T.COUNTRY, "Business Phone": T.PHONE,
         "Mobile Phone": T.MOBILE, "Other Phone": T.OTHER_PHONE, "Home Phone": "home phone",
         "Primary Phone": "primary phone", "Business Fax": "business fax",
         "Birthday": T.BIRTHDAY, "E-mail Address": T.EMAIL,
         "E-mail 2 Address": "email 2 address", "E-mail Display Name": "email display name",
         "Notes": T.NOTES, "Web Page": T.WEBSITE, "Account": "account",
         "Organizational ID Number": "organizational id number"},
    ),
    "google contacts": (
        ["First Name", "Middle Name", "Last Name", "Name Prefix", "Nickname",
         "Organization Name", "Organization Title", "Birthday", "Notes", "Labels",
         "E-mail 1 - Label", "E-mail 1 - Value", "E-mail 2 - Value", "Phone 1 - Label",
         "Phone 1 - Value", "Phone 2 - Value", "Address 1 - City", "Address 1 - Region",
         "Address 1 - Postal Code", "Address 1 - Country", "Website 1 - Value"],
        {"First Name": T.FIRST_NAME, "Last Name": T.LAST_NAME, "Middle Name": "middle name",
         "Organization Name": T.COMPANY, "Organization Title": T.TITLE,
         "E-mail 1 - Value": T.EMAIL, "E-mail 2 - Value": "email 2 value",
         "E-mail 1 - Label": "email 1 label", "Phone 1 - Value": T.PHONE,
         "Phone 2 - Value": T.OTHER_PHONE, "Phone 1 - Label": "phone 1 label",
         "Address 1 - City": T.CITY, "Address 1 - Region": T.STATE,
         "Address 1 - Country": T.COUNTRY, "Address 1 - Postal Code": "address 1 postal code",
         "Website 1 - Value": T.WEBSITE, "Birthday": T.BIRTHDAY, "Notes": T.NOTES},
    ),
    "google contacts, older export": (
        ["Name", "Given Name", "Additional Name", "Family Name", "Birthday", "Occupation",
         "Notes", "E-mail 1 - Type", "E-mail 1 - Value", "Phone 1 - Type", "Phone 1 - Value",
         "Organization 1 - Type", "Organization 1 - Name", "Organization 1 - Title",
         "Website 1 - Value"],
        {"Name": "name", "Given Name": T.FIRST_NAME, "Family Name": T.LAST_NAME,
         "Additional Name": "additional name", "E-mail 1 - Value": T.EMAIL,
         "Phone 1 - Value": T.PHONE, "Organization 1 - Name": T.COMPANY,
         "Organization 1 - Title": T.TITLE, "Occupation": "occupation",
         "Website 1 - Value": T.WEBSITE},
    ),
    "hubspot": (
        ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number",
         "Job Title", "Company Name", "Website URL", "City", "State/Region", "Country/Region",
         "Postal Code", "Time Zone", "Lead Status", "Lifecycle Stage", "Contact owner",
         "Original Source", "LinkedIn URL", "Twitter Username", "Date of birth"],
        {"Record ID": T.EXTERNAL_ID, "Email": T.EMAIL, "Phone Number": T.PHONE,
         "Mobile Phone Number": T.MOBILE, "Job Title": T.TITLE, "Company Name": T.COMPANY,
         "Website URL": T.WEBSITE, "State/Region": T.STATE, "Country/Region": T.COUNTRY,
         "Time Zone": T.TIME_ZONE, "Lead Status": "lead status",
         "Contact owner": "contact owner", "Original Source": T.SOURCE,
         "LinkedIn URL": T.LINKEDIN_URL, "Twitter Username": T.X_URL,
         "Date of birth": T.BIRTHDAY},
    ),
    "hubspot internal names": (
        ["hs_object_id", "firstname", "lastname", "email", "mobilephone", "jobtitle",
         "hs_timezone"],
        {"hs_object_id": T.EXTERNAL_ID, "firstname": T.FIRST_NAME, "lastname": T.LAST_NAME,
         "mobilephone": T.MOBILE, "jobtitle": T.TITLE, "hs_timezone": T.TIME_ZONE},
    ),
    "salesforce lead report": (
        ["Lead ID", "Salutation", "First Name", "Last Name", "Title", "Company / Account",
         "Email", "Phone", "Mobile", "Fax", "Lead Source", "Lead Status", "Street", "City",
         "State/Province", "Zip/Postal Code", "Country", "Website", "Description",
         "Lead Owner"],
        {"Lead ID": T.EXTERNAL_ID, "Salutation": "salutation", "Title": T.TITLE,
         "Company / Account": T.COMPANY, "Phone": T.PHONE, "Mobile": T.MOBILE, "Fax": "fax",
         "Lead Source": T.SOURCE, "State/Province": T.STATE,
         "Zip/Postal Code": "zip postal code", "Description": T.NOTES,
         "Lead Owner": "lead owner"},
    ),
    "salesforce contacts": (
        ["Contact ID", "Account ID", "Account Name", "First Name", "Last Name", "Mobile Phone",
         "Other Phone", "Mailing City", "Mailing State/Province", "Mailing Country",
         "Birthdate"],
        {"Contact ID": T.EXTERNAL_ID, "Account ID": "account id", "Account Name": T.COMPANY,
         "Other Phone": T.OTHER_PHONE, "Mailing City": T.CITY,
         "Mailing State/Province": T.STATE, "Mailing Country": T.COUNTRY,
         "Birthdate": T.BIRTHDAY},
    ),
    "salesforce api names": (
        ["Id", "FirstName", "LastName", "Company", "MobilePhone", "LeadSource", "Status"],
        {"Id": T.EXTERNAL_ID, "FirstName": T.FIRST_NAME, "LastName": T.LAST_NAME,
         "MobilePhone": T.MOBILE, "LeadSource": T.SOURCE, "Status": "status"},
    ),
    "pipedrive": (
        ["Person - ID", "Person - Name", "Person - Organization", "Person - Email - Work",
         "Person - Email - Home", "Person - Phone - Work", "Person - Phone - Home",
         "Person - Phone - Mobile", "Person - Phone - Other", "Person - Label",
         "Person - Job title", "Person - Notes"],
        {"Person - ID": T.EXTERNAL_ID, "Person - Name": T.FULL_NAME,
         "Person - Organization": T.COMPANY, "Person - Email - Work": T.EMAIL,
         "Person - Email - Home": "person email home", "Person - Phone - Work": T.PHONE,
         "Person - Phone - Home": "person phone home", "Person - Phone - Mobile": T.MOBILE,
         "Person - Phone - Other": T.OTHER_PHONE, "Person - Job title": T.TITLE,
         "Person - Notes": T.NOTES},
    ),
    "linkedin connections": (
        ["First Name", "Last Name", "URL", "Email Address", "Company", "Position",
         "Connected On"],
        {"URL": T.WEBSITE, "Email Address": T.EMAIL, "Position": T.TITLE,
         "Connected On": "connected on"},
    ),
    "sales navigator": (
        ["First Name", "Last Name", "Full Name", "Job Title", "Company", "Company Domain",
         "LinkedIn Profile URL", "Location", "Company LinkedIn URL"],
        {"Full Name": T.FULL_NAME, "Company Domain": T.WEBSITE,
         "LinkedIn Profile URL": T.LINKEDIN_URL, "Location": "location",
         "Company LinkedIn URL": "company linkedin url"},
    ),
    "apollo": (
        ["First Name", "Last Name", "Title", "Company", "Email", "Email Status",
         "First Phone", "Work Direct Phone", "Home Phone", "Mobile Phone", "Corporate Phone",
         "Other Phone", "# Employees", "Person Linkedin Url", "Website",
         "Company Linkedin Url", "Facebook Url", "Twitter Url", "City", "State", "Country",
         "Company City", "Company Phone", "Apollo Contact Id", "Apollo Account Id"],
        {"Title": T.TITLE, "Email Status": "email status", "First Phone": T.PHONE,
         "Work Direct Phone": "work direct phone", "Mobile Phone": T.MOBILE,
         "Other Phone": T.OTHER_PHONE, "# Employees": "employees",
         "Person Linkedin Url": T.LINKEDIN_URL, "Company Linkedin Url": "company linkedin url",
         "Facebook Url": T.OTHER_PROFILE_URL, "Twitter Url": T.X_URL, "City": T.CITY,
         "Company City": "company city", "Company Phone": "company phone",
         "Apollo Contact Id": T.EXTERNAL_ID, "Apollo Account Id": "apollo account id"},
    ),
    "zoho": (
        ["Record Id", "Lead Owner", "First Name", "Last Name", "Company", "Designation",
         "Email", "Secondary Email", "Phone", "Mobile", "Lead Source", "Twitter", "Skype ID",
         "No. of Employees", "Description"],
        {"Record Id": T.EXTERNAL_ID, "Designation": T.TITLE,
         "Secondary Email": "secondary email", "Twitter": T.X_URL, "Skype ID": "skype id",
         "No. of Employees": "no of employees", "Description": T.NOTES},
    ),
    "spanish": (
        ["Nombre", "Apellidos", "Empresa", "Cargo", "Teléfono", "Móvil", "Correo electrónico",
         "Sitio web", "Ciudad", "Provincia", "País", "Fecha de nacimiento", "Notas"],
        {"Nombre": T.FIRST_NAME, "Apellidos": T.LAST_NAME, "Empresa": T.COMPANY,
         "Cargo": T.TITLE, "Teléfono": T.PHONE, "Móvil": T.MOBILE,
         "Correo electrónico": T.EMAIL, "Sitio web": T.WEBSITE, "Ciudad": T.CITY,
         "Provincia": T.STATE, "País": T.COUNTRY, "Fecha de nacimiento": T.BIRTHDAY,
         "Notas": T.NOTES},
    ),
    "spanish, full name and single surname": (
        ["Nombre completo", "Apellido", "Correo", "Compañía"],
        {"Nombre completo": T.FULL_NAME, "Apellido": T.LAST_NAME, "Correo": T.EMAIL,
         "Compañía": T.COMPANY},
    ),
    "portuguese": (
        ["Nome", "Sobrenome", "Empresa", "Telefone", "Celular", "E-mail", "Cidade", "Estado",
         "País", "Observações"],
        {"Nome": T.FIRST_NAME, "Sobrenome": T.LAST_NAME, "Telefone": T.PHONE,
         "Celular": T.MOBILE, "E-mail": T.EMAIL, "Cidade": T.CITY, "Estado": T.STATE,
         "Observações": T.NOTES},
    ),
    "french": (
        ["Prénom", "Nom", "Société", "Fonction", "Téléphone", "Téléphone portable",
         "Courriel", "Site web", "Ville", "Pays", "Date de naissance"],
        {"Prénom": T.FIRST_NAME, "Nom": T.LAST_NAME, "Société": T.COMPANY,
         "Fonction": T.TITLE, "Téléphone": T.PHONE, "Téléphone portable": T.MOBILE,
         "Courriel": T.EMAIL, "Site web": T.WEBSITE, "Ville": T.CITY, "Pays": T.COUNTRY,
         "Date de naissance": T.BIRTHDAY},
    ),
    "german": (
        ["Anrede", "Vorname", "Nachname", "Firma", "Position", "Telefon", "Handy",
         "E-Mail-Adresse", "Webseite", "Ort", "Bundesland", "Land", "Geburtsdatum", "Notizen"],
        {"Anrede": "anrede", "Vorname": T.FIRST_NAME, "Nachname": T.LAST_NAME,
         "Firma": T.COMPANY, "Position": T.TITLE, "Telefon": T.PHONE, "Handy": T.MOBILE,
         "E-Mail-Adresse": T.EMAIL, "Webseite": T.WEBSITE, "Ort": T.CITY,
         "Bundesland": T.STATE, "Land": T.COUNTRY, "Geburtsdatum": T.BIRTHDAY,
         "Notizen": T.NOTES},
    ),
    "german, Name next to Vorname": (
        ["Vorname", "Name", "Firma", "Telefon"],
        {"Vorname": T.FIRST_NAME, "Name": T.LAST_NAME},
    ),
    "italian": (
        ["Nome", "Cognome", "Azienda", "Ruolo", "Telefono", "Cellulare", "Email", "Sito web",
         "Città", "Paese", "Data di nascita", "Note"],
        {"Nome": T.FIRST_NAME, "Cognome": T.LAST_NAME, "Azienda": T.COMPANY,
         "Ruolo": T.TITLE, "Telefono": T.PHONE, "Cellulare": T.MOBILE, "Città": T.CITY,
         "Paese": T.COUNTRY, "Data di nascita": T.BIRTHDAY, "Note": T.NOTES},
    ),
    "english, Name next to Surname": (
        ["Name", "Surname", "E-mail", "Tel."],
        {"Name": T.FIRST_NAME, "Surname": T.LAST_NAME, "E-mail": T.EMAIL, "Tel.": T.PHONE},
    ),
}  # fmt: skip


@pytest.mark.parametrize(("headers", "expected"), list(STYLES.values()), ids=list(STYLES))
def test_export_styles(headers: list[str], expected: dict[str, Expected]) -> None:
    suggested = suggest(headers)
    check(suggested, expected)
    assert validate_mapping(list(suggested.values())) == []


def test_our_own_export_comes_back_to_its_fields() -> None:
    export = pytest.importorskip("leads.export")
    headers = [name for name, _ in export.COLUMNS] + [f"{export.CUSTOM_PREFIX}Industry"]
    suggested = suggest(headers)
    fields = {target.value for target in Target}
    for name, column in export.COLUMNS:
        # Plain lead columns named like a target ("Owner Email" is the owner's).
        if getattr(column, "class_", None) is export.Lead and column.key in fields:
            assert suggested[name].target == column.key, name
    check(
        suggested,
        {"Phone": T.PHONE, "Email": T.EMAIL, "X": T.X_URL, "External ID": T.EXTERNAL_ID,
         "Lead ID": "lead id", f"{export.CUSTOM_PREFIX}Industry": "industry"},
    )  # fmt: skip


# --------------------------------------------------------------------------
# The shared sample files
# --------------------------------------------------------------------------

DATABLIST_CUSTOMERS: dict[str, Expected] = {
    "Index": T.IGNORE, "Customer Id": T.EXTERNAL_ID, "First Name": T.FIRST_NAME,
    "Last Name": T.LAST_NAME, "Company": T.COMPANY, "City": T.CITY, "Country": T.COUNTRY,
    "Phone 1": T.PHONE, "Phone 2": T.OTHER_PHONE, "Email": T.EMAIL,
    "Subscription Date": "subscription date", "Website": T.WEBSITE,
}  # fmt: skip
THUNDERBIRD: dict[str, Expected] = {
    "First Name": T.FIRST_NAME, "Last Name": T.LAST_NAME, "Display Name": T.FULL_NAME,
    "Primary Email": T.EMAIL, "Secondary Email": "secondary email", "Work Phone": T.PHONE,
    "Home Phone": T.OTHER_PHONE, "Mobile Number": T.MOBILE, "Fax Number": "fax number",
    "Work City": T.CITY, "Home City": "home city", "Work State": T.STATE,
    "Work Country": T.COUNTRY, "Job Title": T.TITLE, "Organization": T.COMPANY,
    "Web Page 1": T.WEBSITE, "Web Page 2": "web page 2", "Birth Day": "birth day",
    "Custom 1": "custom 1", "Notes": T.NOTES,
}  # fmt: skip
SAMPLE_EXPECTATIONS: dict[str, dict[str, Expected]] = {
    "customers-100.csv": DATABLIST_CUSTOMERS,
    "customers-10000.csv": DATABLIST_CUSTOMERS,
    "customers-10000.excel-resave-crlf.csv": DATABLIST_CUSTOMERS,
    "customers-10000.annrch-uppercase-semicolon.csv": {
        "INDEX": T.IGNORE, "CUSTOMERID": T.EXTERNAL_ID, "FIRSNAME": T.FIRST_NAME,
        "LASTNAME": T.LAST_NAME, "COMPANY": T.COMPANY, "PHONE1": T.PHONE,
        "PHONE2": T.OTHER_PHONE, "EMAIL": T.EMAIL, "SUBSCRIPTIONDATE": "subscriptiondate",
        "WEBSITE": T.WEBSITE,
    },
    "leads-100.csv": (LEADS := {
        "Index": T.IGNORE, "Account Id": T.EXTERNAL_ID, "Lead Owner": "lead owner",
        "First Name": T.FIRST_NAME, "Last Name": T.LAST_NAME, "Company": T.COMPANY,
        "Phone 1": T.PHONE, "Phone 2": T.OTHER_PHONE, "Email 1": T.EMAIL,
        "Email 2": "email 2", "Website": T.WEBSITE, "Source": T.SOURCE,
        "Deal Stage": "deal stage", "Notes": T.NOTES,
    }),
    "leads-10000.csv": LEADS,
    "organizations-100.csv": {
        "Index": T.IGNORE, "Organization Id": T.EXTERNAL_ID, "Name": T.COMPANY,
        "Website": T.WEBSITE, "Country": T.COUNTRY, "Description": T.NOTES,
        "Number of employees": "number of employees",
    },
    "people-1000.csv": {
        "Index": T.IGNORE, "User Id": T.EXTERNAL_ID, "First Name": T.FIRST_NAME,
        "Last Name": T.LAST_NAME, "Sex": "sex", "Email": T.EMAIL, "Phone": T.PHONE,
        "Date of birth": T.BIRTHDAY, "Job Title": T.TITLE,
    },
    "basic_csv_addressbook.csv": {**THUNDERBIRD, "": T.IGNORE},
    "shiftjis_addressbook.csv": {**THUNDERBIRD, "": T.IGNORE},
    "utf16_addressbook.csv": {**THUNDERBIRD, "": T.IGNORE},
    "quote.csv": THUNDERBIRD,
    # No header row: the "header" is the first record, whose address still shows.
    "tab_comma_mixed.csv": {"1@host.invalid": T.EMAIL, "": T.IGNORE},
}  # fmt: skip


def _read_sample(path: Path, rows: int = 5) -> tuple[list[str], list[list[str]]]:
    """The header and first rows, as the csv module reads them."""
    head = path.read_bytes()[:64_000]
    encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    # Only the header matters for the Shift JIS file, and it is ASCII.
    text = head.decode(encoding, errors="replace")
    records = list(csv.reader(text.splitlines()[: rows + 1]))
    return records[0], records[1:]


def _sample_files() -> list[object]:
    if not all(folder.is_dir() for folder in SAMPLE_FOLDERS):
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_SHARED))]
    files = sorted(path for folder in SAMPLE_FOLDERS for path in folder.glob("*.csv"))
    return [pytest.param(path, id=path.name) for path in files]


@pytest.mark.parametrize("path", _sample_files())
def test_shared_sample_files(path: Path) -> None:
    headers, rows = _read_sample(path)
    mapping = suggest_mapping(headers, rows)
    assert validate_mapping(mapping) == []
    expected = SAMPLE_EXPECTATIONS.get(path.name)
    if expected is None:
        # A file added later: at least its header names someone.
        assert any(entry.target in IDENTIFYING_TARGETS for entry in mapping)
        return
    # Repeated headers (blank ones) all expect the same, so a dict is enough.
    check(dict(zip(headers, mapping, strict=True)), expected)


def test_organizations_name_is_a_person_without_company_like_values() -> None:
    check(suggest(["Index", "Name", "Website"]), {"Name": T.FULL_NAME})


# --------------------------------------------------------------------------
# Columns that want the same field
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["Email", "Email", "Email"], [T.EMAIL, "email 2", "email 3"]),
        (["Phone", "Phone", "Phone"], [T.PHONE, T.OTHER_PHONE, "phone 3"]),
        (["Mobile", "Cell"], [T.MOBILE, T.OTHER_PHONE]),
        (["Phone 2", "Phone 1"], [T.OTHER_PHONE, T.PHONE]),
        # A home number is the phone only when there is no work number.
        (["Home Phone", "Work Phone"], [T.OTHER_PHONE, T.PHONE]),
        (["Home Phone"], [T.PHONE]),
        # Named fields keep their field; the losers of "Phone" fall back around them.
        (["Phone", "Other Phone", "Primary Phone"], [T.PHONE, T.OTHER_PHONE, "primary phone"]),
        (["Company", "Company"], [T.COMPANY, "company 2"]),
        (["Score", "Score", "score"], ["score", "score 2", "score 3"]),
        (["Title", "Job Title"], ["title 2", T.TITLE]),
        (["Full Name", "Display Name"], [T.FULL_NAME, "display name"]),
        (["External ID", "Lead ID"], [T.EXTERNAL_ID, "lead id"]),
        (["Customer Id", "Account Id"], [T.EXTERNAL_ID, "account id"]),
        (["Index", "#", "No.", "N°", "Unnamed: 0", "Row Number"], [T.IGNORE] * 6),
        (["", "Email", ""], [T.IGNORE, T.EMAIL, T.IGNORE]),
        (["Lead Score", "Favourite Colour"], ["lead score", "favourite colour"]),
        (["County", "Country"], ["county", T.COUNTRY]),
        (["Birth Year", "Birthday"], ["birth year", T.BIRTHDAY]),
        (["Custom: Email", "Email"], ["email 2", T.EMAIL]),
    ],
)
def test_duplicates_and_fallbacks(headers: list[str], expected: list[Expected]) -> None:
    mapping = suggest_mapping(headers)
    assert mapping == [_expected(e) for e in expected]
    assert not [p for p in validate_mapping(mapping) if "mapped" in p and "Nothing" not in p]


def test_a_filled_column_beats_an_empty_one_of_the_same_rank() -> None:
    rows = [["", "415 555 0134"], ["", "212 555 0199"]]
    assert suggest_mapping(["Phone 1", "Phone 2"], rows) == [
        ColumnMapping(T.OTHER_PHONE),
        ColumnMapping(T.PHONE),
    ]


def test_repeated_ids_are_not_an_external_id() -> None:
    rows = [["A-1", "a@example.com"], ["A-1", "b@example.com"], ["B-2", "c@example.com"]]
    assert suggest_mapping(["Account Id", "Email"], rows)[0] == ColumnMapping(
        T.CUSTOM, "account id"
    )


# --------------------------------------------------------------------------
# Sample values as tie-breakers
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "rows", "expected"),
    [
        (["Company", "Contact"], [["Acme", "ana@acme.com"], ["Initech", "bo@initech.com"]],
         {"Contact": T.EMAIL}),
        (["Company", "Contact"], [["Acme", "(415) 555-0134"], ["Initech", "+44 20 7946 0958"]],
         {"Contact": T.PHONE}),
        (["Company", "Contact"], [["Acme", "Ana Pérez"]], {"Contact": T.FULL_NAME}),
        (["Company", "Contact"], [], {"Contact": T.FULL_NAME}),
        (["Name"], [["Ferrell LLC"], ["Mckinney, Riley and Day"], ["Hester Ltd"]],
         {"Name": T.COMPANY}),
        (["Name"], [["Ana Pérez"], ["Bo Li"]], {"Name": T.FULL_NAME}),
        (["Name", "First Name", "Last Name"], [], {"Name": "name"}),
        (["URL"], [["https://www.linkedin.com/in/ana"], ["linkedin.com/in/bo"]],
         {"URL": T.LINKEDIN_URL}),
        (["URL"], [["https://acme.com"]], {"URL": T.WEBSITE}),
        (["Profile"], [["https://twitter.com/ana"], ["@bo"]], {"Profile": T.X_URL}),
        (["Social"], [["https://facebook.com/ana"]], {"Social": T.OTHER_PROFILE_URL}),
        (["X"], [], {"X": T.X_URL}),
        (["X"], [["12.5"], ["13.0"]], {"X": "x"}),
        (["Title", "Job Title"], [["Mr.", "Director"], ["Ms", "CTO"], ["Dr", "CFO"]],
         {"Title": "salutation", "Job Title": T.TITLE}),
        (["Title"], [["Head of Sales"]], {"Title": T.TITLE}),
        (["Column 3"], [["ana@acme.com"]], {"Column 3": T.EMAIL}),
        (["", "Email"], [["1", "a@x.com"], ["2", "b@x.com"], ["3", "c@x.com"]], {"": T.IGNORE}),
        (["", "Email"], [["VIP", "a@x.com"]], {"": "column 1"}),
        (["Number"], [["+1 415 555 0134"]], {"Number": T.PHONE}),
        (["Number"], [["2020-08-24"]], {"Number": "number"}),
        # Values never overrule a header that names its field.
        (["Email"], [["not an address"]], {"Email": T.EMAIL}),
        (["Notes"], [["ana@acme.com"]], {"Notes": T.NOTES}),
    ],
)  # fmt: skip
def test_sample_values_break_ties(
    headers: list[str], rows: list[list[str]], expected: dict[str, Expected]
) -> None:
    check(suggest(headers, rows), expected)


def test_headers_and_cells_from_spreadsheets_need_not_be_text() -> None:
    headers: list = [None, 2024, "Email"]
    rows: list = [[None, 5, None], ["", 6, "a@example.com"]]
    assert suggest_mapping(headers, rows) == [
        ColumnMapping(T.IGNORE),
        ColumnMapping(T.CUSTOM, "column 2"),
        ColumnMapping(T.EMAIL),
    ]


def test_short_sample_rows_count_as_blank() -> None:
    rows = [["ana@acme.com"], []]
    assert suggest_mapping(["Contact", "Company"], rows)[0] == ColumnMapping(T.EMAIL)


HEADER_POOL = sorted(
    {text for _, _, texts in mapping_module._SYNONYM_ROWS for text in texts}
    | {"Name", "Contact", "URL", "Title", "X", "", "#", "Phone 2", "Email 2", "Home Phone"}
)


@QUICK
@given(
    st.lists(st.one_of(st.sampled_from(HEADER_POOL), st.text(max_size=20)), max_size=30),
    st.lists(st.lists(st.text(max_size=12), max_size=30), max_size=4),
)
def test_suggestions_never_conflict(headers: list[str], rows: list[list[str]]) -> None:
    mapping = suggest_mapping(headers, rows)
    assert len(mapping) == len(headers)
    problems = validate_mapping(mapping)
    assert not [p for p in problems if not p.startswith("Nothing identifies")], problems
    customs = [m.custom_name for m in mapping if m.target is T.CUSTOM]
    assert all(customs)


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------

E, P, C = ColumnMapping(T.EMAIL), ColumnMapping(T.PHONE), ColumnMapping(T.COMPANY)
IGN = ColumnMapping(T.IGNORE)


@pytest.mark.parametrize(
    ("mapping", "problems"),
    [
        ([E, P], []),
        ([IGN, IGN, E, IGN, IGN, IGN, E], ["Email is mapped twice: columns 3 and 7."]),
        ([E, E, C, E], ["Email is mapped 3 times: columns 1, 2 and 4."]),
        ([P, E, P, E], ["Phone is mapped twice: columns 1 and 3.",
                        "Email is mapped twice: columns 2 and 4."]),
        ([IGN, ColumnMapping(T.CUSTOM, "Industry"), ColumnMapping(T.CITY)],
         ["Nothing identifies a lead: map at least one column to a name, company, phone or "
          "email."]),
        ([], ["Nothing identifies a lead: map at least one column to a name, company, phone or "
              "email."]),
        ([E, ColumnMapping(T.CUSTOM)], ["Column 2 is a custom field without a name."]),
        ([E, ColumnMapping(T.CUSTOM, "Lead Score"), ColumnMapping(T.CUSTOM, "lead-score")],
         ['Custom field "lead score" is mapped twice: columns 2 and 3.']),
        ([E, ColumnMapping(T.CUSTOM, "Phone")],
         ['Custom field "phone" (column 2) has the name of the Phone field; map the column to '
          "Phone or rename the custom field."]),
        ([E, ColumnMapping(T.CUSTOM, "Job title")],
         ['Custom field "job title" (column 2) has the name of the Job title field; map the '
          "column to Job title or rename the custom field."]),
        ([ColumnMapping(T.MOBILE)], []),
        ([ColumnMapping(T.LAST_NAME), IGN, IGN], []),
    ],
)  # fmt: skip
def test_validate_mapping(mapping: list[ColumnMapping], problems: list[str]) -> None:
    assert validate_mapping(mapping) == problems


def test_column_mapping_cleans_its_custom_name() -> None:
    assert ColumnMapping(T.CUSTOM, "  Lead-Score ") == ColumnMapping(T.CUSTOM, "lead score")
    assert ColumnMapping(T.CUSTOM, " ").custom_name is None
    assert ColumnMapping(T.EMAIL, "ignored").custom_name is None
    assert ColumnMapping("email") == ColumnMapping(T.EMAIL)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ColumnMapping("fax")  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------


def test_json_round_trip() -> None:
    headers = ["First Name", "Work Phone", "E-mail", "Lead Score", "", "Notes"]
    mapping = suggest_mapping(headers)
    data = mapping_to_json(mapping)
    assert data[3] == {"target": "custom", "custom": "lead score"}
    assert data[0] == {"target": "first_name", "custom": None}
    stored = json.loads(json.dumps(data))  # what a JSON column gives back
    assert mapping_from_json(stored) == mapping
    assert mapping_from_json(json.dumps(data)) == mapping
    assert mapping_from_json(json.dumps(data).encode()) == mapping
    assert all(entry.note is None for entry in mapping_from_json(stored))


def test_unknown_targets_from_older_versions_are_ignored_with_a_note() -> None:
    loaded = mapping_from_json(
        [
            {"target": "email"},
            {"target": "fax", "custom": None},
            {"target": "custom", "custom": "Industry"},
            {"target": "custom"},
            "phone",
            {"target": ["email"]},
        ]
    )
    assert [entry.target for entry in loaded] == [
        T.EMAIL, T.IGNORE, T.CUSTOM, T.IGNORE, T.IGNORE, T.IGNORE,
    ]  # fmt: skip
    assert loaded[2].custom_name == "industry"
    assert loaded[1].note == 'Column 2 was mapped to "fax", which is no longer a field.'
    assert loaded[3].note == "Column 4 was a custom field without a name."
    assert loaded[4].note == "Column 5 had no readable mapping."
    assert loaded[0].note is None
    # Notes explain; they are not part of the mapping.
    assert loaded[1] == ColumnMapping(T.IGNORE)


@pytest.mark.parametrize("data", ['{"target": "email"}', "not json", "null", b"[1"])
def test_a_mapping_that_is_not_a_list_is_refused(data: str | bytes) -> None:
    with pytest.raises(ValueError):
        mapping_from_json(data)
