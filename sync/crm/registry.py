"""The kinds of CRM target, how to build one, and what its settings must hold."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import Redis

from sync.crm import fields, hubspot, pipedrive, webhook
from sync.crm.base import CrmTarget


@dataclass(frozen=True)
class Kind:
    label: str
    target: type[CrmTarget]
    validate_settings: Callable[[dict[str, Any]], dict[str, str]]
    object_types: frozenset[str]
    property_error: Callable[[str, str], str | None]


KINDS: dict[str, Kind] = {
    "hubspot": Kind(
        "HubSpot",
        hubspot.HubSpotTarget,
        hubspot.validate_settings,
        hubspot.OBJECT_TYPES,
        hubspot.property_error,
    ),
    "pipedrive": Kind(
        "Pipedrive",
        pipedrive.PipedriveTarget,
        pipedrive.validate_settings,
        pipedrive.OBJECT_TYPES,
        pipedrive.property_error,
    ),
    "webhook": Kind(
        "Webhook",
        webhook.WebhookTarget,
        webhook.validate_settings,
        webhook.OBJECT_TYPES,
        webhook.property_error,
    ),
}


class InvalidTarget(ValueError):
    """The settings or field mapping cannot make a working target."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def validate(kind: str, settings: Any, field_mapping: Any = None) -> dict[str, str]:
    """Field-level messages for the admin form; empty when a target can be built."""
    if kind not in KINDS:
        return {"kind": f"Unknown target kind; use one of {', '.join(KINDS)}."}
    if not isinstance(settings, dict):
        return {"settings": "The settings must be an object."}
    spec = KINDS[kind]
    errors = spec.validate_settings(settings)
    mapping_errors = fields.validate(field_mapping, spec.object_types, spec.property_error)
    errors.update({f"field_mapping.{k}": v for k, v in mapping_errors.items()})
    if kind == "pipedrive":
        errors.update(_pipedrive_stage_errors(field_mapping))
    return errors


def target_for(
    kind: str,
    settings: dict[str, Any],
    field_mapping: dict[str, Any] | None = None,
    redis: Redis | None = None,
) -> CrmTarget:
    """A ready target; raises InvalidTarget (with field-level errors) for bad settings.

    ``redis`` holds the shared rate limit; by default the app's connection.
    """
    if errors := validate(kind, settings, field_mapping):
        raise InvalidTarget(errors)
    return KINDS[kind].target(settings, field_mapping, redis=redis)


def _pipedrive_stage_errors(field_mapping: Any) -> dict[str, str]:
    stages = (field_mapping or {}).get(fields.STAGES) if isinstance(field_mapping, dict) else None
    if isinstance(stages, dict) and not all(str(v).isdigit() for v in stages.values()):
        return {f"field_mapping.{fields.STAGES}": "Pipedrive stages are numeric stage ids."}
    return {}
