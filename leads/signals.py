"""What happened to leads, announced so higher packages can react without being imported here."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent after a captured lead is committed, with the list as sender and
# lead_id=, created= (False for a known person) and suppressed= (on the
# do-not-contact list). Rotation will listen here to hand new leads out.
lead_captured = _signals.signal("lead-captured")
