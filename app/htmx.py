"""htmx helpers: one render function serves the full page and its fragments."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, make_response, render_template, request
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    """True for an htmx request that wants a fragment (boosted navigation wants the page)."""
    return (
        request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"
    )


def render(template: str, block: str | None = None, status: int = 200, **context: Any) -> Response:
    """Render ``block`` of ``template`` for htmx requests, the whole page otherwise.

    The fragment is the same markup the page includes, so the two cannot drift.
    """
    if block and is_htmx():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def hx_redirect(url: str) -> Response:
    """Send the browser elsewhere after an htmx request (a 302 would be followed by XHR)."""
    response = make_response("", 204)
    response.headers["HX-Redirect"] = url
    return response


def hx_trigger(response: Response, event: str, detail: Any = True) -> Response:
    """Ask htmx to fire a client-side event, e.g. to refresh a badge."""
    existing = json.loads(response.headers.get("HX-Trigger", "{}") or "{}")
    existing[event] = detail
    response.headers["HX-Trigger"] = json.dumps(existing)
    return response
