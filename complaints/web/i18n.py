"""Languages: Dutch by default, English on request (a cookie set by the language switch)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask_babel
from flask import Flask, has_request_context, request
from flask_babel import Babel, get_locale, gettext, lazy_gettext

from complaints.web import dates

LANGUAGES = {"nl": "Nederlands", "en": "English"}
LANGUAGE_COOKIE = "taal"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def current_language() -> str:
    """``nl`` or ``en``: the language of the current request (Dutch outside a request)."""
    if not has_request_context():
        return "nl"
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else "nl"


@dataclass(frozen=True)
class Localized:
    """A text from a configuration file, in both languages; prints in the request's language."""

    nl: str
    en: str

    def __str__(self) -> str:
        return self.en if current_language() == "en" else self.nl

    def in_language(self, language: str) -> str:
        return self.en if language == "en" else self.nl


def _(message: str, **variables: Any) -> str:
    """Translate ``message`` into the request's language (typed wrapper around Flask-Babel)."""
    return str(gettext(message, **variables))


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """Translate by number: ``%(num)d`` in the texts is the number."""
    return str(flask_babel.ngettext(singular, plural, num, **variables))


def _l(message: str, **variables: Any) -> Any:
    """A lazily translated string, for texts defined before any request (form labels)."""
    return lazy_gettext(message, **variables)


def init_app(app: Flask, default_locale: str) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = default_locale
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Amsterdam"
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)

    def select_locale() -> str:
        chosen = request.cookies.get(LANGUAGE_COOKIE)
        return chosen if chosen in LANGUAGES else default_locale

    Babel(app, locale_selector=select_locale)
    dates.init_app(app)
