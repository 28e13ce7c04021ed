from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    Field,
    Form,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Optional,
    Regexp,
    ValidationError,
)

from complaints.cases.services import MAX_SEARCH_TEXT
from complaints.casework.services import MAX_SEARCH_DAYS, MAX_TEXT, DeadlineFilter
from complaints.web.forms import MaxLength
from complaints.web.i18n import _, _l
from complaints.workflow.config import RouteWorkflow, TransitionSpec

TOO_LONG = _l("This text is too long: write at most %(max)s characters.")


class ReplyForm(FlaskForm):
    message = TextAreaField(
        _l("Message to the complainant"),
        validators=[
            DataRequired(_l("Write your message before you send it.")),
            MaxLength(MAX_TEXT, TOO_LONG),
        ],
        render_kw={"rows": "6"},
    )


class NoteForm(FlaskForm):
    note = TextAreaField(
        _l("Internal note"),
        validators=[
            DataRequired(_l("Write the note before you save it.")),
            MaxLength(MAX_TEXT, TOO_LONG),
        ],
        render_kw={"rows": "4"},
    )


class ConfirmForm(FlaskForm):
    """A form with only a button (send the check-in): CSRF is its whole point."""


class InboxFilterForm(Form):
    """The inbox filters, read from the query string: a GET form needs no CSRF token.

    Choices are set per request (they come from the workflow); a value that is not one of them
    is simply not applied, so a hand-edited address never gives an error page.
    """

    route = SelectField(_l("Route"), choices=[], validate_choice=False)
    status = SelectField(_l("State"), choices=[], validate_choice=False)
    verlopen = BooleanField(_l("Only cases with an overdue deadline"))
    ongelezen = BooleanField(_l("Only cases with unread messages"))
    gesloten = BooleanField(_l("Also closed and withdrawn cases"))


class CaseSearchForm(FlaskForm):
    """A search of one's own cases. Posted, never in the address: the words may name someone.

    Route and state choices are set per request (from the workflow); a route or state that is
    not one of them is not applied. Everything typed comes back with the results or the errors.
    """

    text = StringField(
        _l("Words in the case"),
        validators=[
            MaxLength(MAX_SEARCH_TEXT, TOO_LONG),
        ],
    )
    reference = StringField(
        _l("Reference, or part of it"),
        validators=[
            MaxLength(20, _l("A reference has at most %(max)s characters.")),
            Regexp(
                r"^[0-9A-Za-z\s-]*$",
                message=_l("A reference has only letters, digits and hyphens."),
            ),
        ],
    )
    route = SelectField(_l("Route"), choices=[], validate_choice=False)
    status = SelectField(_l("State"), choices=[], validate_choice=False)
    deadline = RadioField(
        _l("Deadline"),
        choices=[
            SelectChoice(DeadlineFilter.ANY.value, _l("Any, or none")),
            SelectChoice(DeadlineFilter.OVERDUE.value, _l("Overdue")),
            SelectChoice(DeadlineFilter.DUE_WITHIN.value, _l("Falls due within the days below")),
        ],
        default=DeadlineFilter.ANY.value,
        validate_choice=True,
        invalid_choice_message=_l("Please choose one of the deadline options."),
    )
    days = StringField(
        _l("Number of days"),
        default="14",
        render_kw={"inputmode": "numeric", "size": "4"},
    )

    def validate_days(self, field: Field) -> None:
        """The days count only with "falls due within"; otherwise whatever is there is unused."""
        if self.deadline.data != DeadlineFilter.DUE_WITHIN.value:
            return
        raw = (field.data or "").strip()
        if not raw:
            raise ValidationError(_("Give the number of days, for example 14."))
        if not (raw.isascii() and raw.isdigit() and int(raw) <= MAX_SEARCH_DAYS):
            raise ValidationError(
                _("Give a whole number of days from 0 to %(max)s.", max=MAX_SEARCH_DAYS)
            )


def _iso_date(message: str) -> Callable[[FlaskForm, Field], None]:
    def check(_form: FlaskForm, field: Field) -> None:
        if field.data:
            try:
                date.fromisoformat(field.data.strip())
            except ValueError:
                raise ValidationError(message) from None

    return check


def step_form(
    route: RouteWorkflow,
    spec: TransitionSpec,
    *,
    version: int | None = None,
    formdata: MultiDict[str, str] | None = None,
) -> FlaskForm:
    """The form for one transition: its fields from the workflow, and the case version the
    page was loaded at (optimistic locking). Field names carry the transition's name as a
    prefix, so several step forms can share a page."""
    fields: dict[str, Any] = {
        "version": HiddenField(validators=[DataRequired(), Regexp(r"^[0-9]{1,9}$")]),
    }
    for field in spec.fields:
        label = str(field.label)
        # The same texts as the workflow engine's own refusals.
        missing = _("Please fill in “%(field)s”.", field=label)
        invalid = _("Please choose a valid value for “%(field)s”.", field=label)
        presence: list[Any] = [DataRequired(missing)] if field.required else [Optional()]
        if field.kind == "outcome":
            fields[field.name] = RadioField(
                label,
                choices=[
                    SelectChoice(key, str(route.outcomes.get(key, key))) for key in field.choices
                ],
                validators=[InputRequired(missing)] if field.required else [Optional()],
                validate_choice=True,
                invalid_choice_message=invalid,
            )
        elif field.kind == "date":
            fields[field.name] = StringField(
                label, validators=[*presence, _iso_date(invalid)], render_kw={"type": "date"}
            )
        elif field.kind == "boolean":
            fields[field.name] = BooleanField(label)
        else:
            fields[field.name] = TextAreaField(
                label,
                validators=[*presence, MaxLength(MAX_TEXT, TOO_LONG)],
                render_kw={"rows": "4"},
            )
    form_class = type(f"StepForm_{spec.name}", (FlaskForm,), fields)
    if formdata is not None:
        # Only what was posted counts: a missing version must not fall back to the current one.
        bound: FlaskForm = form_class(formdata=formdata, prefix=spec.name)
        return bound
    fresh: FlaskForm = form_class(formdata=None, prefix=spec.name, data={"version": version})
    return fresh


def step_values(form: FlaskForm, spec: TransitionSpec) -> dict[str, str]:
    """The filled-in values as the workflow engine takes them: text, an ISO date, yes/no."""
    values: dict[str, str] = {}
    for field in spec.fields:
        data = form[field.name].data
        if field.kind == "boolean":
            values[field.name] = "yes" if data else "no"
        elif data:
            values[field.name] = str(data).strip()
    return values
