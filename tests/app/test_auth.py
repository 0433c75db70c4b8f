"""Signing in and out, sessions, throttling, passwords, invites, CSRF."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.models import LoginSession, Role, User
from app.security import check_password, password_problem, set_password
from tests.conftest import PASSWORD


def sign_in(client, email, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


def test_sign_in_and_out(client, admin):
    response = sign_in(client, "ADA@example.com ")
    assert response.status_code == 302 and response.headers["Location"] == "/leads"
    assert client.get("/leads").status_code == 200
    client.post("/logout")
    assert client.get("/leads").status_code == 302


def test_wrong_password_says_so_without_revealing_the_account(client, admin):
    wrong = sign_in(client, admin.email, "wrong password")
    unknown = sign_in(client, "nobody@example.com", "wrong password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Email or password is wrong." in wrong.get_data(as_text=True)
    assert "Email or password is wrong." in unknown.get_data(as_text=True)


def test_a_replayed_cookie_is_rejected_after_logout(app, client, admin):
    sign_in(client, admin.email)
    cookie = client.get_cookie("leadline_session", domain="leadline.test").value
    client.post("/logout")
    replay = app.test_client()
    replay.set_cookie("leadline_session", cookie, domain="leadline.test")
    assert replay.get("/leads").status_code == 302
    assert db.session.scalar(sa.select(LoginSession.revoked_at)) is not None


def test_disabling_a_user_ends_their_sessions(app, client, admin, make_user, login):
    rep = make_user(Role.REP)
    rep_client = login(rep, on=app.test_client())
    assert rep_client.get("/leads").status_code == 200
    login(admin)
    assert client.post(f"/admin/users/{rep.id}/disable").status_code == 302
    assert rep_client.get("/leads").status_code == 302
    assert sign_in(app.test_client(), rep.email).status_code == 401


def test_the_last_admin_cannot_be_disabled(client, admin, login):
    login(admin)
    client.post(f"/admin/users/{admin.id}/disable")
    assert db.session.get(User, admin.id).active


def test_login_is_throttled_across_clients(app, make_app, admin):
    # A second app instance shares only Redis with the first: the count is not per process.
    other = make_app(LOGIN_MAX_FAILURES=3)
    for _ in range(3):
        assert sign_in(other.test_client(), admin.email, "nope nope").status_code == 401
    locked = sign_in(other.test_client(), admin.email, PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.get_data(as_text=True)


def test_session_cookie_flags(client, admin):
    response = sign_in(client, admin.email)
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header


def test_cookie_is_secure_over_https(client, admin):
    plain = sign_in(client, admin.email).headers["Set-Cookie"]
    client.post("/logout")
    secure = client.post(
        "/login",
        data={"email": admin.email, "password": PASSWORD},
        base_url="https://leadline.test",
        # Over HTTPS the CSRF check also wants a same-site Referer.
        headers={"Referer": "https://leadline.test/login"},
    ).headers["Set-Cookie"]
    assert "Secure" not in plain and "Secure" in secure


def test_open_redirect_is_refused(client, admin):
    response = client.post(
        "/login?next=https://evil.example/", data={"email": admin.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/leads"


def test_password_rules():
    assert password_problem("short") is not None
    assert password_problem("x" * 8) is None
    assert password_problem("x" * 64) is None
    assert password_problem("x" * 257) is not None


def test_password_hash_is_argon2id_at_owasp_cost(admin):
    assert admin.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert check_password(admin, PASSWORD) and not check_password(admin, PASSWORD + "!")


def test_one_time_password_must_be_changed(runner, client):
    out = runner.invoke(args=["users", "bootstrap-admin", "--email", "boss@example.com"]).output
    password = re.search(r"password: (\S+)", out).group(1)
    assert sign_in(client, "boss@example.com", password).status_code == 302
    assert client.get("/leads").headers["Location"] == "/account/password"
    client.post(
        "/account/password",
        data={"password": "a new long password", "confirm": "a new long password"},
    )
    assert client.get("/leads").status_code == 200
    # A second run does nothing: an admin exists.
    assert "password" not in runner.invoke(args=["users", "bootstrap-admin"]).output


def test_invite_flow(client, admin, login):
    login(admin)
    response = client.post(
        "/admin/users/new",
        data={
            "name": "Cal Caller",
            "email": "cal@example.com",
            "roles": ["caller"],
            "team_id": "0",
            "time_zone": "America/Chicago",
            "password": "",
        },
        follow_redirects=True,
    )
    link = re.search(
        r"http://leadline\.test(/invite/[\w-]+)", response.get_data(as_text=True)
    ).group(1)
    client.post("/logout")
    invited = client.get(link)
    assert "Cal Caller" in invited.get_data(as_text=True)
    client.post(link, data={"password": "calls all day", "confirm": "calls all day"})
    assert client.get("/leads").status_code == 200
    assert client.get(link).status_code == 404  # single use


def test_csrf_is_required_for_forms_and_htmx(app, admin, login):
    client = app.test_client()
    client.csrf = False
    login(admin, on=client)
    refused = client.post("/leads/new", data={"first_name": "Eve"})
    assert refused.status_code == 400
    assert "form expired" in refused.get_data(as_text=True)
    client.csrf = True
    accepted = client.post(
        "/leads/new", data={"first_name": "Eve", "status": "new", "owner_id": "0", "list_id": "0"}
    )
    assert accepted.status_code == 302


def test_csrf_token_is_in_htmx_headers(client, admin, login):
    login(admin)
    page = client.get("/leads").get_data(as_text=True)
    assert re.search(r'<body hx-headers=\'\{"X-CSRFToken": "[^"]+"\}\'>', page)


def test_changing_password_signs_out_other_sessions(app, client, admin, login):
    other = login(admin, on=app.test_client())
    login(admin)
    client.post(
        "/account/password", data={"password": "brand new secret", "confirm": "brand new secret"}
    )
    assert client.get("/leads").status_code == 200
    assert other.get("/leads").status_code == 302
    set_password(admin, PASSWORD)
