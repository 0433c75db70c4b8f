"""The application shell: create_app wires config, extensions and the domain packages."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from app.api import init_api
from app.config import PROJECT_ROOT, ConfigError, check_production, instance_path, load_config
from app.database import check_databases, configure_engines, reset_begin_mode, set_read_only
from app.extensions import csrf, db, login_manager, migrate
from app.queue import check_redis, init_redis

# Domain packages plug themselves in through their init_app(app); the shell names
# them only here, as strings, so no package below imports one above it.
DOMAIN_PACKAGES = ("leads", "cadences", "sync")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; ``config`` overrides values read from the environment."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        instance_path=str(instance_path()),
    )
    app.config.update(load_config())
    app.config.update(config or {})
    check_production(app.config)
    if app.config["TRUSTED_PROXIES"]:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=app.config["TRUSTED_PROXIES"], x_proto=app.config["TRUSTED_PROXIES"]
        )
    register_extensions(app)
    # The begin-mode hook must run before any blueprint's hook touches the database.
    register_request_hooks(app)
    register_blueprints(app)
    from app.cli import register_cli
    from app.errors import register_errorhandlers

    register_cli(app)
    register_errorhandlers(app)
    return app


class SessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


def register_extensions(app: Flask) -> None:
    app.session_interface = SessionInterface()
    db.init_app(app)
    configure_engines(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    init_redis(app)
    init_api(app)
    if app.config.get("CHECK_CONNECTIONS", True):
        check_databases(app)
        check_redis(app)


def register_blueprints(app: Flask) -> None:
    from app import admin, auth, health, tokens

    for module in (auth, admin, health, tokens):
        app.register_blueprint(module.bp)
    for name in DOMAIN_PACKAGES:
        importlib.import_module(name).init_app(app)


def register_request_hooks(app: Flask) -> None:
    @app.before_request
    def begin_mode() -> None:
        view = app.view_functions.get(request.endpoint or "")
        deferred = request.method in SAFE_METHODS or getattr(view, "begins_deferred", False)
        g.begin_mode_token = set_read_only(deferred)

    @app.teardown_request
    def end_begin_mode(_exc: BaseException | None) -> None:
        if token := g.pop("begin_mode_token", None):
            reset_begin_mode(token)

    @app.after_request
    def security_headers(response):
        # Scripts only from our own files: injected markup cannot run code.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.context_processor
    def navigation() -> dict[str, Any]:
        from app.models import Role

        return {"Role": Role, "user": current_user, "nav_section": _nav_section()}


def _nav_section() -> str:
    """Which main-menu entry the current page belongs to: its view's module, as
    "package.module" (e.g. "leads.dial_views"), so the menu needs no list of endpoints."""
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "__module__", "") if view else ""


__all__ = ["ConfigError", "create_app"]
