"""Log in, log out and accept an invite."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.access import roles_required
from app.extensions import db, login_manager
from app.forms import LoginForm, SetPasswordForm
from app.htmx import hx_redirect
from app.models import User, hash_token, utcnow
from app.security import (
    LoginThrottle,
    check_password,
    load_login_session,
    revoke_login_session,
    revoke_user_sessions,
    set_password,
    start_login_session,
)

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    row = load_login_session(session_id)
    if row is None:
        return None
    row.user.login_session_id = row.id
    return row.user


@login_manager.unauthorized_handler
def unauthorized():
    """Send anonymous visitors to sign in; htmx requests get a full-page redirect."""
    target = url_for("auth.login", next=request.full_path.rstrip("?"))
    if request.headers.get("HX-Request") == "true":
        return hx_redirect(target)
    flash("Sign in to continue.", "info")
    return redirect(target)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an absolute URL here would be an open redirect.
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("leads.index")


def _log_in(user: User) -> None:
    row = start_login_session(user, request.remote_addr, request.user_agent.string)
    db.session.commit()
    session.clear()  # a fresh session id-less cookie: no fixation of pre-login state
    session.permanent = True
    user.login_session_id = row.id
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        throttle = LoginThrottle(email, request.remote_addr)
        if lockout := throttle.lockout():
            form.form_errors.append(
                f"Too many failed sign-ins. Try again in {lockout.minutes} minute"
                f"{'s' if lockout.minutes != 1 else ''}, or ask an admin to reset your password."
            )
            return render_template("auth/login.html", form=form), 429
        user = db.session.scalar(sa.select(User).where(User.email == email))
        valid = check_password(user, form.password.data)
        if valid and user.active:
            throttle.clear()
            _log_in(user)
            return redirect(_safe_next(request.args.get("next")))
        throttle.record_failure()
        # Only someone who knows the password learns that the account is disabled.
        form.form_errors.append(
            "This account is disabled. Ask an admin to enable it."
            if valid
            else "Email or password is wrong."
        )
        status = 401
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@roles_required()
def logout():
    """End this login everywhere the cookie might have been copied to."""
    revoke_login_session(current_user.login_session_id)
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str):
    """Choose a password from an invite link and sign in."""
    user = db.session.scalar(sa.select(User).where(User.invite_token_hash == hash_token(token)))
    if user is None or user.invite_expires_at is None or user.invite_expires_at < utcnow():
        abort(
            404, description="This invite link is not valid any more. Ask an admin for a new one."
        )
    if not user.active:
        abort(403, description="This account is disabled.")
    form = SetPasswordForm()
    if form.validate_on_submit():
        set_password(user, form.password.data)
        _log_in(user)
        flash(f"Welcome to Leadline, {user.name}.", "success")
        return redirect(url_for("leads.index"))
    return render_template("auth/invite.html", form=form, invited=user)


@bp.route("/account/password", methods=["GET", "POST"])
@roles_required()
def change_password():
    """Choose a new password; other sessions of this user end."""
    form = SetPasswordForm()
    if form.validate_on_submit():
        set_password(current_user, form.password.data)
        revoke_user_sessions(current_user)
        db.session.commit()
        _log_in(current_user._get_current_object())
        flash("Password changed. Other sessions were signed out.", "success")
        return redirect(url_for("leads.index"))
    return render_template("auth/password.html", form=form)


@bp.before_app_request
def require_new_password():
    """Keep a user with a one-time password on the change-password page."""
    if request.path.startswith("/api/"):
        return None  # the API knows callers by their tokens, never by a session
    if (
        current_user.is_authenticated
        and current_user.must_change_password
        and request.endpoint
        not in {"auth.change_password", "auth.logout", "static", "health.healthz"}
    ):
        return redirect(url_for("auth.change_password"))
    return None
