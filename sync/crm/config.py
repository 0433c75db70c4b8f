"""Target settings shared by every kind: URLs, limits, timeouts, and the client they build."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from redis import Redis

from sync.crm.http import HttpClient, RateLimiter, RetryPolicy, limiter_key

_NUMBERS = {
    "timeout_seconds": (0.1, 120.0),
    "max_attempts": (1, 10),
    "backoff_base": (0.0, 60.0),
    "backoff_cap": (0.0, 600.0),
    "max_wait_seconds": (0.0, 600.0),
    "requests_per_window": (1, 100_000),
    "window_seconds": (0.1, 86_400.0),
}
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")


def url_error(url: Any) -> str | None:
    """Why a URL cannot be called, or None: http(s) with a host, no credentials in it."""
    if not isinstance(url, str) or not url.strip():
        return "Enter a URL."
    if _UNSAFE.search(url):
        return "The URL must not contain spaces or control characters."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "The URL is not well formed."
    if parts.scheme not in {"http", "https"}:
        return "Use an http:// or https:// URL."
    if not parts.hostname:
        return "The URL has no host."
    if parts.username or parts.password:
        return "Keep credentials out of the URL; use the secret or token field."
    return None


def common_errors(settings: dict[str, Any]) -> dict[str, str]:
    """Messages for the numeric settings and the base URL override, when present."""
    errors = {}
    for name, (low, high) in _NUMBERS.items():
        if settings.get(name) in (None, ""):
            continue
        try:
            value = float(settings[name])
        except (TypeError, ValueError):
            errors[name] = "Enter a number."
            continue
        if not low <= value <= high:
            errors[name] = f"Enter a number from {low:g} to {high:g}."
    if settings.get("base_url") and (message := url_error(settings["base_url"])):
        errors["base_url"] = message
    return errors


def token_error(settings: dict[str, Any], name: str = "token") -> dict[str, str]:
    value = settings.get(name)
    if not isinstance(value, str) or not value.strip():
        return {name: "Enter the API token."}
    if _UNSAFE.search(value):
        return {name: "The token must not contain spaces or control characters."}
    return {}


def build_client(
    *,
    vendor: str,
    kind: str,
    settings: dict[str, Any],
    credential: str,
    default_base_url: str,
    default_limit: tuple[int, float],
    headers: dict[str, str],
    error_message: Callable[[Any], str | None],
    redis: Redis | None,
) -> HttpClient:
    """A client whose rate limit is shared by every process using the same credential."""
    limit = int(settings.get("requests_per_window") or default_limit[0])
    window = float(settings.get("window_seconds") or default_limit[1])
    limiter = RateLimiter(_redis(redis), limiter_key(kind, credential), limit, window)
    return HttpClient(
        vendor,
        settings.get("base_url") or default_base_url,
        headers,
        limiter,
        RetryPolicy.from_settings(settings),
        error_message,
    )


def _redis(redis: Redis | None) -> Redis:
    if redis is not None:
        return redis
    from flask import current_app

    return current_app.extensions["redis"]
