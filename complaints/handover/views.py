"""Pages of the handover blueprint."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("handover", __name__, template_folder="templates")
