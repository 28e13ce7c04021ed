from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import AnyOf

from complaints.web.i18n import LANGUAGES


class LanguageForm(FlaskForm):
    language = HiddenField(validators=[AnyOf(list(LANGUAGES))])
    next = HiddenField()
