"""Forms of the referral pages and of filing on someone's behalf."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from complaints.cases.models import Route
from complaints.intake.forms import (
    _EMAIL,
    _PHONE,
    DISCLOSURES,
    LONG_TEXT,
    MAX_EMAIL,
    MAX_NAME,
    MAX_PEOPLE,
    MAX_PHONE,
    MAX_QUERY,
    MAX_WHEN_TEXT,
    NO_AUTOFILL,
    DayField,
    MultiValueField,
    strip,
)
from complaints.intake.services import MAX_SHORT, MAX_TEXT
from complaints.referral.proxy import ProxyChannel
from complaints.referral.services import ConsentChannel, ReferralScope, parse_choice
from complaints.web.i18n import _l


def _one_of(values: Collection[str]) -> Any:
    def check(form: Any, field: Field) -> None:
        if field.data and field.data not in values:
            raise ValidationError(_l("Choose one of the options shown."))

    return check


class ReferForm(FlaskForm):
    # A route and a scope in one value (``ReferralChoice.value``): the page offers only the
    # pairs the consent and the rules allow, and the service refuses any other.
    choice = StringField(
        _l("Pass the report on to"),
        validators=[DataRequired(_l("Choose where to pass the report on to."))],
        filters=[strip],
    )

    def validate_choice(self, field: Field) -> None:
        if parse_choice(field.data) is None:
            raise ValidationError(_l("Choose one of the options shown."))


class ConsentForm(FlaskForm):
    """Consent the complainant gave the confidant in person or by phone."""

    consent_scope = StringField(
        _l("What may be passed on"),
        validators=[
            DataRequired(_l("Choose what the complainant agreed to.")),
            _one_of([s.value for s in ReferralScope]),
        ],
        filters=[strip],
    )
    channel = StringField(
        _l("How the complainant gave consent"),
        validators=[
            DataRequired(_l("Choose how the complainant gave consent.")),
            _one_of([c.value for c in ConsentChannel]),
        ],
        filters=[strip],
    )
    given_on = DayField(
        _l("Day consent was given"),
        validators=[DataRequired(_l("Enter the day the complainant gave consent."))],
    )

    def __init__(self, *args: Any, today: date, earliest: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._today = today
        self._earliest = earliest

    def validate_given_on(self, field: Field) -> None:
        if field.data is None:
            return
        if field.data > self._today:
            raise ValidationError(_l("The day cannot be in the future."))
        if field.data < self._earliest:
            raise ValidationError(_l("The day cannot be before the report was made."))


# What the employee told, as the review sends it on unchanged: every field but the searches,
# the recipients and the token.
PROXY_ANSWERS = (
    "channel",
    "category",
    "grounds",
    "description",
    "desired_outcome",
    "last_incident_on",
    "ongoing",
    "when_text",
    "unit",
    "place",
    "accused_pick",
    "accused_names",
    "disclosure",
    "employee_pick",
    "name",
    "email",
    "phone",
    "route",
)


class ProxyReportForm(FlaskForm):
    """A whole report on one page, as a confidant takes it down in a conversation."""

    channel = StringField(
        _l("How did the employee contact you?"),
        validators=[
            DataRequired(_l("Choose how the employee contacted you.")),
            _one_of([c.value for c in ProxyChannel]),
        ],
        filters=[strip],
    )
    category = StringField(
        _l("What happened?"),
        validators=[DataRequired(_l("Choose what happened."))],
        filters=[strip],
    )
    grounds = MultiValueField(_l("Grounds of discrimination"))
    last_incident_on = DayField(_l("Date (the last time, if more than once)"), [Optional()])
    ongoing = BooleanField(_l("It is still going on"))
    when_text = StringField(
        _l("When, in the employee's words (optional)"),
        validators=[
            Length(max=MAX_WHEN_TEXT, message=_l("Write at most %(max)d characters here."))
        ],
        filters=[strip],
    )
    unit = SelectField(_l("Where in the organisation"), validate_choice=False, coerce=str)
    place = StringField(
        _l("Place (optional)"),
        validators=[Length(max=MAX_SHORT, message=_l("Write at most %(max)d characters here."))],
        filters=[strip],
    )
    description = TextAreaField(
        _l("What happened, as the employee told it"),
        validators=[
            DataRequired(_l("Describe what happened. A few sentences are enough.")),
            Length(max=MAX_TEXT, message=_l("Shorten the description to %(max)d characters.")),
        ],
        render_kw=LONG_TEXT,
    )
    accused_query = StringField(
        _l("Search the directory by name"),
        validators=[Length(max=MAX_QUERY, message=_l("Use at most %(max)d characters to search."))],
        filters=[strip],
        render_kw={**NO_AUTOFILL, "type": "search"},
    )
    accused_pick = MultiValueField(_l("People from the directory the report is about"))
    accused_names = TextAreaField(
        _l("Or type their names, one per line"),
        validators=[Length(max=MAX_PEOPLE * (MAX_NAME + 1))],
        render_kw={**NO_AUTOFILL, "rows": 3},
    )
    desired_outcome = TextAreaField(
        _l("What the employee hopes for (optional)"),
        validators=[Length(max=MAX_TEXT, message=_l("Shorten this text to %(max)d characters."))],
        render_kw={**LONG_TEXT, "rows": 4},
    )
    disclosure = StringField(
        _l("Does the employee give their name?"),
        validators=[
            DataRequired(_l("Choose whether the employee gives their name.")),
            _one_of(DISCLOSURES),
        ],
        filters=[strip],
    )
    employee_query = StringField(
        _l("Find the employee in the directory"),
        validators=[Length(max=MAX_QUERY, message=_l("Use at most %(max)d characters to search."))],
        filters=[strip],
        render_kw={**NO_AUTOFILL, "type": "search"},
    )
    employee_pick = StringField(_l("The employee"), filters=[strip])
    name = StringField(
        _l("The employee's name"),
        validators=[Length(max=MAX_NAME, message=_l("A name can be at most %(max)d characters."))],
        filters=[strip],
        render_kw=NO_AUTOFILL,
    )
    email = StringField(
        _l("E-mail address (optional)"),
        validators=[
            Length(max=MAX_EMAIL),
            Optional(),
            Regexp(_EMAIL, message=_l("Enter an e-mail address like name@example.nl.")),
        ],
        filters=[strip],
        render_kw={**NO_AUTOFILL, "type": "email"},
    )
    phone = StringField(
        _l("Phone number (optional)"),
        validators=[
            Length(max=MAX_PHONE),
            Optional(),
            Regexp(
                _PHONE, message=_l("Enter a phone number using digits, for example 06 12345678.")
            ),
        ],
        filters=[strip],
        render_kw={**NO_AUTOFILL, "type": "tel"},
    )
    route = StringField(
        _l("Who should handle the report?"),
        validators=[DataRequired(_l("Choose who should handle the report."))],
        filters=[strip],
    )
    # The ids of the recipients the review showed; filing is held to them.
    recipients = MultiValueField()

    def __init__(
        self,
        *args: Any,
        categories: Collection[str],
        grounds: Collection[str],
        unit_ids: Collection[str],
        today: date,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._categories = categories
        self._grounds = grounds
        self._unit_ids = unit_ids
        self._today = today

    def validate_category(self, field: Field) -> None:
        if field.data not in self._categories:
            raise ValidationError(_l("Choose one of the options shown."))

    def validate_route(self, field: Field) -> None:
        if field.data not in {route.value for route in Route}:
            raise ValidationError(_l("Choose one of the options shown."))

    def validate_grounds(self, field: Field) -> None:
        if any(g not in self._grounds for g in field.data):
            raise ValidationError(_l("Choose grounds from the list shown."))

    def validate_last_incident_on(self, field: Field) -> None:
        if field.data is not None and field.data > self._today:
            raise ValidationError(_l("The date cannot be in the future."))

    def validate_unit(self, field: Field) -> None:
        if field.data and field.data not in self._unit_ids:
            raise ValidationError(_l("Choose a part of the organisation from the list."))

    def validate_accused_names(self, field: Field) -> None:
        names = self.typed_accused()
        if any(len(name) > MAX_NAME for name in names):
            raise ValidationError(_l("A name can be at most %(max)d characters.", max=MAX_NAME))
        if len(names) + len(self.accused_pick.data) > MAX_PEOPLE:
            raise ValidationError(
                _l(
                    "Name at most %(max)d people here; name anyone else in the description.",
                    max=MAX_PEOPLE,
                )
            )

    def validate_name(self, field: Field) -> None:
        named = self.disclosure.data in ("confidential", "named")
        if named and not field.data and not self.picked_employee():
            raise ValidationError(
                _l("Enter the employee's name, find them in the directory, or choose anonymous.")
            )

    def typed_accused(self) -> list[str]:
        return [
            line.strip() for line in (self.accused_names.data or "").splitlines() if line.strip()
        ]

    def picked_accused(self) -> list[int]:
        return [int(v) for v in self.accused_pick.data if v.isdigit() and len(v) <= 18]

    def picked_employee(self) -> int | None:
        value = self.employee_pick.data or ""
        return int(value) if value.isdigit() and len(value) <= 18 else None

    def reviewed(self) -> bool:
        """Whether the answers come from the review (which always names someone)."""
        return bool(self.recipients.data)

    def expected_recipients(self) -> frozenset[int]:
        """The ids the review showed; a garbled list never matches, so the review comes back."""
        if any(not (v.isdigit() and len(v) <= 18) for v in self.recipients.data):
            return frozenset()
        return frozenset(int(v) for v in self.recipients.data)
