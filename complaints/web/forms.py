from __future__ import annotations

from typing import Any

from flask_babel import format_number
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField
from wtforms.validators import AnyOf, Length, ValidationError

from complaints.web.i18n import LANGUAGES


class LanguageForm(FlaskForm):
    language = HiddenField(validators=[AnyOf(list(LANGUAGES))])
    next = HiddenField()


class MaxLength(Length):
    """WTForms' ``Length`` with a maximum only, whose message gives the limit as the reader
    writes numbers (Babel's ``format_number``: "20.000" in Dutch, "20,000" in English), as the
    hints beside the fields do; ``Length`` itself puts in the bare number ("20000").

    The message names the limit ``%(max)s``; ``%(max)d``, as messages written for ``Length``
    have it (and share their translations with forms that still use ``Length``), is read the
    same way.
    """

    def __init__(self, max: int, message: Any) -> None:
        super().__init__(max=max, message=message)

    def __call__(self, form: Any, field: Field) -> None:
        if len(field.data or "") <= self.max:
            return
        message = str(self.message).replace("%(max)d", "%(max)s")
        raise ValidationError(message % {"max": format_number(self.max)})
