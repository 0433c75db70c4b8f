"""Importing a messy lead file through the real job path, against a library-bound baseline.

    .venv/bin/python benchmarks/bench_import.py [--rows 100000] [--seed 42] [--keep] [--profile]

It writes a CSV in the style of the customer exports marketers upload (Index,
Customer Id, names, Company, City, Country, two phones in every spelling, Email,
Subscription Date, Website), with about 2% of people listed twice and some
invalid phones and emails, then imports it as the app does:

- fresh SQLite databases with the real migrations, the file stored under
  instance/imports/ as an upload is, the run set up with sniff, preview and
  suggest_mapping as the import page does, and queued with queue_import;
- a real RQ worker in burst mode, in a subprocess, runs the job; the time is the
  run's started_at to finished_at, the memory the worker's peak RSS.

In the same run it times the floor this work cannot go below: csv.reader,
phonenumbers for both phones, email-validator, a dict for duplicates and a bare
executemany into a SQLite table with three unique indexes.

Targets: ratio (import rows/s over baseline rows/s) >= 0.7; --rows 1048576 in
<= 60 s on a 2-core machine; peak RSS <= 300 MB and flat from 100k to 1M rows.
The last line is ``import: rows=… seconds=… rows_per_s=… bound_rows_per_s=…
ratio=… peak_rss_mb=…``, printed only when the import's outcome checks out.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import cProfile
import csv
import os
import pstats
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

# The app reads these when it is created: keep the developer's instance/ folder
# (databases, secret key, embedded Redis, stored uploads) out of the benchmark.
_ROOT = Path(tempfile.mkdtemp(prefix="leadline-bench-import-"))
_INSTANCE = _ROOT / "instance"
_KEEP = False


def _remove_root() -> None:
    if not _KEEP:
        shutil.rmtree(_ROOT, ignore_errors=True)


# Registered before the app starts its embedded Redis, so (last in, first out)
# the server is stopped before its folder is removed.
atexit.register(_remove_root)
os.environ["LEADLINE_INSTANCE_PATH"] = str(_INSTANCE)
os.environ["LEADLINE_ENV"] = "development"

import phonenumbers  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from email_validator import EmailNotValidError, validate_email  # noqa: E402
from flask import Flask  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from rq import Queue, Worker  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Role, User  # noqa: E402
from app.queue import QUEUE_NAMES, redis_connection  # noqa: E402
from app.users import create_user, default_workspace  # noqa: E402
from leads.imports import IMPORT_JOB_TIMEOUT, queue_import, source_path  # noqa: E402
from leads.jobs import run_import_job  # noqa: E402
from leads.mapping import mapping_to_json, suggest_mapping, validate_mapping  # noqa: E402
from leads.models import ImportRowError, ImportRun, ImportStatus, Lead  # noqa: E402
from leads.sources import SourceFormat, preview, sniff  # noqa: E402

DB_NAME, PIPELINE_NAME, BOUND_DB_NAME = "leadline.db", "pipeline.db", "bound.db"
ORIGINAL_NAME = "customers-export.csv"
MARKETER_EMAIL = "marketer@bench.example.com"
SEED = 42

# What the import's chunks hold, so the baseline commits as often as the import.
BOUND_BATCH = 2000
WORKER_POLL_SECONDS = 0.2
PROGRESS_EVERY_SECONDS = 10.0
WORKER_STOP_SECONDS = 10
WRITE_BATCH = 5000

# Row kinds, as shares of all rows.
DUPLICATE_SHARE = 0.02  # the same person again, spelled differently
NEAR_DUPLICATE_SHARE = 0.5  # of those, within a chunk's reach of the first
NEAR_WINDOW = 1500
ERROR_SHARE = 0.001  # nothing that identifies a lead
BROKEN_EVERY = 20_000  # one record with a quote that is never closed
SHORT_SHARE = 0.005  # the last cell missing
PADDED_SHARE = 0.005  # a blank extra cell, as Excel leaves them

# Traits of a person, in percent.
INVALID_PHONE_PERCENT = 3
SECOND_PHONE_PERCENT = 60
INVALID_EMAIL_PERCENT = 2
NO_EMAIL_PERCENT = 1

HEADER = [
    "Index", "Customer Id", "First Name", "Last Name", "Company", "City", "Country",
    "Phone 1", "Phone 2", "Email", "Subscription Date", "Website",
]  # fmt: skip

FIRST_NAMES = (
    "Heather", "Kristina", "Briana", "Patty", "Victor", "Maureen", "Sydney", "Regina",
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
    "Thomas", "Sarah", "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy",
    "Matthew", "Betty", "Anthony", "Sandra", "Mark", "Margaret", "Donald", "Ashley",
    "Steven", "Kimberly", "Andrew", "Emily", "Paul", "Donna", "Joshua", "Michelle",
    "Kenneth", "Carol", "Kevin", "Amanda", "Brian", "Melissa", "Timothy", "Deborah",
    "Ronald", "Stephanie", "George", "Rebecca", "Jason", "Sharon", "Edward", "Laura",
    "José", "María", "Zoë", "François", "Jürgen", "Siobhán", "Nuño", "Chloé",
    "Mary Ann", "Jean-Luc", "Anne Marie", "Li", "Wei", "Priya", "Aarav", "Fatima",
)  # fmt: skip
LAST_NAMES = (
    "Callahan", "Ferrell", "Andersen", "Ponce", "Cochran", "Fuentes", "Shannon", "Lin",
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
    "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
    "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter",
    "Roberts", "Mosley", "Horn", "Shepard", "Watson", "Irwin", "Oneal", "Richardson",
    "Escobar", "Pugh", "Mack", "Bell", "Delacruz", "Freeman", "Grimes", "Madden", "Huff",
    "Müller", "Núñez", "O'Brien", "Søndergaard", "Dubois", "Kowalski", "Rossi", "Tanaka",
)  # fmt: skip
COMPANY_SUFFIXES = ("Group", "Inc", "LLC", "Ltd", "PLC", "and Sons", "& Co", "Partners")
CITY_PREFIXES = ("Lake", "East", "West", "North", "South", "New", "Port", "Fort", "")
CITY_STEMS = (
    "Jeffborough", "Aaronville", "Jordan", "Kristintown", "Michaelmouth", "Sarahside",
    "Brianfurt", "Lisaview", "Davidstad", "Jamesport", "Laurahaven", "Markberg",
    "Springfield", "Riverside", "Fairview", "Georgetown", "Salem", "Madison", "Clinton",
)  # fmt: skip
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "aol.com", "icloud.com")
TLDS = ("com", "net", "org", "info", "biz", "io", "co")
US_COUNTRIES = (
    "United States", "USA", "US", "United States of America", "U.S.A.", "united states",
    "usa", "",
)  # fmt: skip
# Not in the app's country table: the phone is read in the default region, as
# the customers export's random countries are.
UNLISTED_COUNTRIES = (
    "Andorra", "Nepal", "Tonga", "Uzbekistan", "Zimbabwe", "Gambia", "Cook Islands",
    "Niger", "Montenegro", "Sierra Leone", "Mali", "Congo",
)  # fmt: skip
CA_COUNTRIES = ("Canada", "CA", "CAN", "canada")


def _dates(year: int, day: int) -> tuple[str, ...]:
    month, dom = 1 + (day - 1) // 31, 1 + (day - 1) % 28
    return (
        f"{year}-{month:02d}-{dom:02d}",
        f"{month}/{dom}/{year}",
        f"{dom:02d}.{month:02d}.{year}",
        f"{year}/{month:02d}/{dom:02d}",
    )


DATES = tuple(s for day in range(1, 366, 3) for year in (2021, 2024) for s in _dates(year, day))

# Foreign people write their numbers internationally. Each prefix starts valid
# mobile numbers whatever digits follow, so the person's index fills the rest.
FOREIGN = (
    # (countries, first number, second number); a number is (country code, the
    # national number's first digits, its length)
    (("United Kingdom", "UK", "England", "Great Britain"), ("44", "71", 10), ("44", "74", 10)),
    (("Germany", "Deutschland", "DEU"), ("49", "151", 11), ("49", "152", 11)),
    (("France", "FR"), ("33", "61", 9), ("33", "62", 9)),
    (("Australia", "AUS"), ("61", "41", 9), ("61", "42", 9)),
)
FOREIGN_STYLES = ("+{cc} {national}", "00{cc} {national}", "+{cc}{national}", "011 {cc} {national}")
US_STYLES = (
    "{a}-{e}-{l}", "{a}.{e}.{l}", "({a}){e}-{l}", "{a}{e}{l}", "001-{a}-{e}-{l}",
    "+1-{a}-{e}-{l}", "({a}) {e}-{l}", "1 {a} {e} {l}",
)  # fmt: skip
EXTENSIONS = ("x1234", "x3651", "x770", "x29384", "x022", " ext. 12", "x5", " x 204")
INVALID_PHONES = (
    "0{e}-{a}-{l}",  # no area code starts with 0
    "{e}-{l}",  # the area code left out
    "1.55512E+10",  # what Excel shows for a long number: the digits are gone
    "call after 5pm",
    "{a}-{e}-{l}{l}",  # too long
    "555-01",
)  # fmt: skip
INVALID_EMAILS = ("{local} at {domain}", "{local}@", "{local}@gmail", "{local}@@{domain}",
                  "{local}@{domain}..", "{local}.@{domain}")  # fmt: skip
MASK64 = (1 << 64) - 1
# A prime that divides no count of exchanges times 10,000: multiplying by it
# permutes the people's numbers.
NUMBER_SHUFFLE = 1_000_003


# --------------------------------------------------------------------------
# The messy file
# --------------------------------------------------------------------------


@dataclass
class Planted:
    """What the generator put in the file, to check the import's counts against."""

    rows: int = 0
    people: int = 0
    duplicates: int = 0
    error_rows: int = 0
    broken_rows: int = 0


