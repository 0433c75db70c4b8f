"""Forms of the leads pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField, URLField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from leads.models import LeadStatus

_SHORT = [Optional(), Length(max=250)]
_URL = [Optional(), Length(max=500)]


class LeadForm(FlaskForm):
    first_name = StringField("First name", validators=_SHORT)
    last_name = StringField("Last name", validators=_SHORT)
    company = StringField("Company", validators=_SHORT)
    title = StringField("Title", validators=_SHORT)
    phone = StringField(
        "Phone",
        validators=[Optional(), Length(max=64)],
        render_kw={"inputmode": "tel", "autocomplete": "off"},
    )
    email = StringField(
        "Email",
        validators=[Optional(), Length(max=320)],
        render_kw={"inputmode": "email", "autocomplete": "off"},
    )
    country = StringField(
        "Country",
        validators=[Optional(), Length(max=60)],
        description="Used to read phone numbers written without a country code.",
    )
    city = StringField("City", validators=_SHORT)
    state = StringField("State / region", validators=_SHORT)
    website = URLField("Website", validators=_URL)
    linkedin_url = URLField("LinkedIn", validators=_URL)
    x_url = URLField("X / Twitter", validators=_URL)
    other_profile_url = URLField("Other profile", validators=_URL)
    birthday = DateField("Birthday", validators=[Optional()])
    status = SelectField("Status", choices=[(s.value, s.label) for s in LeadStatus])
    owner_id = SelectField("Owner", coerce=int)
    list_id = SelectField("List", coerce=int)
    source = StringField("Source", validators=_SHORT)
    external_id = StringField("External id", validators=[Optional(), Length(max=200)])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=10_000)])
    custom_fields = TextAreaField(
        "Custom fields",
        validators=[Optional(), Length(max=10_000)],
        description="One per line, as name: value",
    )

    def validate_custom_fields(self, field: TextAreaField) -> None:
        for number, line in enumerate((field.data or "").splitlines(), start=1):
            if line.strip() and ":" not in line:
                raise ValidationError(f"Line {number} has no colon; write it as name: value.")

    def custom_field_values(self) -> dict[str, str]:
        pairs = (
            line.split(":", 1)
            for line in (self.custom_fields.data or "").splitlines()
            if ":" in line
        )
        return {name.strip(): value.strip() for name, value in pairs if name.strip()}


class NoteForm(FlaskForm):
    text = TextAreaField("Note", validators=[DataRequired(), Length(max=10_000)])


class LeadListForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2_000)])
    call_script = TextAreaField("Call script", validators=[Optional(), Length(max=20_000)])
