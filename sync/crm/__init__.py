"""External CRM targets (HubSpot, Pipedrive, a signed webhook) behind one small interface.

The hand-off ledger builds a target with `target_for(kind, settings, field_mapping)`
and calls `deliver(items)`; see `base` for what comes back.
"""

from sync.crm.base import CheckResult, CrmTarget, HandoffItem, ItemResult, Outcome
from sync.crm.registry import KINDS, InvalidTarget, target_for, validate

__all__ = [
    "KINDS",
    "CheckResult",
    "CrmTarget",
    "HandoffItem",
    "InvalidTarget",
    "ItemResult",
    "Outcome",
    "target_for",
    "validate",
]
