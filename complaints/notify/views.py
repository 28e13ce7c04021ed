"""Nothing to serve: the e-mails are composed in services.py (where message extraction finds
their texts). The empty blueprint stays because the application factory registers it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("notify", __name__)