@dataclass(frozen=True)
class Pools:
    """Everything a row is picked from, computed once so a row costs a few look-ups."""

    first: tuple[str, ...]
    first_ascii: tuple[str, ...]
    last: tuple[str, ...]
    last_ascii: tuple[str, ...]
    companies: tuple[str, ...]
    cities: tuple[str, ...]
    domains: tuple[str, ...]
    websites: tuple[str, ...]
    us_areas: tuple[str, ...]
    ca_areas: tuple[str, ...]
    first_exchanges: tuple[str, ...]
    second_exchanges: tuple[str, ...]


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _nanp_region(area: int, exchanges: list[str]) -> str | None:
    """The region of an area code whose numbers are valid on every one of ``exchanges``."""
    regions = set()
    for exchange in exchanges:
        number = phonenumbers.parse(f"+1{area}{exchange}4567")
        if not phonenumbers.is_valid_number(number):
            return None
        regions.add(phonenumbers.region_code_for_number(number))
    return regions.pop() if len(regions) == 1 else None


def build_pools(seed: int) -> Pools:
    rng = random.Random(seed)
    last_ascii = [_ascii(name) for name in LAST_NAMES]
    companies = []
    for _ in range(4000):
        a, b, c = (rng.choice(LAST_NAMES) for _ in range(3))
        companies.append(
            rng.choice((f"{a}-{b}", f"{a} {rng.choice(COMPANY_SUFFIXES)}",
                        f"{a}, {b} and {c}", f"{a} and {b}", a))
        )  # fmt: skip
    cities = [f"{rng.choice(CITY_PREFIXES)} {rng.choice(CITY_STEMS)}".strip() for _ in range(500)]
    domains = []
    for _ in range(1500):
        a, b = rng.choice(last_ascii), rng.choice(last_ascii)
        domains.append(rng.choice((f"{a}-{b}.{rng.choice(TLDS)}", f"{a}.{rng.choice(TLDS)}")))
    websites = [
        rng.choice((f"http://www.{d}/", f"https://{d}/", f"https://www.{d}/", f"www.{d}"))
        for d in domains
    ]
    domains += FREE_MAIL * 100  # over a quarter of the addresses at the usual mail services
    # Area codes and exchanges that phonenumbers accepts, found by asking it once:
    # N11 service codes and 555 are left out, as real lists rarely hold them. Area
    # codes not yet in service are valid on a few exchanges only; a sample of
    # exchanges keeps those out.
    exchanges = [str(e) for e in range(200, 1000) if e % 100 != 11 and e != 555]
    rng.shuffle(exchanges)
    probes = exchanges[::40]
    us, ca = [], []
    for area in range(201, 990):
        region = None if area % 100 == 11 else _nanp_region(area, probes)
        if region in ("US", "CA"):
            (us if region == "US" else ca).append(str(area))
    half = len(exchanges) // 2
    return Pools(
        first=FIRST_NAMES, first_ascii=tuple(_ascii(n) for n in FIRST_NAMES),
        last=LAST_NAMES, last_ascii=tuple(last_ascii), companies=tuple(companies),
        cities=tuple(cities), domains=tuple(domains), websites=tuple(websites),
        us_areas=tuple(us), ca_areas=tuple(ca),
        first_exchanges=tuple(exchanges[:half]), second_exchanges=tuple(exchanges[half:]),
    )  # fmt: skip


