"""Role checks for views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import abort
from flask_login import current_user, login_required

from app.models import Role

P = ParamSpec("P")
R = TypeVar("R")


def roles_required(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Allow a view to signed-in users holding any of ``roles`` (no roles: any signed-in user).

    The allowed roles are kept on the view so the role × route test can read them.
    """

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if roles and not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapper.allowed_roles = frozenset(roles) or frozenset(Role)  # type: ignore[attr-defined]
        return login_required(wrapper)

    return decorator
