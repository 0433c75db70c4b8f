"""Configuration from the environment, with defaults that run on one machine."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Values people paste from tutorials; a production key must not be guessable.
WEAK_SECRET_KEYS = frozenset({"dev", "secret", "changeme", "change-me", "development", "test"})
MIN_SECRET_KEY_LENGTH = 32


class ConfigError(RuntimeError):
    """A setting is missing, weak or points at something that does not answer."""


def instance_path(env: Mapping[str, str] = os.environ) -> Path:
    """Where the default databases, the embedded Redis and uploads live."""
    return Path(env.get("LEADLINE_INSTANCE_PATH") or PROJECT_ROOT / "instance").resolve()


def load_config(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Build the Flask config from environment variables."""
    instance = instance_path(env)
    leadline_env = env.get("LEADLINE_ENV", "development").lower()
    if leadline_env not in {"development", "production", "test"}:
        raise ConfigError(
            f"LEADLINE_ENV must be development, production or test, not {leadline_env!r}"
        )
    production = leadline_env == "production"
    return {
        "LEADLINE_ENV": leadline_env,
        "SECRET_KEY": _secret_key(env, instance, production),
        # Earlier keys, comma-separated, after a rotation: sessions signed and CRM tokens
        # sealed with them still open (Flask reads this setting too).
        "SECRET_KEY_FALLBACKS": [
            key.strip() for key in env.get("SECRET_KEY_FALLBACKS", "").split(",") if key.strip()
        ],
        "SQLALCHEMY_DATABASE_URI": _database_url(env.get("DATABASE_URL"), instance / "leadline.db"),
        "SQLALCHEMY_BINDS": {
            "pipeline": _database_url(env.get("PIPELINE_DATABASE_URL"), instance / "pipeline.db"),
        },
        "REDIS_URL": env.get("REDIS_URL") or None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Behind a TLS-terminating proxy the app sees https through ProxyFix; in
        # production the cookie is always Secure, in development only over https.
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_NAME": "leadline_session",
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        # The login's lifetime is kept server-side (LoginSession), so re-signing the
        # cookie on every response would only cost time.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session does
        "MAX_CONTENT_LENGTH": 512 * 1024 * 1024,
        "LOGIN_MAX_FAILURES": int(env.get("LOGIN_MAX_FAILURES", 5)),
        "LOGIN_LOCKOUT_SECONDS": int(env.get("LOGIN_LOCKOUT_SECONDS", 15 * 60)),
        "LOGIN_MAX_FAILURES_PER_IP": int(env.get("LOGIN_MAX_FAILURES_PER_IP", 50)),
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", 0)),
        "DEFAULT_REGION": env.get("DEFAULT_REGION", "US").upper(),
        # Links in outgoing email (unsubscribe) are built on this; workers have no request.
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        # Shared secret of the inbound-reply endpoint; unset turns the endpoint off.
        "INBOUND_REPLY_KEY": env.get("INBOUND_REPLY_KEY") or None,
        "CADENCE_MAX_ENROLLMENTS_PER_REP_DAY": int(
            env.get("CADENCE_MAX_ENROLLMENTS_PER_REP_DAY", 500)
        ),
        "DEBUG": env.get("FLASK_DEBUG", "0").lower() in {"1", "true", "yes"},
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    }


def check_production(config: Mapping[str, Any]) -> None:
    """Refuse to run production with settings that would expose users."""
    if config.get("LEADLINE_ENV") != "production":
        return
    key = config.get("SECRET_KEY") or ""
    if not key:
        raise ConfigError("SECRET_KEY is not set; production needs a random key of 32+ characters")
    if len(key) < MIN_SECRET_KEY_LENGTH or key.lower() in WEAK_SECRET_KEYS:
        raise ConfigError(
            f"SECRET_KEY is weak; use a random key of at least {MIN_SECRET_KEY_LENGTH} characters"
        )
    if config.get("DEBUG"):
        raise ConfigError("FLASK_DEBUG is on; production must not run the debugger")


def _secret_key(env: Mapping[str, str], instance: Path, production: bool) -> str:
    if env.get("SECRET_KEY") or production:
        return env.get("SECRET_KEY", "")
    # Outside production a key is generated once and kept, so sessions survive a
    # restart and every web worker signs cookies with the same key.
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    # Written to a private temporary file and linked into place, so a second process
    # starting at the same moment either sees no key or the whole key, never half.
    with tempfile.NamedTemporaryFile("w", dir=instance, delete=False) as handle:
        handle.write(secrets.token_urlsafe(48))
    try:
        os.link(handle.name, path)
    except FileExistsError:
        pass  # another process won the race; use its key
    finally:
        os.unlink(handle.name)
    return path.read_text().strip()


def _database_url(url: str | None, default_file: Path) -> str:
    if not url:
        default_file.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{default_file}"
    # Hosting providers hand out postgres:// URLs; SQLAlchemy wants the driver named.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
