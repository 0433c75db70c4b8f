"""Forms of the social queue pages."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from app.models import User, utcnow
from leads.social_quota import MAX_DAILY_QUOTA, local_date, local_time
from leads.tasks import Network, SocialAction, SocialOutcome

SNOOZE_CHOICES = {"hour": "1 hour", "tomorrow": "Tomorrow 9:00", "week": "Next week"}
MORNING_HOUR = 9


class SocialTaskForm(FlaskForm):
    network = SelectField("Network", choices=[(n.value, n.label) for n in Network])
    action = SelectField("Action", choices=[(a.value, a.label) for a in SocialAction])
    due_on = DateField("Due", validators=[Optional()], description="Leave empty for now.")

    def validate_due_on(self, field: DateField) -> None:
        if field.data and field.data.year > utcnow().year + 5:
            raise ValidationError("Choose a date within the next five years.")

    def due_at(self, user: User) -> datetime | None:
        """Start of the chosen day in the rep's zone; None (due now) for today or earlier."""
        if not self.due_on.data or self.due_on.data <= local_date(user):
            return None
        return local_time(user, self.due_on.data, 0)

    @property
    def chosen(self) -> tuple[Network, SocialAction]:
        return Network(self.network.data), SocialAction(self.action.data)


class QuotaDefaultForm(FlaskForm):
    default = IntegerField(
        "Touches a day for every rep without a limit of their own",
        validators=[InputRequired(), NumberRange(min=0, max=MAX_DAILY_QUOTA)],
    )


def parse_outcome(value: str | None) -> SocialOutcome | None:
    try:
        return SocialOutcome(value or "")
    except ValueError:
        return None


def snooze_until(choice: str | None, user: User, now: datetime | None = None) -> datetime | None:
    """When a snooze choice ends, as naive UTC; None for an unknown choice."""
    now = now or utcnow()
    today = local_date(user, now)
    if choice == "hour":
        return now + timedelta(hours=1)
    if choice == "tomorrow":
        return local_time(user, today + timedelta(days=1), MORNING_HOUR)
    if choice == "week":
        return local_time(user, today + timedelta(days=7), MORNING_HOUR)
    return None


def parse_overrides(typed: dict[int, str]) -> tuple[dict[int, int | None], dict[int, str]]:
    """Per-rep limits as typed (empty: the default) and a message per rep typed wrong."""
    overrides: dict[int, int | None] = {}
    problems: dict[int, str] = {}
    for user_id, text in typed.items():
        if not text:
            overrides[user_id] = None
        elif text.isascii() and text.isdigit() and int(text) <= MAX_DAILY_QUOTA:
            overrides[user_id] = int(text)
        else:
            problems[user_id] = f"A whole number from 0 to {MAX_DAILY_QUOTA:,}, or empty."
    return overrides, problems
