from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField

from complaints.web.i18n import _l


class LanguageForm(FlaskForm):
    language = SelectField(_l("Language"), choices=[("nl", "Nederlands"), ("en", "English")])
    next = HiddenField()
