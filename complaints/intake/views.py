"""The guided report form at /melden (to be built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("intake", __name__, template_folder="templates")
