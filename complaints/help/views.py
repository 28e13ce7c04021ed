"""The public help page: no log-in, nothing about any case."""

from __future__ import annotations

from flask import Blueprint, render_template

from complaints import db
from complaints.help.services import help_content
from complaints.workflow.config import workflow

bp = Blueprint("help", __name__, template_folder="templates")

HUIS_VOOR_KLOKKENLUIDERS = "https://www.huisvoorklokkenluiders.nl"
NATIONALE_OMBUDSMAN = "https://www.nationaleombudsman.nl"


@bp.get("/hulp")
def page() -> str:
    return render_template(
        "help/page.html",
        content=help_content(db.session(), workflow()),
        huis_voor_klokkenluiders=HUIS_VOOR_KLOKKENLUIDERS,
        nationale_ombudsman=NATIONALE_OMBUDSMAN,
    )
