"""CRM credentials at rest: Fernet-encrypted under keys derived from the app's secret.

``SECRET_KEY`` seals; ``SECRET_KEY_FALLBACKS`` (Flask's list of earlier keys) still
open, so stored tokens keep working after the secret is rotated, and saving a target
seals its tokens again under the current key. A value stored before encryption (no
prefix) is read as it is and sealed at the next save or by the migration.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from sync.crm.forms import SECRET_FIELDS

PREFIX = "fernet:"


def _fernet() -> MultiFernet:
    config = current_app.config
    secrets = [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or ())]
    return MultiFernet([Fernet(_derived(secret)) for secret in secrets if secret])


def _derived(secret: str | bytes) -> bytes:
    # A key of its own for this one use: the session signer never sees the same bytes.
    raw = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(raw, b"leadline: crm credentials", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest)


def seal(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with every secret encrypted under the current key."""
    fernet = _fernet()
    sealed = dict(settings)
    for name in SECRET_FIELDS:
        value = sealed.get(name)
        if not isinstance(value, str) or not value:
            continue
        if value.startswith(PREFIX):
            try:
                token = fernet.rotate(value[len(PREFIX) :].encode())
            except InvalidToken:
                continue  # sealed under a key no longer known: left for an admin to replace
        else:
            token = fernet.encrypt(value.encode())
        sealed[name] = PREFIX + token.decode()
    return sealed


def unseal(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with secrets readable; one that no known key opens is left out,
    so the target reports the token as missing and an admin enters it again."""
    fernet = _fernet()
    opened = dict(settings)
    for name in SECRET_FIELDS:
        value = opened.get(name)
        if isinstance(value, str) and value.startswith(PREFIX):
            try:
                opened[name] = fernet.decrypt(value[len(PREFIX) :].encode()).decode()
            except InvalidToken:
                del opened[name]
    return opened
