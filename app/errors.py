"""Error pages: full pages for browsers, fragments for htmx requests, JSON under /api."""

from __future__ import annotations

from flask import Flask, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.api import error_body
from app.htmx import render

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: (
        "Not allowed",
        "Your roles do not give access to this page. Ask an admin if you need it.",
    ),
    404: ("Not found", "There is nothing at this address. It may have been deleted."),
    405: ("Not allowed", "This address does not accept that kind of request."),
    413: ("Too large", "The upload is larger than Leadline accepts (512 MB)."),
    429: ("Slow down", "Too many requests. Wait a moment and try again."),
    500: (
        "Something broke",
        "The error was logged. Try again; if it keeps happening, tell an admin.",
    ),
}


def register_errorhandlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)


def _page(status: int, detail: str | None = None):
    title, message = MESSAGES.get(status, ("Error", "Something went wrong."))
    return render(
        "errors/error.html",
        block="content",
        status=status,
        status_code=status,
        title=title,
        message=detail or message,
    )


def _http_error(error: HTTPException):
    if request.path.startswith("/api/"):
        return error_body(error)
    if request.path == "/healthz":
        return {"error": error.name, "message": error.description}, error.code
    # Werkzeug's generic descriptions are written for developers; ours for users,
    # unless a view passed a description of its own.
    custom = error.description if error.description != type(error).description else None
    return _page(error.code or 500, custom)


def _csrf_error(error: CSRFError):
    return _page(
        400, "The form expired or was sent from another site. Reload the page and try again."
    )
