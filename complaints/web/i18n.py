"""Languages: Dutch by default, English on request (a cookie set by the language switch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_babel import Babel, gettext, lazy_gettext

LANGUAGES = {"nl": "Nederlands", "en": "English"}
LANGUAGE_COOKIE = "taal"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def _(message: str, **variables: Any) -> str:
    """Translate ``message`` into the request's language (typed wrapper around Flask-Babel)."""
    return str(gettext(message, **variables))


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
