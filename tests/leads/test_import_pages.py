"""Importing through the pages, with a real RQ worker: upload, map, progress, errors, undo."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role
from leads.models import ImportRun, ImportStatus, Lead, MappingTemplate

ROOT = Path(__file__).resolve().parents[2]
CSV_TEXT = (
    "First Name,Last Name,Company,Phone,Email,Industry\r\n"
    "Ana,Pérez,Acme,(415) 555-0134 x12,Ana@Example.com,Logistics\r\n"
    "Bo,Li,Initech,001-212-555-0199,bo@example.com,\r\n"
    ",,,,,only a custom value\r\n"
    "<img src=x onerror=alert(1)>,hx-get,Evil,212-555-0100,evil@example.com,\r\n"
)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64


def run_worker(env) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "rq", "worker", "--burst"],
                   cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)  # fmt: skip


@pytest.fixture
def marketer_client(client, make_user, login):
    login(make_user(Role.MARKETER, name="Mia Marketer"))
    return client


def upload(client, content: bytes, name: str = "list.csv"):
    return client.post("/imports/new", data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")  # fmt: skip


def setup_form(page: str) -> dict[str, str]:
    """The setup form as the browser would post it, with the suggested choices."""
    form = {}
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', options)
        first = re.search(r'<option value="([^"]*)"', options)
        form[name] = (chosen or first).group(1)
    for name, value in re.findall(r'<input type="text"[^>]*name="([^"]+)" value="([^"]*)"', page):
        form[name] = value
    return form


def test_import_from_upload_to_undo(app, marketer_client, service_env):
    client = marketer_client
    response = upload(client, CSV_TEXT.encode("utf-8"))
    assert response.status_code == 302
    setup_url = response.headers["Location"]
    page = client.get(setup_url).get_data(as_text=True)
    # The preview shows the file as it will be read, markup as text.
    assert "Pérez" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page
    form = setup_form(page)
    assert [form[f"target_{i}"] for i in range(5)] == [
        "first_name", "last_name", "company", "phone", "email",
    ]  # fmt: skip
    form.update(duplicate_policy="skip", suppression_policy="suppress",
                new_list="Webinar", save_template="Webinar export")  # fmt: skip
    started = client.post(setup_url, data=form)
    assert started.status_code == 302
    status_url = started.headers["Location"]
    assert "Waiting for a worker" in client.get(status_url).get_data(as_text=True)

    run_worker(service_env)
    db.session.expire_all()
    run = db.session.scalar(sa.select(ImportRun))
    assert (run.status, run.created, run.errors) == (ImportStatus.SUCCEEDED, 3, 1)
    fragment = client.get(status_url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Import finished." in fragment and "hx-trigger" not in fragment  # polling stops
    assert db.session.scalar(sa.select(MappingTemplate.name)) == "Webinar export"

    errors = client.get(f"/imports/{run.id}/errors.csv")
    rows = list(csv.reader(io.StringIO(errors.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Line", "Reason", "Original row"]
    assert rows[1][:2] == ["4", "No name, company, phone or email in this row."]

    leads_page = client.get("/leads").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in leads_page

    client.post(f"/imports/{run.id}/undo")
    run_worker(service_env)
    db.session.expire_all()
    assert db.session.get(ImportRun, run.id).status == ImportStatus.UNDONE
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 0
    assert "Import undone." in client.get(status_url).get_data(as_text=True)
    history = client.get("/imports").get_data(as_text=True)
    assert "list.csv" in history and "Undone" in history


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.csv", "empty"),
        (PNG, "picture.csv", "image"),
        (b"a,b\n1,2\n", "list.pdf", "Leadline reads .csv and .xlsx files"),
    ],
)
def test_bad_uploads_are_refused_with_a_reason(marketer_client, content, name, message):
    response = upload(marketer_client, content, name)
    assert response.status_code == 422
    assert message.lower() in response.get_data(as_text=True).lower()
    assert db.session.scalar(sa.select(sa.func.count(ImportRun.id))) == 0


def test_an_oversized_upload_gets_a_clear_413(app, make_app, make_user, login):
    small = make_app(MAX_CONTENT_LENGTH=1024)
    client = small.test_client()
    login(make_user(Role.MARKETER), on=client)
    response = upload(client, b"a,b\n" + b"1,2\n" * 1000)
    assert response.status_code == 413
    assert "larger than Leadline accepts" in response.get_data(as_text=True)


def test_mapping_problems_keep_the_page(marketer_client):
    setup_url = upload(marketer_client, CSV_TEXT.encode()).headers["Location"]
    form = setup_form(marketer_client.get(setup_url).get_data(as_text=True))
    form.update(target_3="email")  # phone column mapped to email as well
    response = marketer_client.post(setup_url, data=form)
    assert response.status_code == 422
    assert "mapped twice" in response.get_data(as_text=True)


def test_changing_the_separator_updates_the_preview(marketer_client):
    setup_url = upload(marketer_client, CSV_TEXT.encode()).headers["Location"]
    fragment = marketer_client.get(
        setup_url, query_string={"delimiter": ";"}, headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "<html" not in fragment
    assert "First Name,Last Name" in fragment  # one column now: the whole line


def test_an_exported_file_reimports_to_the_same_leads(app, marketer_client, service_env):
    client = marketer_client
    setup_url = upload(client, CSV_TEXT.encode()).headers["Location"]
    client.post(setup_url, data=setup_form(client.get(setup_url).get_data(as_text=True)))
    run_worker(service_env)
    exported = client.get("/leads/export.csv").get_data()
    assert exported.startswith("\ufeff".encode())

    setup_url = upload(client, exported, "export.csv").headers["Location"]
    form = setup_form(client.get(setup_url).get_data(as_text=True))
    form.update(duplicate_policy="fill")
    client.post(setup_url, data=form)
    run_worker(service_env)
    db.session.expire_all()
    second = db.session.scalars(sa.select(ImportRun).order_by(ImportRun.id.desc())).first()
    assert second.status == ImportStatus.SUCCEEDED
    assert (second.created, second.errors) == (0, 0)
    assert second.updated + second.skipped == 3
    assert db.session.scalar(sa.select(sa.func.count(Lead.id))) == 3


def test_an_xlsx_upload_imports(app, marketer_client, service_env, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Name", "Phone", "E-mail Address"])
    sheet.append(["Ada Lovelace", 14155550134, "ada@example.com"])  # a number, as Excel keeps it
    sheet.append(["Alan Turing", "+44 20 7946 0958", "alan@example.com"])
    path = tmp_path / "people.xlsx"
    book.save(path)
    setup_url = upload(marketer_client, path.read_bytes(), "people.xlsx").headers["Location"]
    page = marketer_client.get(setup_url).get_data(as_text=True)
    assert "14155550134" in page and "14155550134.0" not in page
    marketer_client.post(setup_url, data=setup_form(page))
    run_worker(service_env)
    db.session.expire_all()
    phones = set(db.session.scalars(sa.select(Lead.phone_e164)))
    assert phones == {"+14155550134", "+442079460958"}
