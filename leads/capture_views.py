"""Public lead capture: the embeddable form and the JSON endpoint, and the key switch on lists.

The public routes take no login and no CSRF token. CSRF defends a signed-in
user's session against other sites; these routes act for no session and are
meant to be posted by other sites (the form inside an iframe, a site's own
form, a server calling the JSON API). What guards them instead: the list's
unguessable key, a honeypot field, and rate limits shared by all processes.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Response, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import roles_required
from app.extensions import csrf, db
from leads import bp
from leads.capture import (
    CAPTURE_ACTIONS,
    HONEYPOT_FIELD,
    MAX_BODY_BYTES,
    CaptureResult,
    ConsentInput,
    RequestInfo,
    Submission,
    capture_lead,
    change_capture_key,
    company_name,
    consent_text,
    list_for_key,
    read_submission,
    source_url,
    throttle_capture,
)
from leads.models import LeadList
from leads.views import LIST_MANAGERS

ACTION_MESSAGES = {
    "enable": "Lead capture is on for {name}.",
    "rotate": "{name} has a new capture key; the old form address and embeds no longer work.",
    "disable": "Lead capture is off for {name}; its form address no longer works.",
}


@bp.get("/capture/<key>")
def capture_form(key: str):
    """The capture form of a list, made to sit in an iframe on any site."""
    lead_list = _list_or_404(key)
    # Inside an iframe the Referer is the page embedding the form: carried along
    # in a hidden field, it becomes the consent's source page on submit.
    page_url = source_url(request.args.get("page_url"), request.referrer)
    return _page("capture/form.html", lead_list, values={}, errors={}, page_url=page_url)


@bp.post("/capture/<key>")
@csrf.exempt
def capture_submit(key: str):
    """Take one person from the form or the JSON API into the list."""
    wants_json = request.is_json
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _refuse(wants_json, 413, "Too much data for a contact form.")
    # Also bounds bodies sent without a Content-Length (chunked).
    request.max_content_length = MAX_BODY_BYTES
    lead_list = _list_or_404(key)
    if wait := throttle_capture(lead_list, request.remote_addr):
        response = _refuse(wants_json, 429, "Too many submissions. Try again later.", lead_list)
        response.headers["Retry-After"] = str(wait)
        return response
    data = request.get_json(silent=True) if wants_json else request.form.to_dict()
    if not isinstance(data, dict):
        return {"errors": {"body": "Send one JSON object."}}, 400
    submission = read_submission(data)
    if submission.trapped:
        # A bot: it is told all went well, so it learns nothing to work around.
        if wants_json:
            return {"status": "received"}, 202
        return _page("capture/thanks.html", lead_list)
    if submission.errors:
        result = CaptureResult(errors=submission.errors)
    else:
        result = _capture(lead_list, submission)
    if result.errors and wants_json:
        return {"errors": result.errors}, 400
    if result.errors:
        return _page(
            "capture/form.html",
            lead_list,
            status=400,
            values=submission.fields,
            errors=result.errors,
            consent=submission.consent,
            page_url=submission.page_url,
        )
    if wants_json:
        # The same answer for a new and a known person: the key sits in public web
        # pages, so anything more would tell strangers who is on file.
        return {"status": "received"}, 202
    # The same page for new and known people: the form tells nobody who is on file.
    return _page("capture/thanks.html", lead_list)


@bp.post("/lists/<int:list_id>/capture")
@roles_required(*LIST_MANAGERS)
def list_capture(list_id: int):
    """Turn a list's capture form on or off, or give it a new key."""
    lead_list = db.get_or_404(LeadList, list_id)
    if lead_list.workspace_id != current_user.workspace_id:
        abort(404)
    action = request.form.get("action", "")
    if action not in CAPTURE_ACTIONS:
        abort(400)
    change_capture_key(lead_list, action)
    db.session.commit()
    flash(ACTION_MESSAGES[action].format(name=lead_list.name), "success")
    return redirect(url_for("leads.edit_list", list_id=lead_list.id) + "#capture")


def _capture(lead_list: LeadList, submission: Submission) -> CaptureResult:
    consent = None
    if submission.consent:
        consent = ConsentInput(submission.consent_text or consent_text(lead_list))
    info = RequestInfo(
        ip_address=request.remote_addr,
        user_agent=request.user_agent.string or None,
        source_url=source_url(submission.page_url, request.referrer),
    )
    return capture_lead(lead_list, submission.fields, consent, info)


def _list_or_404(key: str) -> LeadList:
    lead_list = list_for_key(key)
    if lead_list is None:
        abort(404)
    return lead_list


def _page(template: str, lead_list: LeadList, status: int = 200, **context: Any) -> Response:
    """A capture page that any site may frame, with its styles allowed by a nonce."""
    nonce = secrets.token_urlsafe(16)
    response = make_response(
        render_template(
            template,
            key=lead_list.capture_key,
            company=company_name(lead_list),
            consent_text=consent_text(lead_list),
            honeypot=HONEYPOT_FIELD,
            nonce=nonce,
            **context,
        ),
        status,
    )
    # Set before the app's after_request hook, whose setdefault then leaves it:
    # these pages alone may be framed (frame-ancestors *), and they load nothing
    # but their own inline styles.
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors *"
    )
    if request.method == "POST":
        response.headers["Cache-Control"] = "no-store"  # it may show what was typed
    return response


def _refuse(
    wants_json: bool, status: int, message: str, lead_list: LeadList | None = None
) -> Response:
    if wants_json or lead_list is None:
        return make_response({"errors": {"request": message}}, status)
    return _page("capture/refused.html", lead_list, status=status, message=message)
