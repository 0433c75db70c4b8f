"""CRM tokens at rest: encrypted under the app's secret, readable after a rotation."""

from __future__ import annotations

import pytest

from sync.crm_secrets import PREFIX, seal, unseal
from tests.sync.crm.fake_hubspot import TOKEN

OLD_KEY = "an-old-secret-key-of-thirty-two-characters!"
NEW_KEY = "the-new-secret-key-of-thirty-two-characters"


@pytest.fixture
def keys(app):
    before = app.config["SECRET_KEY"], app.config.get("SECRET_KEY_FALLBACKS")

    def use(secret: str, *fallbacks: str) -> None:
        app.config["SECRET_KEY"], app.config["SECRET_KEY_FALLBACKS"] = secret, list(fallbacks)

    yield use
    app.config["SECRET_KEY"], app.config["SECRET_KEY_FALLBACKS"] = before


def test_secrets_are_sealed_and_other_settings_are_not(keys):
    keys(OLD_KEY)
    sealed = seal({"token": TOKEN, "base_url": "https://api.hubapi.com"})
    assert sealed["token"].startswith(PREFIX) and TOKEN not in sealed["token"]
    assert sealed["base_url"] == "https://api.hubapi.com"
    assert unseal(sealed) == {"token": TOKEN, "base_url": "https://api.hubapi.com"}
    # Sealing twice does not wrap a sealed value again.
    assert unseal(seal(sealed)) == unseal(sealed)


def test_a_rotated_secret_still_opens_old_tokens_and_resealing_moves_them(keys):
    keys(OLD_KEY)
    sealed = seal({"token": TOKEN})
    keys(NEW_KEY, OLD_KEY)
    assert unseal(sealed)["token"] == TOKEN
    resealed = seal(sealed)
    keys(NEW_KEY)  # the old key retired: only the resealed value still opens
    assert unseal(resealed)["token"] == TOKEN
    assert "token" not in unseal(sealed)


def test_a_token_stored_before_encryption_is_read_as_it_is(keys):
    keys(NEW_KEY)
    assert unseal({"token": TOKEN}) == {"token": TOKEN}
    assert seal({"token": TOKEN})["token"].startswith(PREFIX)
