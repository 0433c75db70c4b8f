"""What the hand-off ledger gives a CRM target and what it gets back.

A target takes a list of `HandoffItem` and answers one `ItemResult` per item, in the
same order. Item-level problems never raise: a rejected item is `needs_attention`
with the vendor's reason, a vendor that is down or throttling makes the items
`retry` with a delay, and a wrong token makes every item `needs_attention` with the
vendor's message. External ids learned before a failure are still returned, so the
next delivery updates those objects instead of creating them again.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sync.crm.http import AuthFailed, Rejected, Transient, VendorError


class Outcome(enum.StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    NEEDS_ATTENTION = "needs_attention"


@dataclass
class HandoffItem:
    """One lead (and its deal) to send to one target; `key` makes resending safe."""

    key: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None  # E.164
    company: str | None = None
    title: str | None = None
    website: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)
    deal_name: str | None = None
    deal_value: Decimal | None = None
    deal_currency: str | None = None
    deal_stage: str | None = None
    # Ids this target gave in earlier deliveries, by object type ("contact",
    # "company", "deal", "lead"): those objects are updated, never created again.
    external_ids: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or (self.email or "")

    @property
    def has_deal(self) -> bool:
        return bool(self.deal_name or self.deal_value is not None or self.deal_stage)


@dataclass
class ItemResult:
    key: str
    outcome: Outcome
    external_ids: dict[str, str] = field(default_factory=dict)
    message: str = ""
    retry_after: float | None = None  # seconds, with outcome retry


@dataclass(frozen=True)
class CheckResult:
    """The answer of the admin page's "test connection"."""

    ok: bool
    message: str


class Delivery:
    """Per-item state while a target works through a batch: ids found, first failure.

    Steps (contacts, companies, deals, ...) skip items that already failed; the
    first failure is the one reported.
    """

    def __init__(self, items: list[HandoffItem]) -> None:
        self.items = items
        self.ids: dict[str, dict[str, str]] = {i.key: dict(i.external_ids) for i in items}
        self._failures: dict[str, ItemResult] = {}
        self._finished: set[str] = set()

    def pending(self) -> list[HandoffItem]:
        """Items neither failed nor finished: what a target-wide failure applies to."""
        return [i for i in self.items if i.key not in self._failures.keys() | self._finished]

    def open(self, items: list[HandoffItem]) -> list[HandoffItem]:
        """Those of ``items`` that have not failed in an earlier step."""
        return [i for i in items if i.key not in self._failures]

    def finish(self, items: list[HandoffItem]) -> None:
        """Every step ran for these items; whatever happens next does not touch them."""
        self._finished.update(i.key for i in items)

    def found(self, item: HandoffItem, object_type: str, external_id: Any) -> None:
        self.ids[item.key][object_type] = str(external_id)

    def fail(self, item: HandoffItem, error: VendorError) -> None:
        if item.key in self._failures or item.key in self._finished:
            return
        if isinstance(error, Transient):
            outcome, delay = Outcome.RETRY, error.retry_after
        else:
            outcome, delay = Outcome.NEEDS_ATTENTION, None
        self._failures[item.key] = ItemResult(
            item.key, outcome, self.ids[item.key], error.message, delay
        )

    def fail_all(self, items: list[HandoffItem], error: VendorError) -> None:
        for item in items:
            self.fail(item, error)

    def results(self) -> list[ItemResult]:
        return [
            self._failures.get(i.key) or ItemResult(i.key, Outcome.DELIVERED, self.ids[i.key])
            for i in self.items
        ]


class CrmTarget(ABC):
    """An external system the ledger delivers to."""

    kind: str

    def deliver(self, items: list[HandoffItem]) -> list[ItemResult]:
        """Send the items; one result per item, in order. Never raises for vendor trouble."""
        return self._run(items, self._deliver)

    def erase(self, items: list[HandoffItem]) -> list[ItemResult]:
        """Delete what earlier deliveries made of these items (only ``key`` and
        ``external_ids`` are set); an object already gone counts as deleted."""
        return self._run(items, self._erase)

    def _run(self, items: list[HandoffItem], step: Callable[[Delivery], None]) -> list[ItemResult]:
        delivery = Delivery(items)
        if items:
            try:
                step(delivery)
            except (AuthFailed, Transient) as error:
                # Target-wide: the token is wrong or the vendor is unavailable, so
                # every item still open shares the same fate and message.
                delivery.fail_all(delivery.pending(), error)
        return delivery.results()

    def check(self) -> CheckResult:
        """One harmless authenticated request, for the admin page's "test connection"."""
        try:
            self._check()
        except VendorError as error:
            return CheckResult(False, error.message)
        return CheckResult(True, f"Connected to {self.display_name}.")

    @property
    def display_name(self) -> str:
        return self.kind.capitalize()

    @abstractmethod
    def _deliver(self, delivery: Delivery) -> None: ...

    @abstractmethod
    def _erase(self, delivery: Delivery) -> None: ...

    @abstractmethod
    def _check(self) -> None: ...


__all__ = [
    "CheckResult",
    "CrmTarget",
    "Delivery",
    "HandoffItem",
    "ItemResult",
    "Outcome",
    "Rejected",
]
