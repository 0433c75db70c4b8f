"""Fixtures: a real app on real databases (SQLite, or PostgreSQL when DATABASE_URL is set)
and a real Redis (embedded, or REDIS_URL when set)."""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, has_app_context
from flask.testing import FlaskClient

# Keep tests away from the developer's instance/ folder (databases, secret key, Redis).
_INSTANCE = Path(tempfile.mkdtemp(prefix="leadline-test-"))
atexit.register(shutil.rmtree, _INSTANCE, ignore_errors=True)
os.environ["LEADLINE_INSTANCE_PATH"] = str(_INSTANCE)
os.environ.setdefault("LEADLINE_ENV", "test")

from app import create_app  # noqa: E402
from app.embedded_redis import EmbeddedRedis  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import LoginSession, Role, User  # noqa: E402
from app.users import create_user, default_workspace  # noqa: E402

PASSWORD = "correct horse battery"
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Client(FlaskClient):
    """A test client that sends the CSRF token with every state-changing request,
    as the browser does with the form field or the htmx header."""

    csrf = True
    _token: str | None = None

    def csrf_token(self) -> str:
        if self._token is None:
            page = self.get("/login")
            if page.status_code == 302:
                page = self.get("/account/password")
            match = _CSRF_META.search(page.get_data(as_text=True))
            assert match, "no csrf-token meta tag in the page"
            self._token = match.group(1)
        return self._token

    def forget_token(self) -> None:
        self._token = None

    def open(self, *args, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        if self.csrf and method not in {"GET", "HEAD", "OPTIONS"}:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        response = self._open_in_own_context(*args, **kwargs)
        if isinstance(args[0], str) and args[0] in {"/login", "/logout"} and method == "POST":
            self._token = None  # the session, and so the token, changes at sign-in and sign-out
        return response

    def _open_in_own_context(self, *args, **kwargs):
        # A request must not share the test's app context: it would share `g` (and
        # with it cached CSRF tokens) and the test's database session. The test's
        # work is committed first, as it would be before a real request arrives.
        if not has_app_context():
            return super().open(*args, **kwargs)
        db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


def _postgres_urls(base_url: str) -> tuple[str, str, sa.Engine]:
    """Create two fresh databases beside the one DATABASE_URL names."""
    admin = sa.create_engine(_psycopg(base_url), isolation_level="AUTOCOMMIT")
    suffix = secrets.token_hex(4)
    names = (f"leadline_test_{suffix}", f"leadline_test_{suffix}_pipeline")
    with admin.connect() as connection:
        for name in names:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(_psycopg(base_url))
    return (
        url.set(database=names[0]).render_as_string(hide_password=False),
        url.set(database=names[1]).render_as_string(hide_password=False),
        admin,
    )


def _psycopg(url: str) -> str:
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", url)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    server = EmbeddedRedis(_INSTANCE / "redis")
    (_INSTANCE / "redis").mkdir(exist_ok=True)
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory) -> Iterator[dict[str, str]]:
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith("postgres"):
        lead_url, pipeline_url, admin = _postgres_urls(base)
        yield {"SQLALCHEMY_DATABASE_URI": lead_url, "SQLALCHEMY_BINDS": {"pipeline": pipeline_url}}
        with admin.connect() as connection:
            for url in (lead_url, pipeline_url):
                name = sa.make_url(url).database
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        return
    folder = tmp_path_factory.mktemp("db")
    yield {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'leadline.db'}",
        "SQLALCHEMY_BINDS": {"pipeline": f"sqlite:///{folder / 'pipeline.db'}"},
    }


@pytest.fixture(scope="session")
def app_config(database_urls, redis_url) -> dict:
    return {
        "TESTING": True,
        "REDIS_URL": redis_url,
        "SERVER_NAME": "leadline.test",
        **database_urls,
    }


@pytest.fixture(scope="session")
def _migrated_app(app_config) -> Flask:
    """One app for the session, its schema built by the real migrations."""
    from flask_migrate import upgrade

    application = create_app(app_config)
    application.test_client_class = Client
    with application.app_context():
        upgrade()
    return application


def _clean(application: Flask) -> None:
    with application.app_context():
        for bind in (None, "pipeline"):
            engine = db.engines[bind]
            # Each bind has a metadata of its own; the pipeline's tables live there.
            metadata = db.metadatas.get(bind)
            tables = [
                t
                for t in reversed(metadata.sorted_tables if metadata is not None else [])
                if sa.inspect(engine).has_table(t.name)
            ]
            with engine.begin() as connection:
                if engine.dialect.name == "postgresql" and tables:
                    names = ", ".join(f'"{t.name}"' for t in tables)
                    connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                else:
                    for table in tables:
                        connection.execute(table.delete())
        application.extensions["redis"].flushdb()


@pytest.fixture
def app(_migrated_app) -> Iterator[Flask]:
    _clean(_migrated_app)
    with _migrated_app.app_context():
        yield _migrated_app
        db.session.remove()


@pytest.fixture
def make_app(app_config, app) -> Iterator:
    """Build another app with config overrides, on the same databases and Redis."""

    def build(**overrides) -> Flask:
        application = create_app({**app_config, **overrides})
        application.test_client_class = Client
        return application

    yield build


@pytest.fixture
def client(app) -> Client:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def workspace(app):
    workspace = default_workspace()
    db.session.commit()
    return workspace


@pytest.fixture
def make_user(workspace):
    """Factory: a user with the given roles and the shared test password."""
    counter = iter(range(1, 10_000))

    def build(*roles: Role, name: str | None = None, email: str | None = None, **fields) -> User:
        number = next(counter)
        user, _ = create_user(
            workspace,
            email=email or f"user{number}@example.com",
            name=name or f"User {number}",
            roles=set(roles) or {Role.REP},
            password=PASSWORD,
        )
        for key, value in fields.items():
            setattr(user, key, value)
        db.session.commit()
        return user

    return build


@pytest.fixture
def login(client):
    """Sign a user in on the test client without paying for a password hash each time."""

    def sign_in(user: User, on: Client | None = None) -> Client:
        target = on or client
        row = LoginSession(id=secrets.token_urlsafe(32), user_id=user.id)
        db.session.add(row)
        db.session.commit()
        with target.session_transaction() as session:
            session["_user_id"] = row.id
            session["_fresh"] = True
        target.forget_token()
        return target

    return sign_in


@pytest.fixture
def admin(make_user) -> User:
    return make_user(Role.ADMIN, name="Ada Admin", email="ada@example.com")


@pytest.fixture
def service_env(app_config) -> dict[str, str]:
    """Environment for starting the app's own processes (worker, cron, web) on the test stores."""
    return {
        **os.environ,
        "LEADLINE_INSTANCE_PATH": str(_INSTANCE),
        "DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
        "PIPELINE_DATABASE_URL": app_config["SQLALCHEMY_BINDS"]["pipeline"],
        "REDIS_URL": app_config["REDIS_URL"],
    }


@pytest.fixture
def api_headers(app):
    """Factory: the Authorization header of a new API token of ``user`` (every scope by
    default)."""
    from app.api import SCOPES, create_token

    def build(user: User, *scopes: str) -> dict[str, str]:
        _, secret = create_token(user, "test", scopes or SCOPES)
        db.session.commit()
        return {"Authorization": f"Bearer {secret}"}

    return build


@pytest.fixture
def api_client(app) -> Client:
    """A client as another program is: no CSRF token, no session, only what it sends."""
    client = app.test_client()
    client.csrf = False
    return client
