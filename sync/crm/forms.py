"""The admin form for a CRM target: the fields, and the checks `registry.validate` makes.

The field mapping is typed as lines, one property each: ``contact.jobtitle = title``,
``deal.amount = deal_value``, ``stages.qualified = 3``; ``#`` starts a comment and an
empty source (``contact.phone =``) drops a default. A secret left blank when editing
keeps the stored one, so the page never has to show it.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    DecimalField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from sync.crm.registry import KINDS, validate

SECRET_FIELDS = ("token", "secret")
_OPTIONAL_SETTINGS = (
    "base_url",
    "url",
    "deal_pipeline",
    "deal_object",
    "requests_per_window",
    "window_seconds",
    "timeout_seconds",
    "max_attempts",
    "batch_size",
)


class CrmTargetForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    kind = SelectField("Kind", choices=[(k, spec.label) for k, spec in KINDS.items()])
    token = PasswordField("API token", validators=[Optional(), Length(max=500)])
    url = StringField("Webhook URL", validators=[Optional(), Length(max=2000)])
    secret = PasswordField("Signing secret", validators=[Optional(), Length(max=500)])
    base_url = StringField("API base URL (leave blank for the vendor's)", [Optional()])
    deal_object = SelectField(
        "Send deals as",
        choices=[("", "—"), ("deal", "Deals"), ("lead", "Leads (Pipedrive)")],
        default="",
    )
    deal_pipeline = StringField("HubSpot deal pipeline", validators=[Optional(), Length(max=100)])
    requests_per_window = IntegerField("Requests allowed", validators=[Optional()])
    window_seconds = DecimalField("…per seconds", validators=[Optional()])
    timeout_seconds = DecimalField("Timeout (seconds)", validators=[Optional()])
    max_attempts = IntegerField("Attempts per call", validators=[Optional()])
    batch_size = IntegerField("Batch size (HubSpot)", validators=[Optional()])
    field_mapping = TextAreaField("Field mapping", validators=[Optional(), Length(max=20_000)])

    def __init__(self, *args: Any, stored: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stored = stored or {}  # the target's saved settings, secrets included

    def settings(self) -> dict[str, Any]:
        """The settings as `target_for` takes them; blank secrets keep the stored ones."""
        result = {}
        for name in (*SECRET_FIELDS, *_OPTIONAL_SETTINGS):
            value = self[name].data
            if name in SECRET_FIELDS and not value:
                value = self.stored.get(name)
            if value not in (None, ""):
                result[name] = (
                    float(value) if name in ("window_seconds", "timeout_seconds") else value
                )
        return result

    def mapping(self) -> dict[str, dict[str, str]]:
        return mapping_from_text(self.field_mapping.data or "")[0]

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        mapping, line_errors = mapping_from_text(self.field_mapping.data or "")
        errors = validate(self.kind.data, self.settings(), mapping)
        for key, message in errors.items():
            name = key if key in self._fields else "field_mapping"
            text = message if name != "field_mapping" else f"{key.split('.', 1)[-1]}: {message}"
            self[name].errors = [*self[name].errors, text]
        self.field_mapping.errors = [*self.field_mapping.errors, *line_errors]
        return valid and not errors and not line_errors


def mapping_from_text(text: str) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Parse mapping lines; (mapping, messages naming the lines that could not be read)."""
    mapping: dict[str, dict[str, str]] = {}
    errors = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        target, equals, source = line.partition("=")
        object_type, dot, prop = target.strip().partition(".")
        if not equals or not dot or not object_type or not prop.strip():
            errors.append(f"Line {number}: write object.property = source.")
            continue
        mapping.setdefault(object_type, {})[prop.strip()] = source.strip()
    return mapping, errors


def mapping_to_text(mapping: dict[str, dict[str, Any]] | None) -> str:
    """The stored mapping as the form shows it."""
    return "\n".join(
        f"{object_type}.{prop} = {source}"
        for object_type, props in (mapping or {}).items()
        for prop, source in props.items()
    )


def masked(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings safe to show: a secret is only said to be set (it is stored encrypted)."""
    return {k: ("set" if k in SECRET_FIELDS and v else v) for k, v in settings.items()}
