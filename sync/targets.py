"""Where hand-offs go: a small registry of delivery targets and what a delivery returns.

A target is a name (the ledger's ``target`` column), a label for people, and a
``deliver(rows)`` function. ``deliver`` receives a batch of ledger rows in order and
returns one result per row, in the same order:

- ``Delivered(external_ids)``: the target holds the lead now; the ids it gave back
  (account, contact, deal, ...) are kept on the ledger row.
- ``RetryLater(message, delay=None)``: a transient failure (timeout, 5xx, 429); the
  row is tried again after ``delay`` seconds, or after the ledger's capped
  exponential backoff when no delay is given.
- ``NeedsAttention(message)``: retrying cannot help (the target refused the data);
  the row waits on the Sync page for a person.

A deliver function must be idempotent on ``row.idempotency_key``: the same row can
be delivered again after a crash, and must find what the first delivery made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from flask import current_app


class HandoffRow(NamedTuple):
    """What a target needs of a ledger row, read before the delivery starts."""

    id: int
    workspace_id: int
    lead_id: int
    idempotency_key: str
    attempts: int
    external_ids: dict[str, Any]


@dataclass(frozen=True)
class Delivered:
    external_ids: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RetryLater:
    message: str
    delay: float | None = None


@dataclass(frozen=True)
class NeedsAttention:
    message: str


DeliveryResult = Delivered | RetryLater | NeedsAttention
Deliver = Callable[[Sequence[HandoffRow]], Sequence[DeliveryResult]]


@dataclass(frozen=True)
class Target:
    name: str
    label: str
    deliver: Deliver
    batch_size: int = 1000
    # At most this many deliveries per minute (None: no limit), as the vendor allows.
    per_minute: int | None = None
    # Delivery to this target moves the lead from qualified to handed off.
    hands_off: bool = False


_REGISTRY: dict[str, Target] = {}


def register_target(target: Target) -> None:
    """Make a target known; adapters call this from their package's init."""
    _REGISTRY[target.name] = target


def get_target(name: str) -> Target | None:
    return _REGISTRY.get(name)


def enabled_targets() -> list[Target]:
    """The targets a newly qualified lead is handed to (config ``HANDOFF_TARGETS``)."""
    names = current_app.config.get("HANDOFF_TARGETS") or ("pipeline",)
    return [_REGISTRY[name] for name in names if name in _REGISTRY]


def known_targets() -> list[Target]:
    return list(_REGISTRY.values())