def _mix(value: int) -> int:
    """A well-spread 64-bit hash of ``value``: a person's traits, without storing them."""
    value = (value * 0x9E3779B97F4A7C15) & MASK64
    value ^= value >> 29
    value = (value * 0xBF58476D1CE4E5B9) & MASK64
    return value ^ (value >> 32)


class People:
    """Person ``p`` of the file: the same every time it is asked for, so duplicates cost nothing.

    Phones and email addresses are unique per person by construction (the
    person's index is spelled into them), so the only duplicates in the file
    are the ones planted on purpose.
    """

    def __init__(self, pools: Pools, seed: int) -> None:
        self.pools = pools
        self.salt = _mix(seed + 1)

    def traits(self, person: int) -> int:
        return _mix(person ^ self.salt)

    def has_valid_email(self, person: int) -> bool:
        return (self.traits(person) >> 56) % 100 >= INVALID_EMAIL_PERCENT + NO_EMAIL_PERCENT

    def row(self, person: int, index: int, style: int) -> list[str]:
        """The cells of one row for ``person``; ``style`` varies the spelling only."""
        pools, x = self.pools, self.traits(person)
        first_index, last_index = x % len(pools.first), (x >> 8) % len(pools.last)
        first, last = pools.first[first_index], pools.last[last_index]
        if style % 31 == 0:
            first, last = first.upper(), last.upper()
        elif style % 37 == 0:
            first, last = f" {first} ", f"{last}  "
        elif style % 41 == 0:
            # Decomposed accents and a no-break space, as pasted from a web page.
            first = unicodedata.normalize("NFD", first).replace(" ", "\u00a0")
        country_kind = (x >> 40) % 100
        phone_1, phone_2, country = self._phones(person, x, country_kind, style)
        return [
            str(index),
            self._customer_id(person, x),
            first,
            last,
            pools.companies[(x >> 16) % len(pools.companies)] if style % 23 else "N/A",
            pools.cities[(x >> 24) % len(pools.cities)],
            country,
            phone_1,
            phone_2,
            self._email(person, x, first_index, last_index, style),
            DATES[(x >> 33) % len(DATES)],
            pools.websites[(x >> 20) % len(pools.websites)],
        ]

    @staticmethod
    def _customer_id(person: int, x: int) -> str:
        # An odd multiplier is a bijection modulo 2**60: one id per person.
        text = format((person * 0x5DEECE66D + 0xB) & ((1 << 60) - 1), "015x")
        return text.upper() if x & 1 else text[:7].upper() + text[7:]

    def _phones(self, person: int, x: int, kind: int, style: int) -> tuple[str, str, str]:
        if kind >= 86:
            countries, first, second = FOREIGN[(x >> 12) % len(FOREIGN)]
            country = countries[style % len(countries)]
            phone_1 = _foreign(first, person, style)
            phone_2 = _foreign(second, person, style + 1)
        else:
            if kind >= 78:
                country, areas = CA_COUNTRIES[style % len(CA_COUNTRIES)], self.pools.ca_areas
            elif kind >= 70:
                country = UNLISTED_COUNTRIES[(x >> 4) % len(UNLISTED_COUNTRIES)]
                areas = self.pools.us_areas
            else:
                country, areas = US_COUNTRIES[style % len(US_COUNTRIES)], self.pools.us_areas
            phone_1 = self._nanp(person, areas, self.pools.first_exchanges, x, style)
            phone_2 = self._nanp(person, areas, self.pools.second_exchanges, x >> 3, style + 3)
        # North American only: "0245-302-0001" would be a valid number in Coventry.
        if kind < 86 and (x >> 48) % 100 < INVALID_PHONE_PERCENT:
            phone_1 = _invalid_phone(person, x)
        if (x >> 52) % 100 >= SECOND_PHONE_PERCENT:
            phone_2 = ""
        return phone_1, phone_2, country

    @staticmethod
    def _nanp(person: int, areas: tuple[str, ...], exchanges: tuple[str, ...], x: int,
              style: int) -> str:  # fmt: skip
        # The exchange and line spell the person's index (shuffled by a bijection, so
        # neighbours do not look alike): no two people share a number, up to
        # len(exchanges) * 10,000 people. The area code only adds variety.
        q, line = divmod(person * NUMBER_SHUFFLE % (len(exchanges) * 10_000), 10_000)
        exchange = exchanges[q]
        area = areas[(x >> 10) % len(areas)]
        text = US_STYLES[style % len(US_STYLES)].format(a=area, e=exchange, l=f"{line:04d}")
        if (x >> 5) % 10 < 3:
            text += EXTENSIONS[(x >> 9) % len(EXTENSIONS)]
        return text

    def _email(self, person: int, x: int, first_index: int, last_index: int, style: int) -> str:
        kind = (x >> 56) % 100
        if kind < NO_EMAIL_PERCENT:
            return "N/A" if style & 1 else ""
        first, last = self.pools.first_ascii[first_index], self.pools.last_ascii[last_index]
        tag = format(person, "x")  # keeps every address unique
        local = (f"{first}.{last}{tag}", f"{first[:1]}{last}{tag}", f"{last}{first[:1]}{tag}",
                 f"{first}{tag}")[(x >> 28) % 4]  # fmt: skip
        domain = self.pools.domains[(x >> 36) % len(self.pools.domains)]
        if kind < NO_EMAIL_PERCENT + INVALID_EMAIL_PERCENT:
            return INVALID_EMAILS[(x >> 2) % len(INVALID_EMAILS)].format(local=local, domain=domain)
        address = f"{local}@{domain}"
        variant = style % 50
        if variant == 0:
            return f"<{address}>"
        if variant == 1:
            return f"mailto:{address}"
        if variant in (2, 3):
            return f" {address} "
        if variant < 10:
            return address.capitalize() if variant & 1 else address.upper()
        return address


