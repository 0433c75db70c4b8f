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

Both failures may carry the ``external_ids`` made before the failure; the ledger
keeps them, so the next attempt updates those objects instead of creating them.

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
    # Objects the target made before failing: kept, so the next attempt updates them.
    external_ids: dict[str, Any] | None = None


@dataclass(frozen=True)
class NeedsAttention:
    message: str
    external_ids: dict[str, Any] | None = None


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
    # A target switched off by an admin: its rows wait, nothing is delivered.
    paused: bool = False


@dataclass(frozen=True)
class TargetSource:
    """Targets kept elsewhere than in code (an admin's stored CRMs), found by name."""

    get: Callable[[str], Target | None]
    # (workspace id or None for every workspace, enabled ones only) -> targets
    listing: Callable[[int | None, bool], list[Target]]


_REGISTRY: dict[str, Target] = {}
_SOURCES: list[TargetSource] = []


def register_target(target: Target) -> None:
    """Make a target known; adapters call this from their package's init."""
    _REGISTRY[target.name] = target


def register_source(source: TargetSource) -> None:
    if source not in _SOURCES:
        _SOURCES.append(source)


def get_target(name: str) -> Target | None:
    if name in _REGISTRY:
        return _REGISTRY[name]
    return next((t for source in _SOURCES if (t := source.get(name)) is not None), None)


def enabled_targets(workspace_id: int | None = None) -> list[Target]:
    """The targets a newly qualified lead is handed to: config ``HANDOFF_TARGETS``, and
    with a workspace, that workspace's enabled stored targets."""
    names = current_app.config.get("HANDOFF_TARGETS") or ("pipeline",)
    fixed = [_REGISTRY[name] for name in names if name in _REGISTRY]
    if workspace_id is None:
        return fixed
    return fixed + [t for source in _SOURCES for t in source.listing(workspace_id, True)]


def known_targets(workspace_id: int | None = None) -> list[Target]:
    """Every target, stored ones of the workspace (or of all workspaces) included."""
    stored = [t for source in _SOURCES for t in source.listing(workspace_id, False)]
    return list(_REGISTRY.values()) + stored
