"""Configuration: safe defaults, production refusals, one-line errors for bad URLs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.config import ConfigError, check_production, load_config
from app.extensions import db

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_put_both_databases_under_instance(tmp_path):
    config = load_config({"LEADLINE_INSTANCE_PATH": str(tmp_path)})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'leadline.db'}"
    assert config["SQLALCHEMY_BINDS"]["pipeline"] == f"sqlite:///{tmp_path / 'pipeline.db'}"
    assert config["REDIS_URL"] is None
    # The generated key is kept, so every process and restart signs cookies alike.
    assert len(config["SECRET_KEY"]) >= 32
    assert (
        load_config({"LEADLINE_INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"] == config["SECRET_KEY"]
    )


def test_postgres_urls_get_the_psycopg_driver(tmp_path):
    config = load_config(
        {"LEADLINE_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "postgres://u:p@db/leads"}
    )
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db/leads"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "changeme"}, "SECRET_KEY is weak"),
        ({"SECRET_KEY": "x" * 20}, "SECRET_KEY is weak"),
        ({"SECRET_KEY": "k" * 40, "FLASK_DEBUG": "1"}, "FLASK_DEBUG is on"),
    ],
)
def test_production_refuses_unsafe_settings(tmp_path, env, message):
    config = load_config(
        {"LEADLINE_INSTANCE_PATH": str(tmp_path), "LEADLINE_ENV": "production", **env}
    )
    with pytest.raises(ConfigError, match=message):
        check_production(config)


def test_production_accepts_a_strong_key(tmp_path):
    config = load_config(
        {
            "LEADLINE_INSTANCE_PATH": str(tmp_path),
            "LEADLINE_ENV": "production",
            "SECRET_KEY": "k" * 40,
        }
    )
    check_production(config)
    assert config["SESSION_COOKIE_SECURE"]


def _start(tmp_path, **env):
    """Load the WSGI module the way gunicorn and flask do, in a fresh process."""
    full_env = {**os.environ, "LEADLINE_INSTANCE_PATH": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nothing"),
        ("PIPELINE_DATABASE_URL", "sqlite:////nonexistent-dir/pipeline.db"),
        ("REDIS_URL", "redis://127.0.0.1:1/0"),
    ],
)
def test_unreachable_services_give_one_line_naming_the_variable(
    tmp_path, redis_url, variable, value
):
    result = _start(tmp_path, **{"REDIS_URL": redis_url, variable: value})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"leadline: {variable}: cannot connect to")
    assert "Traceback" not in result.stderr


def test_sqlite_connections_are_tuned(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite settings")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000


# Expression indexes are checked by name in test_expression_indexes_exist.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression")
def test_migrations_match_the_models(app):
    """A model change without a migration fails here instead of in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        tables = sa.MetaData()
        for table in db.metadata.sorted_tables:
            if table.info.get("bind_key") is None:
                table.to_metadata(tables)
        assert compare_metadata(context, tables) == []


def test_expression_indexes_exist(app):
    """Autogenerate cannot compare expression indexes; check them by name."""
    expected = {
        index.name
        for table in db.metadata.sorted_tables
        for index in table.indexes
        if any(not isinstance(e, sa.Column) for e in index.expressions)
    }
    if db.engine.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'index'"
    else:
        sql = "SELECT indexname FROM pg_indexes"
    with db.engine.connect() as connection:
        present = set(connection.exec_driver_sql(sql).scalars())
    assert expected and expected <= present
