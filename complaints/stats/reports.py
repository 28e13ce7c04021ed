"""The annual reports (the confidants' annual overview and the committee's report) and the
auditor's pages for them and for API tokens (blueprint ``stats_reports``).

A report is built once, as an :class:`AnnualReport` of protected numbers from
:mod:`complaints.stats.tables`, and then printed as a page or as a PDF (:mod:`.pdf`): both show
the same numbers, and a suppressed count is shown as "x" in both, never as itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as BaseResponse
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Regexp

from complaints import db
from complaints.accounts.login import roles_required, staff_user
from complaints.accounts.models import Role
from complaints.cases.models import Route
from complaints.clock import now
from complaints.crypto.services import keystore
from complaints.settings import current_settings
from complaints.stats import tokens
from complaints.stats.labels import count_text, dimension_label, label, suppression_note
from complaints.stats.pdf import report_pdf
from complaints.stats.tables import (
    Table,
    available_years,
    deadline_shares,
    median_days,
    protected_table,
)
from complaints.web.forms import MaxLength
from complaints.web.i18n import _, _l

bp = Blueprint("stats_reports", __name__, template_folder="templates")

CONFIDANTS = "confidants"
COMMITTEE = "committee"


# The reports -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportLine:
    label: str
    count: int | None  # None: suppressed


@dataclass(frozen=True)
class ReportTable:
    caption: str
    heading: str  # what the lines are, e.g. "Category"
    lines: tuple[ReportLine, ...]
    total: int | None
    note: str | None = None


@dataclass(frozen=True)
class ReportFact:
    label: str
    value: str | None  # None: too few cases to publish


@dataclass(frozen=True)
class ReportSection:
    heading: str
    introduction: str
    tables: tuple[ReportTable, ...] = ()
    facts: tuple[ReportFact, ...] = ()


@dataclass(frozen=True)
class AnnualReport:
    which: str  # CONFIDANTS or COMMITTEE
    year: int
    k: int
    title: str
    sections: tuple[ReportSection, ...]

    def shown(self, count: int | None) -> str:
        """A count as printed: a suppressed one as "x"."""
        return count_text(count)


def _column(table: Table, column: str, *, key_dimension: str | None = None) -> ReportTable:
    """One column of a two-way table (e.g. the committee's column of category × route) as
    lines; rows that are zero in this column are left out, suppressed ones are kept."""
    dimension = key_dimension or table.rows
    lines = tuple(
        ReportLine(label(dimension, row), table.cell(row, column))
        for row in table.row_keys
        if table.cell(row, column) != 0
    )
    return ReportTable(
        caption="",
        heading=dimension_label(table.rows),
        lines=lines,
        total=table.column_totals.get(column, 0),
        note=_mentions_note() if table.counts_mentions else None,
    )


def _one_way(table: Table, *, key_dimension: str | None = None) -> ReportTable:
    dimension = key_dimension or table.rows
    lines = tuple(
        ReportLine(label(dimension, row), table.cell(row))
        for row in table.row_keys
        if table.cell(row) != 0
    )
    return ReportTable(
        caption="",
        heading=dimension_label(dimension),
        lines=lines,
        total=table.total,
        note=_mentions_note() if table.counts_mentions else None,
    )


def _captioned(table: ReportTable, caption: str) -> ReportTable:
    return ReportTable(caption, table.heading, table.lines, table.total, table.note)


def _mentions_note() -> str:
    return _("A report can name several grounds, so the grounds add up to more than the reports.")


def _days(value: int | None) -> str | None:
    return None if value is None else _("%(days)s days", days=value)


def confidants_report(session: Session, year: int, *, k: int) -> AnnualReport:
    """The confidants' annual overview: reports per category, the routes reports took, and
    the confidants' referrals."""
    confidant = Route.CONFIDANT.value

    def table(kind: str, rows: str, columns: str | None = None) -> Table:
        return protected_table(session, kind=kind, year=year, rows=rows, columns=columns, k=k)

    acknowledged = median_days(session, kind="acknowledged", year=year, by="route", k=k)
    closed = median_days(session, kind="closed", year=year, by="route", k=k)
    return AnnualReport(
        which=CONFIDANTS,
        year=year,
        k=k,
        title=_("Annual overview of the confidants %(year)s", year=year),
        sections=(
            ReportSection(
                heading=_("Reports to the confidants"),
                introduction=_(
                    "Reports made to a confidential counsellor this year, by the category of "
                    "behaviour the reporter chose."
                ),
                tables=(
                    _captioned(
                        _column(table("submitted", "category", "route"), confidant),
                        _("Reports to the confidants by category"),
                    ),
                ),
                facts=(
                    ReportFact(
                        _("Median time to acknowledge a report"),
                        _days(acknowledged.get(confidant)),
                    ),
                    ReportFact(_("Median time to close a case"), _days(closed.get(confidant))),
                ),
            ),
            ReportSection(
                heading=_("Routes taken"),
                introduction=_(
                    "All reports made this year, by the route the reporter chose: to a "
                    "confidential counsellor, to a manager, to the integrity coordinator or to "
                    "the complaints committee."
                ),
                tables=(_captioned(_one_way(table("submitted", "route")), _("Reports by route")),),
            ),
            ReportSection(
                heading=_("Referrals"),
                introduction=_(
                    "Reports a confidential counsellor passed on, with the reporter's consent, by "
                    "the route they were passed on to."
                ),
                tables=(
                    _captioned(
                        # A referral's outcome is the route it went to.
                        _one_way(table("referred", "outcome"), key_dimension="route"),
                        _("Referrals by route referred to"),
                    ),
                ),
            ),
        ),
    )


def committee_report(session: Session, year: int, *, k: int) -> AnnualReport:
    """The committee's report: the number and nature of the complaints, the tenor of its
    advice, and the deadlines met."""
    committee = Route.COMMITTEE.value

    def table(kind: str, rows: str) -> Table:
        return protected_table(session, kind=kind, year=year, rows=rows, columns="route", k=k)

    share = deadline_shares(session, year=year, by="route", k=k).get(committee)
    closed = median_days(session, kind="closed", year=year, by="route", k=k)
    return AnnualReport(
        which=COMMITTEE,
        year=year,
        k=k,
        title=_("Annual report of the complaints committee %(year)s", year=year),
        sections=(
            ReportSection(
                heading=_("Number and nature of the complaints"),
                introduction=_(
                    "Complaints filed with the committee this year, by category of behaviour "
                    "and by the grounds named."
                ),
                tables=(
                    _captioned(
                        _column(table("submitted", "category"), committee),
                        _("Complaints by category"),
                    ),
                    _captioned(
                        _column(table("submitted", "grounds"), committee),
                        _("Grounds named in complaints"),
                    ),
                ),
            ),
            ReportSection(
                heading=_("Tenor of the advice"),
                introduction=_("Complaints decided this year, by the outcome of the decision."),
                tables=(
                    _captioned(
                        _column(table("decided", "outcome"), committee),
                        _("Decisions by outcome"),
                    ),
                ),
            ),
            ReportSection(
                heading=_("Deadlines"),
                introduction=_("How often the committee met its deadlines this year."),
                facts=(
                    ReportFact(
                        _("Deadlines met"),
                        None
                        if share is None or share.share is None
                        else _(
                            "%(share)s%% of %(total)s deadlines",
                            share=round(share.share * 100),
                            total=share.total,
                        ),
                    ),
                    ReportFact(_("Median time to close a case"), _days(closed.get(committee))),
                ),
            ),
        ),
    )


BUILDERS: Mapping[str, Callable[..., AnnualReport]] = {
    CONFIDANTS: confidants_report,
    COMMITTEE: committee_report,
}


# Pages -----------------------------------------------------------------------------------------


class TokenForm(FlaskForm):
    label = StringField(
        _l("Name of the key"),
        validators=[
            DataRequired(_l("Give the key a name, for example the script that will use it.")),
            MaxLength(
                tokens.LABEL_LENGTH,
                _l("A name has at most %(max)s characters.", max=tokens.LABEL_LENGTH),
            ),
        ],
        render_kw={"autocomplete": "off", "maxlength": str(tokens.LABEL_LENGTH)},
    )


class RevokeTokenForm(FlaskForm):
    token_id = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9]{1,12}$")])


