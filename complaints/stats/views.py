"""The auditor's statistics at ``/statistieken``: a protected table of one's choosing with its
chart, the trend by quarter, deadlines met and median days, and the table as CSV.

Only the auditor comes here (everyone else: 403). Every number on the page and in the export
comes from ``complaints.stats.tables``, which suppresses small counts; nothing here counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_login import login_required
from markupsafe import Markup

from complaints import db
from complaints.accounts.login import holds_role, menu_shows, roles_required
from complaints.accounts.models import Role
from complaints.clock import now
from complaints.settings import current_settings
from complaints.stats import charts, labels
from complaints.stats.forms import TableForm
from complaints.stats.labels import SUPPRESSED, dimension_label, kind_label, label
from complaints.stats.tables import (
    QUARTERS,
    Share,
    Table,
    available_years,
    deadline_shares,
    median_days,
    protected_table,
)
from complaints.web.csvexport import csv_response
from complaints.web.i18n import _
from complaints.workflow.services import local_date

bp = Blueprint("stats", __name__, template_folder="templates")
TREND_YEARS = 5  # the trend shows at most this many years, the latest first


@bp.app_context_processor
def stats_navigation() -> dict[str, Any]:
    def nav_stats() -> bool:
        """Whether the menu shows "Statistics": for the auditor only."""
        return menu_shows(holds_role(Role.AUDITOR))

    return {"nav_stats": nav_stats}


@dataclass(frozen=True)
class Question:
    kind: str
    year: int
    rows: str
    columns: str | None


def _years() -> list[int]:
    """The years with statistics; the current year when there are none yet."""
    return available_years(db.session()) or [local_date(now()).year]


def _question() -> tuple[TableForm, Question | None]:
    """The form as asked, and the question when it is a valid one."""
    years = _years()
    form = TableForm(request.args, jaar=str(years[0]))
    form.fill_choices(years)
    if not form.validate():
        return form, None
    return form, Question(
        kind=str(form.soort.data),
        year=int(str(form.jaar.data)),
        rows=str(form.rijen.data),
        columns=str(form.kolommen.data) or None,
    )


def _k() -> int:
    return current_settings().stats_min_cell


def _table(question: Question) -> Table:
    return protected_table(
        db.session(),
        kind=question.kind,
        year=question.year,
        rows=question.rows,
        columns=question.columns,
        k=_k(),
    )


@bp.get("/statistieken")
@login_required
@roles_required(Role.AUDITOR)
def dashboard() -> tuple[str, int]:
    form, question = _question()
    if question is None:
        return render_template("stats/dashboard.html", form=form, question=None), 400
    session, k = db.session(), _k()
    table = _table(question)
    trend_years = sorted(_years()[:TREND_YEARS])
    trend = [
        protected_table(session, kind=question.kind, year=year, rows="quarter", k=k)
        for year in trend_years
    ]
    shares = deadline_shares(session, year=question.year, by="route", k=k)
    acknowledge = median_days(session, kind="acknowledged", year=question.year, by="route", k=k)
    close = median_days(session, kind="closed", year=question.year, by="route", k=k)
    medians = [
        (route, acknowledge.get(route), close.get(route))
        for route in sorted(set(acknowledge) | set(close))
    ]
    page = render_template(
        "stats/dashboard.html",
        form=form,
        question=question,
        table=table,
        table_chart=_table_chart(table),
        trend=trend,
        trend_chart=_trend_chart(question.kind, trend),
        shares=shares,
        shares_chart=_shares_chart(shares),
        medians=medians,
        k=k,
        label=label,
        dimension_label=dimension_label,
        kind_label=kind_label,
        count_text=count_text,
        share_text=share_text,
        suppressed=SUPPRESSED,
    )
    return page, 200


@bp.get("/statistieken/tabel.csv")
@login_required
@roles_required(Role.AUDITOR)
def table_csv() -> Response | tuple[str, int, dict[str, str]]:
    form, question = _question()
    if question is None:
        messages = [
            f"{field.label.text}: {' '.join(str(e) for e in field.errors)}"
            for field in form
            if field.errors
        ]
        return "\n".join(messages) + "\n", 400, {"Content-Type": "text/plain; charset=utf-8"}
    table = _table(question)
    header, rows = table_rows(table)
    name = f"statistiek-{question.kind}-{question.year}-{question.rows}"
    if question.columns:
        name += f"-{question.columns}"
    return csv_response(f"{name}.csv", header, rows)


def table_rows(table: Table) -> tuple[list[str], list[list[object]]]:
    """The table as the CSV has it: labels, the counts (suppressed as "x") and totals."""
    first = dimension_label(table.rows)
    if table.columns is None:
        header = [first, kind_label(table.kind)]
        rows: list[list[object]] = [
            [label(table.rows, r), count_text(table.cell(r), table.k)] for r in table.row_keys
        ]
    else:
        header = [first, *(label(table.columns, c) for c in table.column_keys), _("Total")]
        rows = [
            [
                label(table.rows, r),
                *(count_text(table.cell(r, c), table.k) for c in table.column_keys),
                count_text(table.row_totals.get(r), table.k),
            ]
            for r in table.row_keys
        ]
        totals = [count_text(table.column_totals.get(c), table.k) for c in table.column_keys]
        rows.append([_("Total"), *totals, count_text(table.total, table.k)])
        return header, rows
    rows.append([_("Total"), count_text(table.total, table.k)])
    return header, rows


def count_text(count: int | None, k: int) -> str:
    return labels.count_text(count)


def share_text(share: Share) -> str:
    percent = _percent(share.share)
    return "–" if percent is None else f"{percent}%"


def _percent(share: float | None) -> int | None:
    return None if share is None else round(share * 100)


# Charts ---------------------------------------------------------------------------------------


def _table_chart(table: Table) -> Markup:
    title = kind_label(table.kind)
    x_labels = [label(table.rows, r) for r in table.row_keys]
    if table.columns is None:
        return charts.bar_chart(title, x_labels, [(title, [table.cell(r) for r in table.row_keys])])
    series = [
        (label(table.columns, c), [table.cell(r, c) for r in table.row_keys])
        for c in table.column_keys
    ]
    return charts.bar_chart(title, x_labels, series)


def _trend_chart(kind: str, trend: list[Table]) -> Markup:
    x_labels = [label("quarter", q) for q in QUARTERS]
    series = [(str(t.year), [t.cell(q) for q in QUARTERS]) for t in trend]
    return charts.line_chart(kind_label(kind), x_labels, series)


def _shares_chart(shares: dict[str, Share]) -> Markup:
    routes = list(shares)
    values = [_percent(shares[r].share) for r in routes]
    return charts.bar_chart(
        _("Deadlines met (%)"),
        [label("route", r) for r in routes],
        [(_("Deadlines met (%)"), values)],
        top=100,
    )
