"""What the referral and proxy pages say to staff: about the complainant, never to them."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask_babel import force_locale

from complaints.cases.models import Route
from complaints.intake.wording import route_infos
from complaints.referral.wording import staff_route_summary
from complaints.workflow.config import workflow

# Words that address the reader as the complainant ("uw leidinggevende", "your manager").
ADDRESSES_THE_COMPLAINANT = {
    "nl": re.compile(r"\b(u|uw)\b", re.IGNORECASE),
    "en": re.compile(r"\b(you|your)\b", re.IGNORECASE),
}


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_staff_summary_of_every_route_speaks_of_the_complainant(
    app: Flask, language: str
) -> None:
    with app.test_request_context(), force_locale(language):
        summaries = {route: staff_route_summary(route) for route in Route}
        # Control: the report form's own summaries, which speak to the complainant, are
        # caught by the same check, for every route.
        for info in route_infos(workflow(), list(Route)):
            assert ADDRESSES_THE_COMPLAINANT[language].search(info.summary), info.route
    for route, summary in summaries.items():
        assert not ADDRESSES_THE_COMPLAINANT[language].search(summary), (route, summary)
    if language == "nl":
        assert summaries[Route.MANAGER].startswith("De leidinggevende van de melder")