def _report(which: str, year: int) -> AnnualReport:
    session = db.session()
    if year not in available_years(session):
        abort(404)
    return BUILDERS[which](session, year, k=current_settings().stats_min_cell)


def _report_page(which: str, year: int) -> str:
    report = _report(which, year)
    pdf_endpoint = {
        CONFIDANTS: "stats_reports.confidants_pdf",
        COMMITTEE: "stats_reports.committee_pdf",
    }[which]
    return render_template(
        "stats/report/report.html",
        report=report,
        pdf_url=url_for(pdf_endpoint, year=year),
        suppression_note=suppression_note(report.k),
    )


def _report_pdf(which: str, year: int) -> Response:
    report = _report(which, year)
    name = {CONFIDANTS: "jaaroverzicht-vertrouwenspersonen", COMMITTEE: "jaarverslag-commissie"}
    response = Response(report_pdf(report), content_type="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{name[which]}-{year}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/statistieken/jaarverslag")
@login_required
@roles_required(Role.AUDITOR)
def reports() -> str:
    return render_template("stats/report/index.html", years=available_years(db.session()))


@bp.get("/statistieken/jaarverslag/<int:year>/vertrouwenspersonen")
@login_required
@roles_required(Role.AUDITOR)
def confidants(year: int) -> str:
    return _report_page(CONFIDANTS, year)