def _foreign(number: tuple[str, str, int], person: int, style: int) -> str:
    code, start, length = number
    digits = f"{start}{person:0{length - len(start)}d}"
    national = f"{digits[:-6]} {digits[-6:-3]} {digits[-3:]}" if style & 1 else digits
    return FOREIGN_STYLES[style % len(FOREIGN_STYLES)].format(cc=code, national=national)


def _invalid_phone(person: int, x: int) -> str:
    template = INVALID_PHONES[(x >> 44) % len(INVALID_PHONES)]
    line = f"{person % 10_000:04d}"
    return template.format(a="302", e=f"{(person // 10_000) % 800 + 200}", l=line)


def generate_csv(path: Path, rows: int, seed: int) -> Planted:
    """Write ``rows`` data rows after the header; returns what was planted in them."""
    pools = build_pools(seed)
    people = People(pools, seed)
    rng = random.Random(seed)
    planted = Planted(rows=rows)
    # UTF-8 with a byte-order mark and CRLF line ends: what Excel's "CSV UTF-8" writes.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        batch: list[list[str]] = []
        for index in range(1, rows + 1):
            roll = rng.random()
            style = rng.getrandbits(16)
            if index % BROKEN_EVERY == BROKEN_EVERY // 2:
                writer.writerows(batch)
                batch.clear()
                handle.write(_broken_line(people, index, style))
                planted.broken_rows += 1
                continue
            if roll < ERROR_SHARE:
                cells = people.row(10**9 + index, index, style)
                cells[2:5] = ["", "N/A", ""]
                cells[7:10] = ["", "", "--"]
                planted.error_rows += 1
            elif roll < ERROR_SHARE + DUPLICATE_SHARE and (
                (earlier := _earlier(people, planted, roll, rng)) is not None
            ):
                cells = people.row(earlier, index, style + 1)
                # Another system's export of the same person: its own customer id.
                cells[1] = People._customer_id(10**9 + index, style)
                planted.duplicates += 1
            else:
                cells = people.row(planted.people, index, style)
                planted.people += 1
            if roll > 1 - SHORT_SHARE:
                cells.pop()
            elif roll > 1 - SHORT_SHARE - PADDED_SHARE:
                cells.append("")
            batch.append(cells)
            if len(batch) == WRITE_BATCH:
                writer.writerows(batch)
                batch.clear()
        writer.writerows(batch)
    return planted


