"""Local vendor servers and fast retry settings for the CRM target tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from sync.crm.base import HandoffItem
from tests.sync.crm.fake_hubspot import FakeHubSpot
from tests.sync.crm.fake_pipedrive import SPECS, FakePipedrive

# Short timeouts and backoff so faults cost milliseconds, and no long sleeps in a test.
FAST = {
    "timeout_seconds": 0.5,
    "max_attempts": 3,
    "backoff_base": 0.02,
    "backoff_cap": 0.1,
    "max_wait_seconds": 2,
    # Pacing has tests of its own; here it would only slow the suite down.
    "requests_per_window": 1000,
    "window_seconds": 1,
}


@pytest.fixture
def redis(app):
    """The app's Redis, flushed before each test by the app fixture."""
    return app.extensions["redis"]


@pytest.fixture(scope="session")
def _http_server() -> Iterator[HTTPServer]:
    # Threaded, so a slow answer to one request does not hold back the retry. One
    # server for the session: stopping one takes half a second.
    http = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    http.start()
    yield http
    http.stop()


@pytest.fixture
def server(_http_server) -> Iterator[HTTPServer]:
    """The local server with no handlers: each test installs the vendor it needs."""
    _http_server.clear()
    yield _http_server
    _http_server.clear()


@pytest.fixture
def hubspot(server) -> FakeHubSpot:
    fake = FakeHubSpot(slow=1.0)
    fake.install(server)
    return fake


@pytest.fixture
def pipedrive(server) -> FakePipedrive:
    if not SPECS.is_dir():
        pytest.skip(f"Pipedrive specs not found at {SPECS}")
    fake = FakePipedrive(slow=1.0)
    fake.install(server)
    return fake


@pytest.fixture
def make_item():
    """Factory: a lead as the ledger hands it over; fields override the defaults."""
    return _item


def _item(number: int, **fields) -> HandoffItem:
    defaults = {
        "key": f"handoff-{number}",
        "email": f"Person{number}@Example.com",
        "first_name": f"Pat{number}",
        "last_name": "Lee",
        "phone": f"+1212555{number:04d}",
        "company": "Acme Tools",
        "title": "Head of Operations",
        "website": "https://www.acme-tools.com/about",
        "city": "Denver",
        "state": "CO",
        "country": "United States",
    }
    return HandoffItem(**{**defaults, **fields})
