"""Pages of the referral blueprint."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("referral", __name__, template_folder="templates")
