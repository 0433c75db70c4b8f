"""HubSpot's batch endpoints: send inputs, match results and errors back to items.

HubSpot answers a batch with 200/201 (all done), 207 (some inputs failed: each error
names the inputs it concerns in its ``context``) or 400 (nothing done). Only the
inputs that failed for a passing reason are sent again; inputs HubSpot refused are
marked on their items with HubSpot's message; the others are not sent twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sync.crm.base import Delivery, HandoffItem
from sync.crm.http import HttpClient, Rejected, Transient

# Error categories in a 207 that say "try again", not "this input is wrong".
RETRYABLE_CATEGORIES = frozenset({"RATE_LIMITS", "INTERNAL_ERROR", "TIMEOUT"})


@dataclass
class Entry:
    """One input of a batch, the items it stands for, and how HubSpot will name it back."""

    items: list[HandoffItem]
    input: dict[str, Any]
    match: str

    def __post_init__(self) -> None:
        self.match = self.match.lower()  # HubSpot lower-cases emails it echoes


OnResult = Callable[[Entry, dict[str, Any]], None]
ResultKey = Callable[[dict[str, Any]], str | None]


class BatchSender:
    def __init__(self, client: HttpClient, delivery: Delivery, what: str) -> None:
        self.client = client
        self.delivery = delivery
        self.what = what  # "contact", "company", ... for messages

    def send(self, path: str, entries: list[Entry], on_result: OnResult, key: ResultKey) -> None:
        """Post the entries; calls ``on_result`` for each one HubSpot accepted."""
        todo = entries
        policy = self.client.policy
        last_error = ""
        for attempt in range(1, policy.max_attempts + 1):
            if not todo:
                return
            if attempt > 1:
                time.sleep(policy.backoff.delay(attempt - 1))
            todo, last_error = self._round(path, todo, on_result, key)
        if todo:
            delay = policy.backoff.delay(policy.max_attempts)
            for entry in todo:
                self._fail(entry, Transient(last_error, delay))

    def _round(
        self, path: str, todo: list[Entry], on_result: OnResult, key: ResultKey
    ) -> tuple[list[Entry], str]:
        try:
            reply = self.client.request("POST", path, json={"inputs": [e.input for e in todo]})
        except Rejected as error:
            return self._rejected(todo, error), error.message
        body = reply.body if isinstance(reply.body, dict) else {}
        results = body.get("results")
        if not isinstance(results, list):
            return todo, "HubSpot's reply had no results."
        by_key = {str(key(r)).lower(): r for r in results if isinstance(r, dict)}
        errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        return self._sort(todo, by_key, errors, on_result)

    def _sort(
        self,
        todo: list[Entry],
        by_key: dict[str | None, dict[str, Any]],
        errors: list[dict[str, Any]],
        on_result: OnResult,
    ) -> tuple[list[Entry], str]:
        named = {k: e for e in errors for k in _error_keys(e)}
        unnamed = [e for e in errors if not _error_keys(e) & {t.match for t in todo}]
        again: list[Entry] = []
        for entry in todo:
            error = named.get(entry.match)
            if error is None and entry.match in by_key:
                on_result(entry, by_key[entry.match])
                continue
            # An error that names no input concerns the inputs without a result.
            error = error or (unnamed[0] if unnamed else None)
            if error is None or error.get("category") in RETRYABLE_CATEGORIES:
                again.append(entry)
            else:
                self._fail(entry, Rejected(self._message(error)))
        reasons = [self._message(e) for e in errors] or ["HubSpot gave no result for some items."]
        return again, reasons[0]

    def _rejected(self, todo: list[Entry], error: Rejected) -> list[Entry]:
        """A 400 applied nothing: fail the inputs it names, or all when it names none."""
        body = error.body if isinstance(error.body, dict) else {}
        details = [e for e in body.get("errors") or [] if isinstance(e, dict)] or [body]
        named = {k: d for d in details for k in _error_keys(d)}
        if not named.keys() & {e.match for e in todo}:
            for entry in todo:
                self._fail(entry, Rejected(f"HubSpot rejected the {self.what}: {error.message}"))
            return []
        rest = []
        for entry in todo:
            if entry.match in named:
                self._fail(entry, Rejected(self._message(named[entry.match])))
            else:
                rest.append(entry)
        return rest

    def _message(self, error: dict[str, Any]) -> str:
        return f"HubSpot rejected the {self.what}: {error.get('message') or error.get('category')}"

    def _fail(self, entry: Entry, error: Rejected | Transient) -> None:
        for item in entry.items:
            self.delivery.fail(item, error)


def _error_keys(error: dict[str, Any]) -> set[str]:
    """The inputs an error names: ids, emails or write-trace ids listed in its context."""
    context = error.get("context")
    if not isinstance(context, dict):
        return set()
    keys = set()
    for value in context.values():
        for one in value if isinstance(value, list) else [value]:
            if isinstance(one, str | int):
                keys.add(str(one).lower())
    return keys
