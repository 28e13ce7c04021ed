"""No pages: the blueprint only makes the e-mail templates in templates/notify/ available."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("notify", __name__, template_folder="templates")
