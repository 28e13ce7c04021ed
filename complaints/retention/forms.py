"""Forms of the privacy pages and of the retention panel on the case page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, Form, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from complaints.retention.models import REASON_LENGTH
from complaints.retention.register import MAX_HORIZON_DAYS
from complaints.retention.sweep import DEFAULT_PLAN_DAYS
from complaints.web.forms import MaxLength
from complaints.web.i18n import _l

# What a date input sends, and what someone types where the browser shows a plain text box.
DATE_FORMATS = ["%Y-%m-%d", "%d-%m-%Y"]
EXTEND_PREFIX = "retention"  # the extend form shares the case page with the step forms
REASON_TOO_LONG = _l("This reason is too long: write at most %(max)s characters.")


class HoldForm(FlaskForm):
    reference = StringField(
        _l("Case reference"),
        validators=[
            DataRequired(_l("Enter the reference of the case, for example 2026-7KQ3-M9XD.")),
            Length(max=24, message=_l("A case reference has at most 24 characters.")),
        ],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    reason = TextAreaField(
        _l("Reason for the hold"),
        validators=[
            DataRequired(_l("Give the reason for the hold.")),
            MaxLength(REASON_LENGTH, REASON_TOO_LONG),
        ],
        render_kw={"rows": "3", "maxlength": str(REASON_LENGTH)},
    )
    until = DateField(
        _l("Hold until (optional)"),
        format=DATE_FORMATS,
        validators=[Optional()],
    )


class LiftHoldForm(FlaskForm):
    hold_id = HiddenField(
        validators=[DataRequired(), Regexp(r"^[0-9]{1,12}$")],
    )


class ExtendForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason for keeping the case longer"),
        validators=[
            DataRequired(_l("Give the reason for keeping the case longer.")),
            MaxLength(REASON_LENGTH, REASON_TOO_LONG),
        ],
        render_kw={"rows": "3", "maxlength": str(REASON_LENGTH)},
    )


class PlanFilterForm(Form):
    """The plan's horizon, read from the query string: a GET form needs no CSRF token."""

    dagen = IntegerField(
        _l("Days ahead"),
        default=DEFAULT_PLAN_DAYS,
        validators=[Optional(), NumberRange(min=0, max=MAX_HORIZON_DAYS)],
    )
