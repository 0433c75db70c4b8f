"""A user's API tokens: create one (shown once), see them, revoke them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from app.access import roles_required
from app.api import SCOPES, create_token, revoke_token, user_tokens
from app.extensions import db
from app.forms import ApiTokenForm, ConfirmForm

bp = Blueprint("tokens", __name__)


@bp.route("/account/api-tokens", methods=["GET", "POST"])
@roles_required()
def api_tokens():
    """List the user's tokens; a posted form makes a new one and shows it once."""
    form = ApiTokenForm()
    secret = None
    status = 200
    if form.validate_on_submit():
        _, secret = create_token(current_user, form.name.data, form.scopes.data)
        db.session.commit()
        form = ApiTokenForm(formdata=None)
    elif form.is_submitted():
        status = 422
    return render_template(
        "auth/api_tokens.html", form=form, secret=secret, tokens=user_tokens(current_user),
        scopes=SCOPES, revoke_form=ConfirmForm(),
    ), status  # fmt: skip


@bp.post("/account/api-tokens/<int:token_id>/revoke")
@roles_required()
def revoke_api_token(token_id: int):
    """Revoke one of the user's own tokens; calls made with it fail from now on."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if not revoke_token(current_user, token_id):
        abort(404)
    db.session.commit()
    flash("Token revoked.", "success")
    return redirect(url_for("tokens.api_tokens"))