def _earlier(people: People, planted: Planted, roll: float, rng: random.Random) -> int | None:
    """An earlier person with a valid email (so the repeat is certain to be caught), if any."""
    if planted.people < 2:
        return None
    if roll < ERROR_SHARE + DUPLICATE_SHARE * NEAR_DUPLICATE_SHARE:
        person = planted.people - 1 - rng.randrange(min(NEAR_WINDOW, planted.people))
    else:
        person = rng.randrange(planted.people)
    while person >= 0 and not people.has_valid_email(person):
        person -= 1
    return person if person >= 0 else None


def _broken_line(people: People, index: int, style: int) -> str:
    # A quote opens the first name and is never closed: the reader refuses the
    # line and goes on with the next one. The other cells lose their quotes and
    # commas, so that one quote is the only fault in the line.
    cells = people.row(10**9 + index, index, style)
    cells = [cell.replace('"', "").replace(",", " ") for cell in cells]
    cells[2] = f'"{cells[2]}'
    return ",".join(cells) + "\r\n"


# --------------------------------------------------------------------------
# The app, the run and the worker
# --------------------------------------------------------------------------


def database_urls(folder: Path) -> dict[str, Any]:
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / DB_NAME}",
        "SQLALCHEMY_BINDS": {"pipeline": f"sqlite:///{folder / PIPELINE_NAME}"},
    }


def prepare_app() -> Flask:
    app = create_app(database_urls(_ROOT))
    with app.app_context():
        upgrade()
        create_user(default_workspace(), email=MARKETER_EMAIL, name="Bench Marketer",
                    roles={Role.MARKETER})  # fmt: skip
        db.session.commit()
    return app


def create_run(app: Flask, csv_path: Path) -> int:
    """Store the file and set the run up as the upload and mapping pages do; queue it."""
    with app.app_context():
        workspace = default_workspace()
        marketer = db.session.scalar(sa.select(User.id).where(User.email == MARKETER_EMAIL))
        folder = Path(app.instance_path) / "imports"
        folder.mkdir(parents=True, exist_ok=True)
        stored_name = f"{uuid.uuid4().hex}.csv"
        shutil.copyfile(csv_path, folder / stored_name)  # what upload.save() does
        sniffed = sniff(folder / stored_name, ORIGINAL_NAME)
        # The upload page stores the sniffed format field by field, as asdict() does.
        run = ImportRun(
            workspace_id=workspace.id, created_by_id=marketer, original_name=ORIGINAL_NAME,
            stored_name=stored_name, file_size=(folder / stored_name).stat().st_size,
            source_format=asdict(sniffed.format), default_region=workspace.default_region,
        )  # fmt: skip
        db.session.add(run)
        db.session.commit()
        # The setup page posted with the suggested mapping and every option left as
        # it was offered: skip duplicates, suppress listed contacts, no list.
        fmt = SourceFormat(**run.source_format)
        sample = preview(source_path(run), fmt)
        mapping = suggest_mapping(sample.headers, sample.rows)
        if problems := validate_mapping(mapping):
            raise SystemExit(f"the suggested mapping is refused: {problems}")
        run.source_format = asdict(fmt)
        run.mapping = mapping_to_json(mapping)
        run.total_estimate = sample.total_estimate
        run.source = run.original_name[:120]
        queue_import(run)
        db.session.commit()
        print("mapping: " + ", ".join(f"{h}→{m.target.value}" for h, m in
                                      zip(sample.headers, mapping, strict=True)))  # fmt: skip
        return run.id


