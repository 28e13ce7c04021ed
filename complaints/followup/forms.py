from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import UUID, AnyOf, DataRequired

from complaints.cases.attachments import EXTENSIONS
from complaints.cases.models import ConsentKind
from complaints.followup.services import MAX_MESSAGE
from complaints.web.forms import MaxLength
from complaints.web.i18n import _l

# A hint for the browser's file picker only; the server decides by content (check_upload).
ACCEPT = ",".join(sorted({*EXTENSIONS.values(), ".jpeg", *EXTENSIONS}))
GIVE = "give"
WITHDRAW = "withdraw"


class ReceiptForm(FlaskForm):
    code = StringField(
        _l("Receipt code"),
        validators=[DataRequired(_l("Enter your receipt code."))],
        # Not remembered by the browser, not corrected or capitalised by a phone keyboard.
        render_kw={
            "autocomplete": "off",
            "spellcheck": "false",
            "autocapitalize": "characters",
            "autocorrect": "off",
            "maxlength": "64",
        },
    )


class MessageForm(FlaskForm):
    message = TextAreaField(
        _l("Your message or additional information"),
        validators=[
            DataRequired(_l("Write your message before you send it.")),
            MaxLength(
                MAX_MESSAGE,
                _l(
                    "Your message is too long: write at most %(max)s characters, or send it in "
                    "more than one message."
                ),
            ),
        ],
        render_kw={"rows": "6"},
    )


class CheckinForm(FlaskForm):
    """The answer to a check-in after closing, and whether it reports retaliation."""

    answer = TextAreaField(
        _l("Your answer"),
        validators=[
            DataRequired(
                _l(
                    "Write your answer before you send it. If nothing has happened, you can "
                    "simply say so."
                )
            ),
            MaxLength(
                max=MAX_MESSAGE,
                message=_l(
                    "Your answer is too long: write at most %(max)s characters, and send the "
                    "rest as a message afterwards."
                ),
            ),
        ],
        render_kw={"rows": "6"},
    )
    retaliation = BooleanField(_l("I am being treated worse because I reported (retaliation)"))


ON = "on"
OFF = "off"


class CheckinSwitchForm(FlaskForm):
    decision = HiddenField(validators=[AnyOf([ON, OFF])])


class FilesForm(FlaskForm):
    # Checked in the view, file by file, so each refusal can name its file.
    files = MultipleFileField(_l("Files"), render_kw={"accept": ACCEPT})


class ConsentForm(FlaskForm):
    kind = HiddenField(validators=[AnyOf([kind.value for kind in ConsentKind])])
    decision = HiddenField(validators=[AnyOf([GIVE, WITHDRAW])])


class OpenReportForm(FlaskForm):
    case_id = HiddenField(validators=[DataRequired(), UUID()])


class ConfirmForm(FlaskForm):
    """A form with only a button (close the mailbox, withdraw): CSRF is its whole point."""
