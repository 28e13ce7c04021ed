"""What the statistics' dimensions and their keys are called, in the request's language.

The engine (``tables``) works with raw keys; every page, chart, export and report names them
through ``label`` so that the same key reads the same everywhere.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import g

from complaints import db
from complaints.cases.labels import disclosure_label
from complaints.cases.models import Route
from complaints.cases.taxonomy import taxonomy
from complaints.directory.models import OrgUnit
from complaints.web.i18n import _
from complaints.workflow.config import workflow

QUARTERS = ("Q1", "Q2", "Q3", "Q4")


def dimension_label(dimension: str) -> str:
    """The name of a dimension, e.g. "Category" for ``category``."""
    return {
        "category": _("Category"),
        "grounds": _("Grounds"),
        "route": _("Route"),
        "organisation": _("Organisation"),
        "outcome": _("Outcome"),
        "disclosure": _("Disclosure"),
        "quarter": _("Quarter"),
    }.get(dimension, dimension)


def kind_label(kind: str) -> str:
    """What a kind of stat event counts, e.g. "Reports submitted" for ``submitted``."""
    return {
        "submitted": _("Reports submitted"),
        "acknowledged": _("Reports acknowledged"),
        "referred": _("Reports referred"),
        "withdrawn": _("Reports withdrawn"),
        "not_admissible": _("Reports not admissible"),
        "decided": _("Complaints decided"),
        "closed": _("Cases closed"),
        "checkin_sent": _("Check-ins sent after closing"),
        "checkin_answered": _("Check-ins answered"),
        "retaliation_reported": _("Retaliation reported in a check-in"),
    }.get(kind, kind)


def label(dimension: str, key: str) -> str:
    """The name of ``key`` in ``dimension``; an unknown key is shown as it is."""
    if key == "":
        return _("none") if dimension in ("outcome", "grounds") else _("unknown")
    if dimension == "category":
        category = taxonomy().categories.get(key)
        return str(category.label) if category else key
    if dimension == "grounds":
        ground = taxonomy().grounds.get(key)
        return str(ground.label) if ground else key
    if dimension == "route":
        try:
            return str(workflow()[Route(key)].label)
        except (ValueError, KeyError):
            return key
    if dimension == "outcome":
        for flow in workflow().routes.values():
            if key in flow.outcomes:
                return str(flow.outcomes[key])
        return key
    if dimension == "disclosure":
        return disclosure_label(key)
    if dimension == "organisation":
        return _organisation_names().get(key, key)
    if dimension == "quarter":
        return _("Quarter %(number)s", number=key[1:]) if key in QUARTERS else key
    return key


def _organisation_names() -> dict[str, str]:
    """Every unit's name by id, read once per request (the tables name ministries only)."""
    names: dict[str, str] | None = g.get("stats_organisation_names")
    if names is None:
        rows = db.session().execute(sa.select(OrgUnit.id, OrgUnit.name))
        names = {str(unit_id): name for unit_id, name in rows}
        g.stats_organisation_names = names
    return names


# What a suppressed count is shown as, everywhere (page, CSV, reports, PDF). Not "< k": a count
# hidden to protect another one (so that it cannot be worked out from the totals) may be large,
# and which is which must not show.
SUPPRESSED = "x"


def count_text(count: int | None) -> str:
    """A count as published: a suppressed one as "x" (zero is shown as 0)."""
    return SUPPRESSED if count is None else str(count)


def suppression_note(k: int) -> str:
    return _(
        "An “x” is a count that is not shown. Counts from 1 to %(max)s are never shown, and "
        "where needed larger counts are hidden too, so that no hidden count can be worked out "
        "from totals or from other tables. Zero is shown as 0.",
        max=k - 1,
    )
