"""Social profile addresses: which ones a rep may be sent to."""

from __future__ import annotations

from urllib.parse import urlsplit

from leads.tasks import Network

# A host is allowed when it is one of these or a subdomain of one (www., uk., mobile.).
NETWORK_HOSTS: dict[Network, tuple[str, ...]] = {
    Network.LINKEDIN: ("linkedin.com",),
    Network.X: ("x.com", "twitter.com"),
}


def profile_url_problem(network: Network, url: str | None) -> str | None:
    """Why ``url`` is not a profile address to open for ``network``, or None when it is.

    Only https: the link opens from a page signed in to Leadline, and anything else
    (javascript:, data:, plain http) is either unsafe or a mistyped address.
    """
    if not url or not url.strip():
        return f"No {network.label} address."
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return "Not a web address."
    if parts.scheme.lower() != "https":
        return "Only https:// addresses are accepted."
    if not host or "." not in host:
        return "The address has no host name."
    allowed = NETWORK_HOSTS.get(network)
    if allowed and not any(host == name or host.endswith("." + name) for name in allowed):
        return f"A {network.label} address must be on {' or '.join(allowed)}."
    return None


def usable_profile_url(network: Network, url: str | None) -> str | None:
    """``url`` stripped when it may be opened for ``network``, else None."""
    return url.strip() if url and profile_url_problem(network, url) is None else None