@bp.get("/statistieken/jaarverslag/<int:year>/vertrouwenspersonen.pdf")
@login_required
@roles_required(Role.AUDITOR)
def confidants_pdf(year: int) -> Response:
    return _report_pdf(CONFIDANTS, year)


@bp.get("/statistieken/jaarverslag/<int:year>/commissie")
@login_required
@roles_required(Role.AUDITOR)
def committee(year: int) -> str:
    return _report_page(COMMITTEE, year)


@bp.get("/statistieken/jaarverslag/<int:year>/commissie.pdf")
@login_required
@roles_required(Role.AUDITOR)
def committee_pdf(year: int) -> Response:
    return _report_pdf(COMMITTEE, year)


@bp.route("/statistieken/api-sleutels", methods=["GET", "POST"])
@login_required
@roles_required(Role.AUDITOR)
def api_tokens() -> tuple[str, int]:
    form = TokenForm()
    issued: tokens.IssuedToken | None = None
    status = 200
    if form.validate_on_submit():
        try:
            issued = tokens.create_token(
                db.session(), keystore(), staff_user().account, label=form.label.data, now=now()
            )
        except tokens.TokenRefused:
            form.label.errors = [*form.label.errors, _("Give the key a name.")]
            status = 400
        else:
            form = TokenForm(formdata=None)
    elif form.is_submitted():
        status = 400
    return _tokens_page(form, issued, status)


@bp.post("/statistieken/api-sleutels/intrekken")
@login_required
@roles_required(Role.AUDITOR)
def revoke_api_token() -> BaseResponse | tuple[str, int]:
    form = RevokeTokenForm()
    if not form.validate_on_submit():
        return _tokens_page(TokenForm(formdata=None), None, 400)
    try:
        tokens.revoke_token(
            db.session(), keystore(), staff_user().account, int(form.token_id.data), now=now()
        )
    except tokens.TokenRefused as refused:
        message = (
            _("This key had already been revoked.")
            if refused.reason == tokens.ALREADY_REVOKED
            else _("This key does not exist.")
        )
        flash(message, "error")
    else:
        flash(_("The key has been revoked: it no longer opens the statistics API."), "success")
    return redirect(url_for("stats_reports.api_tokens"), 303)


def _tokens_page(
    form: TokenForm, issued: tokens.IssuedToken | None, status: int
) -> tuple[str, int]:
    moment = now()
    listed = tokens.tokens_of(db.session(), staff_user().account.id)
    page = render_template(
        "stats/api/tokens.html",
        form=form,
        issued=issued,
        tokens=[(record, tokens.status_of(record, moment)) for record in listed],
        revoke_form=RevokeTokenForm(formdata=None),
        token_days=tokens.TOKEN_DAYS,
        statuses=tokens.TokenStatus,
    )
    return page, status