def refuse_foreign_workers(app: Flask) -> None:
    """Stop when another worker listens on this Redis: it would run our job on its databases."""
    with app.app_context():
        workers = Worker.all(connection=redis_connection())
    if workers:
        names = ", ".join(w.name for w in workers)
        raise SystemExit(
            f"workers already listen on {app.config['REDIS_URL']} ({names}); one of them could "
            "take the benchmark's job and run it against its own databases. Stop them, or "
            "unset REDIS_URL to use a private Redis."
        )


def drop_queued_job(app: Flask, run_id: int) -> None:
    """Take the run's job off the queue, for a run that is worked in this process instead."""
    with app.app_context():
        queue = Queue("default", connection=redis_connection())
        for job_id in queue.job_ids:
            if job_id.startswith(f"import-{run_id}-"):
                job = queue.fetch_job(job_id)
                if job is not None:
                    job.delete()


@dataclass
class WorkerResult:
    wall_seconds: float
    peak_rss_bytes: int
    horse_peak_rss_bytes: int


@contextlib.contextmanager
def signals_raise_exit() -> Iterator[None]:
    """While the worker runs, SIGTERM and SIGHUP raise SystemExit, so it is stopped too."""

    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = {}
    for number in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(number) is not signal.SIG_IGN:
            previous[number] = signal.signal(number, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def run_worker(app: Flask, run_id: int, rows: int) -> WorkerResult:
    """Run ``flask rq worker --burst`` on the bench's databases and Redis until it exits.

    Peak RSS comes from wait4() on the worker: Linux reports the largest of the
    worker's own peak and those of the children it reaped, and RQ reaps its
    work-horse (the fork that runs the job), so this covers the process the
    import actually ran in. The work-horse's own VmHWM is also polled from /proc
    as a cross-check.
    """
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "LEADLINE_INSTANCE_PATH": str(_INSTANCE),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PIPELINE_DATABASE_URL": app.config["SQLALCHEMY_BINDS"]["pipeline"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SECRET_KEY": app.config["SECRET_KEY"],
    }
    log_path = _ROOT / "worker.log"
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "rq", "worker", "--burst",
               *QUEUE_NAMES]  # fmt: skip
    # The job's own time limit: past it RQ would have killed the import anyway.
    deadline_seconds = IMPORT_JOB_TIMEOUT + 60
    horse_peak = 0
    began = time.perf_counter()
    with signals_raise_exit(), open(log_path, "wb") as log:
        # A process group of its own, so the terminal's Ctrl-C reaches only the bench,
        # which then stops the worker and its work-horse.
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, process_group=0,
        )  # fmt: skip
        try:
            next_progress = began + PROGRESS_EVERY_SECONDS
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    process.returncode = os.waitstatus_to_exitcode(status)
                    break
                horse_peak = max(horse_peak, _children_peak_rss(process.pid))
                now = time.perf_counter()
                if now > began + deadline_seconds:
                    raise SystemExit(f"the worker ran over {deadline_seconds:.0f}s; see {log_path}")
                if now >= next_progress:
                    print(f"imported {_progress(run_id)}/{rows} rows", flush=True)
                    next_progress += PROGRESS_EVERY_SECONDS
                time.sleep(WORKER_POLL_SECONDS)
        finally:
            if process.returncode is None:
                _stop_group(process)
    wall = time.perf_counter() - began
    if process.returncode != 0:
        raise SystemExit(f"the worker exited with {process.returncode}:\n{_tail(log_path)}")
    return WorkerResult(wall, usage.ru_maxrss * 1024, horse_peak)


