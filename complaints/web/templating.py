"""Values every template can use."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask_babel import get_locale
from flask_login import current_user

from complaints.accounts.labels import role_label


def init_app(app: Flask) -> None:
    @app.context_processor
    def shell_values() -> dict[str, Any]:
        def nav_user() -> Any:
            # Error pages must render even when the database is down: do not load the user there.
            if g.get("rendering_error") and "_login_user" not in g:
                return None
            return current_user if current_user.is_authenticated else None

        locale = get_locale()
        return {
            "current_language": locale.language if locale else "nl",
            "nav_user": nav_user,
            "role_label": role_label,
        }
