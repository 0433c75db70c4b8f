"""The JSON API's shell: the OpenAPI document, bearer-token authentication, scopes, errors.

Domain packages add their endpoints as flask-smorest blueprints through
`register_api_blueprint`; the schemas that validate a request are the ones the
document at /api/openapi.json is built from, so the two cannot drift apart.

A token acts as its user: the user's roles and workspace decide what a call may
see, and the token's scopes narrow that further. No session cookie and no CSRF
token take part: a request is who its Authorization header says.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import flask_smorest
import marshmallow as ma
import sqlalchemy as sa
from flask import Flask, current_app, g, request
from flask_smorest import Api, abort
from flask_smorest.error_handler import ErrorSchema
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.exceptions import HTTPException

from app.extensions import csrf, db
from app.models import ApiToken, Role, User, hash_token, utcnow
from app.ratelimit import RateLimit

P = ParamSpec("P")
R = TypeVar("R")

# Scope → what it lets a token do. Read and write are apart so a reporting tool can
# hold a key that changes nothing.
SCOPES = {
    "leads:read": "Read and search leads and their activities",
    "leads:write": "Create and update leads",
    "imports:read": "Read the status of imports",
    "imports:write": "Start imports",
    "dispositions:write": "Record call outcomes",
    "deals:read": "Read deals",
    "deals:write": "Update deals and move them between stages",
}
TOKEN_PREFIX = "ll_"
SECURITY_SCHEME = "bearerAuth"


class LeadlineApi(Api):
    """flask-smorest's Api, leaving error pages to `app.errors`: they answer JSON
    under /api and HTML pages everywhere else."""

    def _register_error_handlers(self) -> None:
        pass


def has_nul(value: Any) -> bool:
    """Whether text anywhere in ``value`` holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(item) for item in value)
    return False


class ApiSchema(ma.Schema):
    """The API's schemas. Text with a NUL character is refused as invalid input:
    PostgreSQL cannot store it, and no person types one."""

    @ma.pre_load
    def refuse_nul(self, data: Any, **_kwargs: Any) -> Any:
        if isinstance(data, Mapping):
            bad = {key: ["Remove the NUL character."] for key in data if has_nul(data.get(key))}
            if bad:
                raise ma.ValidationError(bad)
        return data


class UtcDateTime(ma.fields.DateTime):
    """A time stored as naive UTC, written with its offset as RFC 3339 requires."""

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class _Parser(FlaskParser):
    """webargs' Flask parser, reading a multipart form's fields and files together."""

    __location_map__ = {**FlaskParser.__location_map__, "form_and_files": "load_form_and_files"}

    def load_form_and_files(self, req, schema):
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


class ApiBlueprint(flask_smorest.Blueprint):
    """A blueprint of API endpoints. ``location="form_and_files"`` reads a multipart
    upload with its form fields as one request body (an upload with its options)."""

    ARGUMENTS_PARSER = _Parser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "form_and_files": "multipart/form-data",
    }


def init_api(app: Flask) -> None:
    """Create the app's API object; blueprints are added by the domain packages."""
    app.config.setdefault("API_TITLE", "Leadline")
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = LeadlineApi(app)
    api.spec.components.security_scheme(
        SECURITY_SCHEME, {"type": "http", "scheme": "bearer", "description": "An API token"}
    )
    api.spec.options["security"] = [{SECURITY_SCHEME: []}]
    app.extensions["leadline_api"] = api


def register_api_blueprint(app: Flask, blueprint: ApiBlueprint) -> None:
    """Serve an API blueprint and describe it in the document; it takes no CSRF token."""
    app.extensions["leadline_api"].register_blueprint(blueprint)
    csrf.exempt(blueprint)


def error_body(error: HTTPException) -> tuple[dict[str, Any], int, dict[str, str]]:
    """An error as the API answers it (the shape the document's error schema gives)."""
    payload: dict[str, Any] = {"code": error.code, "status": error.name}
    data = getattr(error, "data", None) or {}
    payload["message"] = data.get("message") or error.description
    if errors := data.get("errors") or data.get("messages"):
        payload["errors"] = errors
    headers = dict(data.get("headers") or {})
    if error.code == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="leadline"')
    return payload, error.code or 500, headers


# ---------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------


def create_token(user: User, name: str, scopes: Iterable[str]) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the token, which is never shown again.

    The caller commits.
    """
    chosen = sorted(set(scopes))
    unknown = [scope for scope in chosen if scope not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes {unknown}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name.strip()[:120],
        token_hash=hash_token(secret),
        prefix=secret[:10],
        scopes=" ".join(chosen),
    )
    db.session.add(token)
    return token, secret


def user_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.id.desc())
        )
    )


def revoke_token(user: User, token_id: int) -> bool:
    """Revoke one of the user's own tokens; False when there is none such. Caller commits."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    return True


def _token_from_header() -> ApiToken:
    scheme, _, secret = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        abort(401, message="Send an API token as 'Authorization: Bearer <token>'.")
    token = db.session.scalar(
        sa.select(ApiToken).where(ApiToken.token_hash == hash_token(secret.strip()))
    )
    if token is None or token.revoked_at is not None or not token.user.active:
        abort(401, message="This API token is unknown or revoked. Create one under API tokens.")
    return token


def _throttle(token: ApiToken) -> None:
    config = current_app.config
    limit = RateLimit(
        "api-token", config.get("API_MAX_REQUESTS", 600), config.get("API_WINDOW_SECONDS", 60)
    )
    if wait := limit.hit(str(token.id)):
        abort(429, message=f"Too many requests for this token; wait {wait} s.",
              headers={"Retry-After": str(wait)})  # fmt: skip


def api_user() -> User:
    """The user the current API request's token belongs to."""
    return g.api_user


def requires(scope: str, *roles: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Let a call through with a valid token holding ``scope``, whose user holds one of
    ``roles`` (none: any role). Checked before the request is parsed, so a stranger
    learns nothing from validation messages.

    The roles and scope are kept on the view for the role × route test.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            token = _token_from_header()
            _throttle(token)
            if scope not in token.scope_set:
                abort(403, message=f"This token lacks the scope {scope}.")
            if roles and not token.user.has_role(*roles):
                abort(403, message="Your roles do not allow this call.")
            g.api_user = token.user
            return view(*args, **kwargs)

        wrapper.allowed_roles = frozenset(roles) or frozenset(Role)  # type: ignore[attr-defined]
        wrapper.api_scope = scope  # type: ignore[attr-defined]
        return wrapper

    return decorator


def documented_errors(blueprint: ApiBlueprint, *codes: int) -> Callable[[Callable], Callable]:
    """Describe the error answers a view can give besides the ones every view gives."""

    def decorator(view: Callable) -> Callable:
        for code in (401, 403, 429, *codes):
            view = blueprint.alt_response(code, schema=ErrorSchema, description=_REASONS[code])(
                view
            )
        return view

    return decorator


_REASONS = {
    401: "No token, or an unknown or revoked one",
    403: "The token lacks the scope, or its user the role",
    404: "Not found, or not visible to the token's user",
    409: "The change conflicts with the current state",
    422: "The request is not valid",
    429: "Too many requests for this token",
}
