"""Forms of the committee page. All of them sit on one page, so each has its own prefix:
field ids stay unique and the error summary links to the right field."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Optional

from complaints.committee.services import MAX_REASON, MAX_SHORT, MAX_TEXT
from complaints.web.forms import MaxLength
from complaints.web.i18n import LANGUAGES, _l

# What a date input sends, and what someone types where the browser shows a plain text box.
DATE_FORMATS = ["%Y-%m-%d", "%d-%m-%Y"]
TOO_LONG = _l("This text is too long: write at most %(max)s characters.")


class AssignMemberForm(FlaskForm):
    person_id = SelectField(
        _l("Committee member"),
        validators=[DataRequired(_l("Choose the committee member to assign."))],
        validate_choice=False,  # the service checks who may be assigned, and says why not
    )


class ExcludeMemberForm(FlaskForm):
    grant_id = SelectField(
        _l("Member"),
        validators=[DataRequired(_l("Choose the member."))],
        validate_choice=False,
    )
    exclusion = RadioField(
        _l("Why the member no longer takes part"),
        choices=[
            SelectChoice("wraking", _l("Challenged by a party (wraking)")),
            SelectChoice("verschoning", _l("Steps aside (verschoning)")),
        ],
        validators=[InputRequired(_l("Choose whether the member was challenged or steps aside."))],
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[
            DataRequired(_l("Give the reason.")),
            MaxLength(MAX_REASON, TOO_LONG),
        ],
        render_kw={"rows": "4"},
    )


class RecusalForm(FlaskForm):
    """A member steps aside (verschoning) in this case."""

    reason = TextAreaField(
        _l("Why you step aside"),
        validators=[
            DataRequired(_l("Give the reason.")),
            MaxLength(MAX_REASON, TOO_LONG),
        ],
        render_kw={"rows": "4"},
    )


class HearingReportForm(FlaskForm):
    heard = RadioField(
        _l("Who was heard"),
        choices=[
            SelectChoice("complainant", _l("The complainant")),
            SelectChoice("accused", _l("The person complained about")),
            SelectChoice("witness", _l("A witness")),
        ],
        validators=[InputRequired(_l("Choose who was heard."))],
    )
    heard_on = DateField(
        _l("Date of the hearing"),
        format=DATE_FORMATS,
        validators=[InputRequired(_l("Enter the date of the hearing, for example 17-3-2026."))],
    )
    report = TextAreaField(
        _l("Report of the hearing"),
        validators=[
            DataRequired(_l("Write the report of the hearing.")),
            MaxLength(MAX_TEXT, TOO_LONG),
        ],
        render_kw={"rows": "10"},
    )


class WitnessStatementForm(FlaskForm):
    identity = StringField(
        _l("Who the witness is (name and how to reach them)"),
        validators=[
            DataRequired(_l("Write who the witness is: only the committee will see it.")),
            MaxLength(MAX_SHORT, TOO_LONG),
        ],
        render_kw={"autocomplete": "off"},
    )
    pseudonym = StringField(
        _l("How the witness is referred to (optional)"),
        validators=[Optional(), MaxLength(MAX_SHORT, TOO_LONG)],
        render_kw={"autocomplete": "off"},
    )
    heard_on = DateField(
        _l("Date of the statement"),
        format=DATE_FORMATS,
        validators=[InputRequired(_l("Enter the date of the statement, for example 17-3-2026."))],
    )
    statement = TextAreaField(
        _l("Statement"),
        validators=[
            DataRequired(_l("Write down the statement.")),
            MaxLength(MAX_TEXT, TOO_LONG),
        ],
        render_kw={"rows": "10"},
    )


class AdviceForm(FlaskForm):
    version = HiddenField()
    recommended = SelectField(
        _l("Recommended outcome"),
        validators=[InputRequired(_l("Choose the outcome the committee recommends."))],
        validate_choice=False,
    )
    summary = TextAreaField(
        _l("Advice"),
        validators=[
            DataRequired(_l("Write the advice.")),
            MaxLength(MAX_TEXT, TOO_LONG),
        ],
        render_kw={"rows": "10"},
    )


class DecisionForm(FlaskForm):
    version = HiddenField()
    outcome = SelectField(
        _l("Outcome"),
        validators=[InputRequired(_l("Choose the outcome of the decision."))],
        validate_choice=False,
    )
    reasons = TextAreaField(
        _l("Reasons"),
        validators=[
            DataRequired(_l("Write the reasons for the decision.")),
            MaxLength(MAX_TEXT, TOO_LONG),
        ],
        render_kw={"rows": "8"},
    )
    departure_reason = TextAreaField(
        _l("Why the decision departs from the advice"),
        validators=[Optional(), MaxLength(MAX_TEXT, TOO_LONG)],
        render_kw={"rows": "4"},
    )


LANGUAGE_CHOICES = [SelectChoice(code, name) for code, name in LANGUAGES.items()]


class LetterForm(FlaskForm):
    """Acknowledgement and decision letter: only the language to choose."""

    language = SelectField(_l("Language of the letter"), choices=LANGUAGE_CHOICES)


class NotAdmissibleLetterForm(LetterForm):
    reasons = TextAreaField(
        _l("Why the complaint is not admissible"),
        validators=[
            DataRequired(_l("Write why the complaint is not admissible.")),
            MaxLength(MAX_TEXT, TOO_LONG),
        ],
        render_kw={"rows": "6"},
    )


class ExtensionLetterForm(LetterForm):
    new_date = DateField(
        _l("New date for the decision"),
        format=DATE_FORMATS,
        validators=[InputRequired(_l("Enter the new date, for example 15-6-2026."))],
    )
