"""The public unsubscribe page: GET asks, POST (the one-click request or the button) acts."""

from __future__ import annotations

from flask import abort, render_template

from app.extensions import csrf, db
from cadences import bp
from cadences.unsubscribe import find_run, unsubscribe


@bp.get("/u/<token>")
def unsubscribe_confirm(token: str) -> str:
    """Ask before unsubscribing: link scanners follow GETs and must not unsubscribe anyone."""
    if find_run(token) is None:
        abort(404)
    return render_template("cadences/unsubscribe.html", token=token, done=False)


# No sign-in and no CSRF token: mail providers send the one-click POST themselves
# (RFC 8058), and the unguessable token in the URL is the credential.
@bp.post("/u/<token>")
@csrf.exempt
def unsubscribe_submit(token: str) -> str:
    """Unsubscribe the recipient of the message; the same answer every time."""
    run = find_run(token)
    if run is None:
        abort(404)
    unsubscribe(run)
    db.session.commit()
    return render_template("cadences/unsubscribe.html", token=token, done=True)