def _children_peak_rss(pid: int) -> int:
    """The highest VmHWM among ``pid``'s children (the work-horse while a job runs)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0
    peak = 0
    for child in children:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
    return peak


def _progress(run_id: int) -> int:
    # A read-only connection of its own: the app's sessions begin transactions as
    # writers, and one held here would stall the worker's commits.
    uri = f"file:{_ROOT / DB_NAME}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=1)) as connection:
        try:
            row = connection.execute(
                "SELECT processed FROM import_runs WHERE id = ?", (run_id,)
            ).fetchone()
        except sqlite3.Error:
            return 0
    return row[0] if row else 0


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    # SIGTERM first: RQ then stops the work-horse; SIGKILL for a worker that does not stop.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(WORKER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


# --------------------------------------------------------------------------
# The outcome, checked
# --------------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float
    created: int
    updated: int
    skipped: int
    suppressed: int
    errors: int


def check_outcome(app: Flask, run_id: int, planted: Planted) -> Outcome:
    """The run's counts, refused unless they add up and the leads table agrees."""
    with app.app_context():
        run = db.session.get(ImportRun, run_id)
        problems = []
        if run.status != ImportStatus.SUCCEEDED:
            problems.append(f"status is {run.status} ({run.last_error})")
        outcome = Outcome(
            (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0,
            run.created, run.updated, run.skipped, run.suppressed, run.errors,
        )  # fmt: skip
        rows = planted.rows
        if run.processed != rows:
            problems.append(f"processed {run.processed} of {rows} rows")
        if run.created + run.skipped + run.errors != rows:
            problems.append(f"created + skipped + errors = "
                            f"{run.created + run.skipped + run.errors}, not {rows}")  # fmt: skip
        expected_errors = planted.error_rows + planted.broken_rows
        if run.errors != expected_errors:
            problems.append(f"{run.errors} errors, but {expected_errors} bad rows were planted")
        if run.skipped < planted.duplicates:
            problems.append(f"{run.skipped} skipped, but {planted.duplicates} repeats were planted")
        leads = db.session.scalar(sa.select(sa.func.count(Lead.id)))
        if leads != run.created:
            problems.append(f"{leads} leads in the table, {run.created} created")
        pending = db.session.scalar(
            sa.select(sa.func.count(Lead.id)).where(Lead.pending_import_id.is_not(None))
        )
        if pending:
            problems.append(f"{pending} leads still hidden as pending")
        logged = db.session.scalar(sa.select(sa.func.count(ImportRowError.id)))
        if logged != run.errors:
            problems.append(f"{logged} error rows recorded for {run.errors} errors")
        for column in (Lead.phone_e164, Lead.email_key):
            repeated = db.session.scalar(
                sa.select(sa.func.count()).select_from(
                    sa.select(column).where(column.is_not(None)).group_by(Lead.workspace_id, column)
                    .having(sa.func.count() > 1).subquery()
                )
            )  # fmt: skip
            if repeated:
                problems.append(f"{repeated} values of {column.key} on more than one lead")
        diallable = db.session.scalar(sa.select(sa.func.count(Lead.id)).where(Lead.diallable))
        valid_email = db.session.scalar(sa.select(sa.func.count(Lead.id)).where(Lead.email_valid))
    print(
        f"outcome: created={outcome.created} updated={outcome.updated} "
        f"skipped={outcome.skipped} suppressed={outcome.suppressed} errors={outcome.errors} "
        f"diallable={diallable} valid_email={valid_email} (planted: people={planted.people} "
        f"repeats={planted.duplicates} bad_rows={expected_errors})",
        flush=True,
    )
    if problems:
        raise SystemExit("the import's outcome does not check out: " + "; ".join(problems))
    return outcome


# --------------------------------------------------------------------------
# The baseline: the libraries alone
# --------------------------------------------------------------------------


@dataclass
class Bound:
    seconds: float
    created: int
    skipped: int


BOUND_SCHEMA = """
CREATE TABLE leads (
    id INTEGER PRIMARY KEY, external_id TEXT, first_name TEXT, last_name TEXT, company TEXT,
    city TEXT, country TEXT, phone_raw TEXT, phone_e164 TEXT, phone_extension TEXT,
    other_phone_raw TEXT, other_phone_e164 TEXT, email_raw TEXT, email TEXT, email_key TEXT,
    subscribed TEXT, website TEXT
);
CREATE UNIQUE INDEX leads_phone ON leads (phone_e164);
CREATE UNIQUE INDEX leads_email ON leads (email_key);
CREATE UNIQUE INDEX leads_external_id ON leads (external_id);
"""
BOUND_INSERT = f"INSERT INTO leads VALUES (NULL{', ?' * 16})"


def _bound_phone(text: str) -> tuple[str | None, str | None]:
    if not (text := text.strip()):
        return None, None
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return None, None
    if not phonenumbers.is_valid_number(number):
        return None, None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), (
        number.extension
    )


def _bound_email(text: str) -> str | None:
    if not (text := text.strip()):
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def bound_import(csv_path: Path, db_path: Path) -> Bound:
    """The same file through the libraries only: what no import of it can beat by much."""
    began = time.perf_counter()
    connection = sqlite3.connect(db_path, isolation_level=None)
    # The app's own settings for its SQLite files, so commits cost the same on both sides.
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(BOUND_SCHEMA)
    seen: dict[tuple[str, str], bool] = {}
    created = skipped = 0
    batch: list[tuple] = []
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        next(reader)
        for cells in reader:
            if len(cells) < len(HEADER):
                cells += [""] * (len(HEADER) - len(cells))
            (_, external_id, first, last, company, city, country, phone_1, phone_2, email_raw,
             subscribed, website) = cells[: len(HEADER)]  # fmt: skip
            e164_1, extension = _bound_phone(phone_1)
            e164_2, _ = _bound_phone(phone_2)
            email = _bound_email(email_raw)
            keys = []
            if primary := e164_1 or e164_2:
                keys.append(("phone", primary))
            if email:
                keys.append(("email", email.lower()))
            if any(key in seen for key in keys):
                skipped += 1
                continue
            for key in keys:
                seen[key] = True
            batch.append((
                external_id or None, first, last, company, city, country, phone_1, primary,
                extension, phone_2, e164_2, email_raw, email, email.lower() if email else None,
                subscribed, website,
            ))  # fmt: skip
            if len(batch) == BOUND_BATCH:
                created += _bound_write(connection, batch)
        created += _bound_write(connection, batch)
    connection.close()
    return Bound(time.perf_counter() - began, created, skipped)


