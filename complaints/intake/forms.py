"""The forms of the guided report, one per step.

Every field has a server-side length limit. Required answers use :class:`Required`, which
stands aside when a page is only being saved part-way (a search, an upload, a removal), so
nothing the person typed is refused just because another answer is still missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import date, datetime
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, Field, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional, Regexp, StopValidation, ValidationError
from wtforms.widgets import DateInput

from complaints.cases.labels import RELATIONS
from complaints.intake.services import MAX_SHORT, MAX_TEXT
from complaints.web.forms import MaxLength
from complaints.web.i18n import _l

MAX_NAME = 200
MAX_EMAIL = 254
MAX_PHONE = 40
MAX_QUERY = 100
# Stored together with the dates in words ("from 2 March 2026 to ...; still going on; ..."),
# which must stay within the service's limit for one-line answers.
MAX_WHEN_TEXT = MAX_SHORT - 100
MAX_PEOPLE = 10  # accused and witnesses each; anyone else can be named in the description
DISCLOSURES = ("anonymous", "confidential", "named")
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE = re.compile(r"^[0-9+()\-. ]{6,40}$")
# Long texts: no maxlength attribute, because browsers silently cut pasted text at that length.
# The limit is checked on the server instead, with the text kept for the person to shorten.
LONG_TEXT = {"maxlength": False, "rows": 12, "spellcheck": "true"}
NO_AUTOFILL = {"autocomplete": "off", "spellcheck": "false"}


def strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class Required:
    """The answer must be given, unless the form is only being saved part-way."""

    field_flags = {"required": True}  # noqa: RUF012 - read by WTForms

    def __init__(self, message: Any) -> None:
        self.message = message

    def __call__(self, form: Any, field: Field) -> None:
        if getattr(form, "partial", False):
            return
        data = field.data
        if data is None or data == [] or (isinstance(data, str) and not data.strip()):
            field.errors[:] = []
            raise StopValidation(self.message)


class MultiValueField(Field):
    """Several values under one name (a group of checkboxes); rendered by the template."""

    data: list[str]

    def process_data(self, value: Any) -> None:
        self.data = [str(v) for v in value] if value else []

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = [str(v).strip() for v in valuelist if str(v).strip()]


class DayField(StringField):
    """A date, typed or picked; several everyday ways of writing it are accepted."""

    widget = DateInput()

    def process_data(self, value: Any) -> None:
        self.data = value if isinstance(value, date) else None
        self.typed = value.isoformat() if isinstance(value, date) else ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.typed = str(valuelist[0]).strip()[:40] if valuelist else ""
        self.data = None
        if not self.typed:
            return
        for pattern in DATE_FORMATS:
            try:
                self.data = datetime.strptime(self.typed, pattern).date()  # noqa: DTZ007 - a day
            except ValueError:
                continue
            return
        raise ValueError(_l("Enter the date as day-month-year, for example 3-4-2026."))

    def _value(self) -> str:
        return self.typed


class StepForm(FlaskForm):
    """A step of the report. ``partial`` is set when the page is saved without going on."""

    partial = False


class WhatForm(StepForm):
    category = StringField(
        _l("What happened?"),
        validators=[
            Required(_l("Choose what happened.")),
            Length(max=40, message=_l("Choose one of the options shown.")),
        ],
        filters=[strip],
    )
    grounds = MultiValueField(_l("Grounds of discrimination"))

    def __init__(
        self,
        *args: Any,
        categories: Collection[str],
        grounds: Collection[str],
        asks_grounds: Callable[[str], bool],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._categories = categories
        self._grounds = grounds
        self._asks_grounds = asks_grounds

    def validate_category(self, field: Field) -> None:
        if field.data and field.data not in self._categories:
            raise ValidationError(_l("Choose one of the options shown."))

    def validate_grounds(self, field: Field) -> None:
        if any(g not in self._grounds for g in field.data):
            raise ValidationError(_l("Choose grounds from the list shown."))
        category = self.category.data or ""
        if not self.partial and self._asks_grounds(category) and not field.data:
            raise ValidationError(
                _l(
                    "Choose at least one ground of discrimination. "
                    "If you are not sure, choose the one that comes closest."
                )
            )


class WhenWhereForm(StepForm):
    date_from = DayField(_l("On or from (date)"), validators=[Optional()])
    date_to = DayField(_l("Until (date)"), validators=[Optional()])
    ongoing = BooleanField(_l("It is still going on"))
    when_text = TextAreaField(
        _l("In your own words (optional)"),
        validators=[MaxLength(MAX_WHEN_TEXT, _l("Write at most %(max)d characters here."))],
        render_kw={"rows": 2},
    )
    unit = SelectField(_l("Where in the organisation"), validate_choice=False, coerce=str)
    place = StringField(
        _l("Place (optional)"),
        validators=[MaxLength(MAX_SHORT, _l("Write at most %(max)d characters here."))],
    )

    def __init__(self, *args: Any, unit_ids: Collection[str], today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unit_ids = unit_ids
        self._today = today

    def validate_date_from(self, field: Field) -> None:
        if field.data is not None and field.data > self._today:
            raise ValidationError(_l("The date cannot be in the future."))

    def validate_date_to(self, field: Field) -> None:
        if field.data is None:
            return
        if field.data > self._today:
            raise ValidationError(_l("The date cannot be in the future."))
        start = self.date_from.data
        if start is not None and field.data < start:
            raise ValidationError(_l("The end date must be the same as or after the start date."))

    def validate_unit(self, field: Field) -> None:
        if field.data and field.data not in self._unit_ids:
            raise ValidationError(_l("Choose a part of the organisation from the list."))


class DescriptionForm(StepForm):
    description = TextAreaField(
        _l("Describe what happened"),
        validators=[
            Required(_l("Describe what happened. A few sentences are enough.")),
            MaxLength(
                MAX_TEXT,
                _l("Your description is too long. Shorten it to %(max)d characters."),
            ),
        ],
        render_kw=LONG_TEXT,
    )


def _optional_int(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) <= 18 else None


class PeopleForm(StepForm):
    """Who the report is about, and witnesses: each added one at a time."""

    accused_query = StringField(
        _l("Search the directory by name"),
        validators=[MaxLength(MAX_QUERY, _l("Use at most %(max)d characters to search."))],
        filters=[strip],
        render_kw={**NO_AUTOFILL, "type": "search"},
    )
    accused_pick = StringField(filters=[strip])
    accused_name = StringField(
        _l("Or type their name"),
        validators=[MaxLength(MAX_NAME, _l("A name can be at most %(max)d characters."))],
        filters=[strip],
        render_kw=NO_AUTOFILL,
    )
    accused_relation = StringField(_l("Who is this person to you?"), filters=[strip])
    witness_query = StringField(
        _l("Search the directory by name"),
        validators=[MaxLength(MAX_QUERY, _l("Use at most %(max)d characters to search."))],
        filters=[strip],
        render_kw={**NO_AUTOFILL, "type": "search"},
    )
    witness_pick = StringField(filters=[strip])
    witness_name = StringField(
        _l("Or type their name"),
        validators=[MaxLength(MAX_NAME, _l("A name can be at most %(max)d characters."))],
        filters=[strip],
        render_kw=NO_AUTOFILL,
    )
    witness_contact = StringField(
        _l("How to reach them (optional)"),
        validators=[MaxLength(MAX_SHORT, _l("Write at most %(max)d characters here."))],
        filters=[strip],
        render_kw=NO_AUTOFILL,
    )

    def accused_started(self) -> bool:
        return bool(self.accused_pick.data or self.accused_name.data)

    def witness_started(self) -> bool:
        return bool(self.witness_pick.data or self.witness_name.data)

    def picked(self, field: Field) -> int | None:
        return _optional_int(field.data or "")

    def check_accused(self, count: int) -> bool:
        """Whether the accused person filled in can be added; errors go on the fields."""
        ok = self._check_person(self.accused_pick, self.accused_name, count)
        if self.accused_relation.data not in RELATIONS:
            self.accused_relation.errors.append(_l("Choose who this person is to you."))
            ok = False
        return ok

    def check_witness(self, count: int) -> bool:
        return self._check_person(self.witness_pick, self.witness_name, count)

    def _check_person(self, pick: Field, name: Field, count: int) -> bool:
        if name.errors:
            return False
        if count >= MAX_PEOPLE:
            name.errors.append(
                _l(
                    "You can add up to %(max)d people here. Name anyone else in your description.",
                    max=MAX_PEOPLE,
                )
            )
            return False
        if pick.data and name.data:
            name.errors.append(
                _l("Choose a person from the list or type a name, not both. Clear one of them.")
            )
            return False
        if not pick.data and not name.data:
            name.errors.append(_l("Choose a person from the search results or type a name."))
            return False
        return True


class WishesForm(StepForm):
    desired_outcome = TextAreaField(
        _l("What would you like to happen? (optional)"),
        validators=[MaxLength(MAX_TEXT, _l("Shorten this text to %(max)d characters."))],
        render_kw={**LONG_TEXT, "rows": 6},
    )
    attachment = FileField(_l("Add a file (optional)"))


class IdentityForm(StepForm):
    disclosure = StringField(
        _l("Do you want to give your name?"),
        validators=[Required(_l("Choose whether you want to give your name."))],
        filters=[strip],
    )
    name = StringField(
        _l("Your name"),
        validators=[MaxLength(MAX_NAME, _l("A name can be at most %(max)d characters."))],
        filters=[strip],
        render_kw={"autocomplete": "name", "spellcheck": "false"},
    )
    email = StringField(
        _l("E-mail address (optional)"),
        validators=[
            MaxLength(MAX_EMAIL, _l("An e-mail address can be at most %(max)d characters.")),
            Optional(),
            Regexp(_EMAIL, message=_l("Enter an e-mail address like name@example.nl.")),
        ],
        filters=[strip],
        render_kw={"autocomplete": "email", "spellcheck": "false", "type": "email"},
    )
    phone = StringField(
        _l("Phone number (optional)"),
        validators=[
            MaxLength(MAX_PHONE, _l("A phone number can be at most %(max)d characters.")),
            Optional(),
            Regexp(
                _PHONE, message=_l("Enter a phone number using digits, for example 06 12345678.")
            ),
        ],
        filters=[strip],
        render_kw={"autocomplete": "tel", "type": "tel"},
    )
    manager_query = StringField(
        _l("Search for your manager by name"),
        validators=[MaxLength(MAX_QUERY, _l("Use at most %(max)d characters to search."))],
        filters=[strip],
        render_kw={**NO_AUTOFILL, "type": "search"},
    )
    manager_pick = StringField(filters=[strip])

    def validate_disclosure(self, field: Field) -> None:
        if field.data and field.data not in DISCLOSURES:
            raise ValidationError(_l("Choose one of the options shown."))

    def validate_name(self, field: Field) -> None:
        named = self.disclosure.data in ("confidential", "named")
        if named and not field.data and not self.partial:
            raise ValidationError(_l("Enter your name, or choose to report anonymously."))


class RouteForm(StepForm):
    route = StringField(
        _l("Who should handle your report?"),
        validators=[
            Required(_l("Choose who should handle your report.")),
            Length(max=40, message=_l("Choose one of the options shown.")),
        ],
        filters=[strip],
    )
    confidant = SelectField(
        _l("Choose a confidential counsellor (optional)"), validate_choice=False, coerce=str
    )

    def __init__(
        self, *args: Any, routes: Collection[str], confidants: Collection[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._routes = routes
        self._confidants = confidants

    def validate_route(self, field: Field) -> None:
        if field.data and field.data not in self._routes:
            raise ValidationError(_l("Choose one of the options shown."))

    def validate_confidant(self, field: Field) -> None:
        if field.data and field.data not in self._confidants:
            raise ValidationError(_l("Choose a counsellor from the list."))


class SubmitForm(FlaskForm):
    # The ids of the recipients the person saw on the review page.
    recipients = MultiValueField()
    # A trap for robots: hidden from people and assistive technology, so only a bot fills it.
    internal_ref = StringField(_l("Leave this field empty"), render_kw={"autocomplete": "off"})

    def expected_recipients(self) -> frozenset[int]:
        """The ids shown; a missing or garbled list never matches, so the review comes back."""
        ids = [_optional_int(v) for v in self.recipients.data]
        if any(i is None for i in ids):
            return frozenset()
        return frozenset(i for i in ids if i is not None)
