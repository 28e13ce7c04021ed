"""The follow-up mailbox at /opvolgen (to be built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("followup", __name__, template_folder="templates")
