"""WSGI entry point: gunicorn wsgi:app, flask --app wsgi."""

import sys

from app import ConfigError, create_app

try:
    app = create_app()
except ConfigError as exc:
    # One line naming the setting beats a traceback for a wrong DATABASE_URL or REDIS_URL.
    sys.exit(f"leadline: {exc}")
