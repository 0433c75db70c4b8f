"""Field mapping: which vendor property each object gets from which lead or deal field.

A mapping is ``{object_type: {vendor_property: source}}``, where a source is a field of
`HandoffItem` (``email``, ``first_name``, ``deal_value``, ...) or ``custom.<name>`` for a
custom field. An admin's mapping is laid over the target's defaults; a property mapped
to an empty source is dropped. ``stages`` maps Leadline deal stages to vendor stages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from decimal import Decimal
from typing import Any

from sync.crm.base import HandoffItem

CUSTOM_PREFIX = "custom."
STAGES = "stages"
_NOT_SOURCES = {"key", "custom", "external_ids"}
SOURCES = frozenset(f.name for f in fields(HandoffItem) if f.name not in _NOT_SOURCES)

Mapping_ = dict[str, dict[str, str]]


def merged(defaults: Mapping_, overrides: Mapping[str, Any] | None) -> Mapping_:
    """The admin's mapping over the defaults; an empty source removes a default."""
    result = {object_type: dict(props) for object_type, props in defaults.items()}
    for object_type, props in (overrides or {}).items():
        target = result.setdefault(object_type, {})
        for prop, source in (props or {}).items():
            if source:
                target[prop] = source
            else:
                target.pop(prop, None)
    return result


def source_value(item: HandoffItem, source: str) -> Any:
    if source.startswith(CUSTOM_PREFIX):
        return item.custom.get(source[len(CUSTOM_PREFIX) :])
    return getattr(item, source)


def values(
    item: HandoffItem, object_mapping: Mapping[str, str], decimal: Callable[[Decimal], Any] = float
) -> dict[str, Any]:
    """The object's properties for this item; empty values are left out, not cleared."""
    result = {}
    for prop, source in object_mapping.items():
        value = source_value(item, source)
        if value is None or value == "":
            continue
        result[prop] = decimal(value) if isinstance(value, Decimal) else value
    return result


def validate(
    mapping: Any,
    object_types: frozenset[str],
    property_error: Callable[[str, str], str | None],
) -> dict[str, str]:
    """Field-level messages, keyed ``object.property``; empty when the mapping is usable."""
    if mapping in (None, ""):
        return {}
    if not isinstance(mapping, dict):
        return {"field_mapping": "The field mapping must be an object of object types."}
    errors: dict[str, str] = {}
    for object_type, props in mapping.items():
        if object_type == STAGES:
            errors.update(_stage_errors(props))
            continue
        if object_type not in object_types:
            allowed = ", ".join(sorted(object_types))
            errors[object_type] = f"Unknown object type {object_type!r}; use one of {allowed}."
            continue
        if not isinstance(props, dict):
            errors[object_type] = "Map each vendor property to a source field."
            continue
        for prop, source in props.items():
            message = _source_error(source) or property_error(object_type, str(prop))
            if message:
                errors[f"{object_type}.{prop}"] = message
    return errors


def _source_error(source: Any) -> str | None:
    if source in (None, ""):
        return None  # removes a default mapping
    if not isinstance(source, str):
        return "The source must be a field name."
    if source.startswith(CUSTOM_PREFIX) and len(source) > len(CUSTOM_PREFIX):
        return None
    if source not in SOURCES:
        return f"Unknown source field {source!r}; use a lead or deal field or custom.<name>."
    return None


def _stage_errors(stages: Any) -> dict[str, str]:
    if not isinstance(stages, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int) for k, v in stages.items()
    ):
        return {STAGES: "Map each Leadline stage to a vendor stage."}
    return {}
