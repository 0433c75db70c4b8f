"""Forms of the rotation pages: rules, rep availability, away periods, reassignment."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TimeField,
)  # fmt: skip
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from leads.rotation_models import RotationMethod

_TEXT = [Optional(), Length(max=120)]
WEEKDAYS = [("1", "Mon"), ("2", "Tue"), ("3", "Wed"), ("4", "Thu"), ("5", "Fri"), ("6", "Sat"),
            ("7", "Sun")]  # fmt: skip


class RuleForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    position = IntegerField(
        "Order", default=10, validators=[Optional(), NumberRange(min=0, max=100_000)],
        description="Rules are tried from the lowest number up.",
    )  # fmt: skip
    enabled = BooleanField("Enabled", default=True)
    is_fallback = BooleanField(
        "Fallback pool", description="Takes leads no rule matched, or whose rule had nobody free."
    )
    method = SelectField("Method", choices=[(m.value, m.label) for m in RotationMethod])
    list_id = SelectField("List", coerce=int, validators=[Optional()])
    source = StringField("Source", validators=_TEXT)
    country = StringField("Country (2 letters)", validators=[Optional(), Length(min=2, max=2)])
    state = StringField("State / region", validators=_TEXT)
    time_zone = StringField("Time zone", validators=[Optional(), Length(max=64)])
    field_name = StringField("Custom field", validators=_TEXT)
    field_value = StringField("equals", validators=[Optional(), Length(max=250)])
    sla_hours = DecimalField(
        "SLA (hours)",
        places=None,
        validators=[Optional(), NumberRange(min=0.01, message="Hours must be above zero.")],
        description="Untouched this long after assignment, the lead moves on. Empty: never.",
    )
    max_rotations = IntegerField(
        "Moves before escalation", default=2,
        validators=[Optional(), NumberRange(min=0, max=100, message="Between 0 and 100.")],
    )  # fmt: skip

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Not a field validator: Optional() would skip it when the value is the empty one.
        if bool((self.field_value.data or "").strip()) != bool(
            (self.field_name.data or "").strip()
        ):
            self.field_value.errors = [
                *self.field_value.errors,
                "Give both the custom field's name and the value it must equal.",
            ]
            return False
        return valid


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _not_negative(label: str) -> list:
    return [
        Optional(),
        NumberRange(min=0, message=f"The {label} cannot be below zero."),
        NumberRange(max=1_000_000, message=f"The {label} is at most 1,000,000."),
    ]


class RepSettingsForm(FlaskForm):
    accepts_leads = BooleanField("Takes new leads", default=True)
    work_start = TimeField("Working hours from", validators=[Optional()])
    work_end = TimeField("to", validators=[Optional()])
    work_days = MultiCheckboxField("Working days", choices=WEEKDAYS)
    daily_cap = IntegerField("New leads per day (cap)", validators=_not_negative("daily cap"))
    open_cap = IntegerField("Open leads (cap)", validators=_not_negative("open-lead cap"))

    def validate_work_end(self, field: TimeField) -> None:
        if (field.data is None) != (self.work_start.data is None):
            raise ValidationError("Give both ends of the working hours, or neither.")
        if field.data is not None and field.data == self.work_start.data:
            raise ValidationError("Working hours cannot start and end at the same time.")

    def validate_work_days(self, field: MultiCheckboxField) -> None:
        if not field.data:
            raise ValidationError("Choose at least one working day.")


class AwayForm(FlaskForm):
    starts_on = DateField("Away from", validators=[DataRequired(message="Give a start date.")])
    ends_on = DateField("until (inclusive)", validators=[DataRequired(message="Give an end date.")])
    note = StringField("Note", validators=[Optional(), Length(max=200)])

    def validate_ends_on(self, field: DateField) -> None:
        if field.data and self.starts_on.data and field.data < self.starts_on.data:
            raise ValidationError("The end is before the start.")


class ReassignForm(FlaskForm):
    lead_ids = StringField("Lead ids", validators=[Optional(), Length(max=20_000)])
    from_user_id = SelectField("All open leads of", coerce=int, validators=[Optional()])
    to_user_id = SelectField("Give them to", coerce=int, validators=[Optional()])