def _bound_write(connection: sqlite3.Connection, batch: list[tuple]) -> int:
    if not batch:
        return 0
    connection.execute("BEGIN")
    connection.executemany(BOUND_INSERT, batch)
    connection.execute("COMMIT")
    done = len(batch)
    batch.clear()
    return done


# --------------------------------------------------------------------------
# Profile: where an import's time goes
# --------------------------------------------------------------------------


def profile_import(app: Flask, run_id: int) -> float:
    """Run the job in this process under cProfile; print the costliest functions as shares."""
    profile = cProfile.Profile()
    with app.app_context():
        began = time.perf_counter()
        profile.enable()
        run_import_job(run_id)
        profile.disable()
        elapsed = time.perf_counter() - began
    _print_profile(profile)
    return elapsed


def _print_profile(profile: cProfile.Profile, top: int = 30) -> None:
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in stats.values())
    by_package: dict[str, float] = {}
    for (filename, _line, _function), entry in stats.items():
        package = _package(filename)
        by_package[package] = by_package.get(package, 0.0) + entry[2]
    print("import time by package (own time, share):")
    for package, spent in sorted(by_package.items(), key=lambda item: -item[1])[:12]:
        print(f"  {spent / total:6.1%}  {package}")
    # Cumulative time says which call of ours is worth changing; own time says
    # where the CPU actually goes.
    ranked = sorted(stats.items(), key=lambda item: -item[1][3])
    print("import time by function (cumulative, share of the run):")
    for key, entry in ranked[:top]:
        print(f"  {entry[3] / total:6.1%}  {entry[1]:>9} calls  {_label(key)}")
    ranked = sorted(stats.items(), key=lambda item: -item[1][2])
    print("import time by function (own time, share):")
    for key, entry in ranked[:top]:
        print(f"  {entry[2] / total:6.1%}  {entry[1]:>9} calls  {_label(key)}")


def _label(key: tuple[str, int, str]) -> str:
    filename, line, function = key
    return f"{_package(filename)}:{Path(filename).name}:{line}:{function}"


def _package(filename: str) -> str:
    if filename.startswith(("~", "<")):
        return "builtins"
    path = Path(filename)
    if "site-packages" in path.parts:
        return path.parts[path.parts.index("site-packages") + 1]
    if PROJECT_ROOT in path.parents:
        return str(path.relative_to(PROJECT_ROOT).parts[0])
    return "stdlib"


# --------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the import in this process under cProfile instead of a worker",
    )
    args = parser.parse_args()
    if not 1 <= args.rows <= 1_048_576:
        parser.error("--rows must be between 1 and 1,048,576 (what an import accepts)")
    return args


def main() -> None:
    global _KEEP
    args = parse_args()
    _KEEP = args.keep
    if args.keep:
        print(f"temporary folder kept in {_ROOT}")
    csv_path = _ROOT / f"leads-{args.rows}.csv"
    began = time.perf_counter()
    planted = generate_csv(csv_path, args.rows, args.seed)
    print(
        f"generated {args.rows} rows ({csv_path.stat().st_size / 2**20:.0f} MiB) in "
        f"{time.perf_counter() - began:.1f}s",
        flush=True,
    )
    app = prepare_app()
    # Before anything is queued: a worker of someone else's would take the job at once.
    refuse_foreign_workers(app)
    run_id = create_run(app, csv_path)
    # Each timed part starts with the previous part's writes on disk, so the
    # kernel's write-back does not land in the next part's time.
    os.sync()
    if args.profile:
        drop_queued_job(app, run_id)
        profiled = profile_import(app, run_id)
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(f"profiled: seconds={profiled:.1f} (with the profiler's overhead)")
    else:
        worker = run_worker(app, run_id, args.rows)
        peak_rss = worker.peak_rss_bytes
        print(
            f"worker: wall_seconds={worker.wall_seconds:.1f} "
            f"horse_vmhwm_mb={worker.horse_peak_rss_bytes / 2**20:.0f} (polled)",
            flush=True,
        )
    outcome = check_outcome(app, run_id, planted)
    os.sync()
    bound = bound_import(csv_path, _ROOT / BOUND_DB_NAME)
    bound_rate = args.rows / bound.seconds
    print(
        f"bound: seconds={bound.seconds:.1f} created={bound.created} skipped={bound.skipped}",
        flush=True,
    )
    rate = args.rows / outcome.seconds
    print(
        f"import: rows={args.rows} seconds={outcome.seconds:.1f} rows_per_s={rate:.0f} "
        f"bound_rows_per_s={bound_rate:.0f} ratio={rate / bound_rate:.2f} "
        f"peak_rss_mb={peak_rss / 2**20:.0f}"
    )


if __name__ == "__main__":
    main()
