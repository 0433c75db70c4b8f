"""Test data for the dial queue: leads with real normalized phones, owned by a caller."""

from __future__ import annotations

from datetime import datetime
from itertools import count

from app.extensions import db
from app.models import User
from leads.models import Lead, LeadStatus
from leads.normalize import normalize_phone

# A Wednesday in January: 13:00 in New York, 10:00 in Los Angeles, 08:00 in Honolulu.
OPEN = datetime(2026, 1, 14, 18, 0)
_numbers = count(100)


def make_lead(owner: User | None, area: str = "212", **fields) -> Lead:
    """A diallable lead in the area code's zone, with a unique number."""
    phone = normalize_phone(f"+1 {area} 555 {next(_numbers):04d}")
    assert phone is not None and phone.e164, "use a real area code"
    lead = Lead(
        workspace_id=(owner.workspace_id if owner else fields.pop("workspace_id")),
        owner_id=owner.id if owner else None,
        first_name=fields.pop("first_name", f"Lead {area}"),
        status=LeadStatus.NEW.value,
        phone_raw=phone.raw,
        phone_e164=phone.e164,
        phone_region=phone.region,
        phone_time_zones=list(phone.time_zones),
        time_zone=phone.time_zones[0] if phone.time_zones else None,
        diallable=True,
        **fields,
    )
    db.session.add(lead)
    db.session.commit()
    return lead
