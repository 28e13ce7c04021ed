"""Pages of the casework blueprint."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("casework", __name__, template_folder="templates")
