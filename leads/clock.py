"""The application's clock: one seam tests can move, instead of patching datetime.

Rotation reads it; the dial queue (``DIAL_NOW``) and the cadence runner (``CADENCE_NOW``)
keep their own settings for a server process, and otherwise read this clock too.
"""

from __future__ import annotations

from datetime import datetime

from app.models import utcnow

_frozen: datetime | None = None


def now() -> datetime:
    """The current UTC time (naive, like every stored timestamp), or the time a test set."""
    return _frozen or utcnow()


def set_now(moment: datetime | None) -> None:
    """Pin the clock at ``moment`` (naive UTC); None lets it run again."""
    global _frozen
    _frozen = moment
