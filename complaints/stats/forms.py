"""The statistics page's question, read from the query string (a GET form needs no CSRF)."""

from __future__ import annotations

from typing import Any

from wtforms import Form, SelectField

from complaints.stats.labels import dimension_label, kind_label
from complaints.stats.tables import DIMENSIONS, KINDS
from complaints.web.i18n import _l

DEFAULT_KIND = "submitted"
DEFAULT_ROWS = "category"
CHOOSE = _l("Choose one of the options in the list.")


class TableForm(Form):
    """What to count, in which year, by which dimension(s). The choices are filled in per
    request (the years that have statistics, the labels in the request's language)."""

    jaar = SelectField(_l("Year"), invalid_choice_message=CHOOSE)
    soort = SelectField(
        _l("What to count"),
        default=DEFAULT_KIND,
        invalid_choice_message=CHOOSE,
    )
    rijen = SelectField(
        _l("Rows"),
        default=DEFAULT_ROWS,
        invalid_choice_message=CHOOSE,
    )
    kolommen = SelectField(_l("Columns (optional)"), default="", invalid_choice_message=CHOOSE)

    def fill_choices(self, years: list[int]) -> None:
        self.jaar.choices = [(str(year), str(year)) for year in years]
        self.soort.choices = [(kind, kind_label(kind)) for kind in KINDS]
        self.rijen.choices = [(d, dimension_label(d)) for d in DIMENSIONS]
        self.kolommen.choices = [("", _l("None")), *((d, dimension_label(d)) for d in DIMENSIONS)]

    def validate(self, extra_validators: Any = None) -> bool:
        valid = bool(super().validate(extra_validators))
        if valid and self.kolommen.data and self.kolommen.data == self.rijen.data:
            self.kolommen.errors = [str(_l("Choose different dimensions for rows and columns."))]
            return False
        return valid
