"""Forms of the app shell: login, invites, users and teams."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app.api import SCOPES
from app.models import Role
from app.security import MAX_PASSWORD_LENGTH, password_problem


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )


def _acceptable_password(_form: FlaskForm, field: PasswordField) -> None:
    if field.data and (problem := password_problem(field.data)):
        raise ValidationError(problem)


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), _acceptable_password])
    confirm = PasswordField("Repeat it", validators=[DataRequired()])

    def validate_confirm(self, field: PasswordField) -> None:
        if field.data != self.password.data:
            raise ValidationError("The two passwords differ.")


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    email = EmailField(
        "Email", validators=[DataRequired(), Email(check_deliverability=False), Length(max=320)]
    )
    roles = MultiCheckboxField(
        "Roles",
        choices=[(role.value, role.label) for role in Role],
        validators=[DataRequired(message="Choose at least one role.")],
    )
    team_id = SelectField("Team", coerce=int, validators=[Optional()])
    time_zone = StringField("Time zone", validators=[DataRequired(), Length(max=64)])
    password = PasswordField(
        "Password",
        validators=[Optional(), _acceptable_password],
        description="Leave empty to send an invite link instead.",
    )


class TeamForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    manager_id = SelectField("Manager", coerce=int, validators=[Optional()])


class ApiTokenForm(FlaskForm):
    name = StringField(
        "Name", validators=[DataRequired(), Length(max=120)],
        description="What uses it, such as “Website forms” or “Nightly report”.",
    )  # fmt: skip
    scopes = MultiCheckboxField(
        "Scopes",
        choices=list(SCOPES.items()),
        validators=[DataRequired(message="Choose at least one scope.")],
    )


class ConfirmForm(FlaskForm):
    """A form with only the CSRF token, for buttons that change state."""

    confirm = BooleanField(default=True)


def parse_id(text: str | None) -> int | None:
    """A row id typed into a URL or form, or None.

    str.isdigit() alone admits "²", which int() refuses, and a number too
    large for a 64-bit column makes the database driver raise.
    """
    if text and text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None
