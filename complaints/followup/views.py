"""The follow-up mailbox at /opvolgen, and "my reports" for employees who filed under their name.

The mailbox is opened with the receipt code (or, for a report filed under one's own name, from
the account page) and then held by a short server-side session whose token lives in the cookie
under its own key, apart from the staff log-in. The case is always the session's case: no URL
names a case, and the receipt code never leaves the one POST that carries it. Downloads name a
file by its number within that case (``/opvolgen/melding/bijlage/2``), which reaches no other
case's file.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_login import login_required
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from complaints import db
from complaints.accounts.login import staff_user
from complaints.audit.models import ActorKind
from complaints.audit.services import Actor
from complaints.cases.attachments import UploadRejected, check_upload
from complaints.cases.labels import disclosure_for_complainants
from complaints.cases.models import Case, ConsentKind
from complaints.cases.services import (
    CaseNotFound,
    CaseUnreadable,
    NewAttachment,
    open_complainant_file,
)
from complaints.cases.taxonomy import taxonomy
from complaints.checkins.services import QUESTION
from complaints.clock import now
from complaints.crypto.services import indexer, keystore
from complaints.followup.forms import (
    GIVE,
    OFF,
    ON,
    CheckinForm,
    CheckinSwitchForm,
    ConfirmForm,
    ConsentForm,
    FilesForm,
    MessageForm,
    OpenReportForm,
    ReceiptForm,
)
from complaints.followup.models import ComplainantSession
from complaints.followup.services import (
    MAX_MESSAGE,
    CheckinClosed,
    CheckinRefused,
    MailboxClosed,
    MailboxPolicy,
    add_files,
    answer_checkin,
    close_mailbox,
    mailbox_case,
    my_reports,
    open_mailbox,
    open_own_report,
    post_message,
    read_mailbox,
    resolve_mailbox,
    set_checkins,
    set_consent,
    withdraw_case,
)
from complaints.intake.services import complainant_index
from complaints.referral.services import issue_referral_code, referral_notices
from complaints.routing.readers import readers
from complaints.routing.wording import who_can_read
from complaints.settings import current_settings
from complaints.web import cookies
from complaints.web.errors import render_error
from complaints.web.i18n import _, ngettext
from complaints.web.limits import counted, limiter, spare_this_request
from complaints.web.uploads import rename_notice, renamed, shown_name, size_text, upload_message
from complaints.workflow.config import workflow
from complaints.workflow.services import DeadlineStatus

bp = Blueprint("followup", __name__, template_folder="templates")

MAILBOX_TOKEN = "followup"  # noqa: S105 - a cookie-session key, not a secret
CSRF_SESSION_KEY = "csrf_token"  # Flask-WTF's key in the cookie session
# Called with the session, its case and the URL's values (a download's number).
MailboxView = Callable[..., Response | str | tuple[str, int]]


def _receipt_rate_limit() -> str:
    return current_settings().receipt_rate_limit


def _receipt_global_rate_limit() -> str:
    return current_settings().receipt_global_rate_limit


def _everyone() -> str:
    return "all"


def _policy() -> MailboxPolicy:
    return MailboxPolicy.from_settings(current_settings())


def _mailbox_url(anchor: str | None = None) -> str:
    return url_for("followup.mailbox", _anchor=anchor)


@bp.errorhandler(StaleDataError)
def _changed_meanwhile(error: StaleDataError) -> Response:
    # A handler (or another tab) changed the case in the same moment: nothing was saved.
    db.rollback()
    flash(
        _("Your report was changed at the same moment, so nothing was saved. Please try again."),
        "error",
    )
    return redirect(_mailbox_url(), code=303)


def _begin_mailbox(token: str) -> None:
    """Put a new mailbox token in the cookie, ending whatever mailbox it held before.

    The CSRF secret is renewed as well, so nothing planted in the cookie before the mailbox
    opened is still valid afterwards; a staff log-in in the same cookie is left as it is.
    """
    previous = cookie_session.pop(MAILBOX_TOKEN, None)
    if isinstance(previous, str) and previous:
        record = resolve_mailbox(db.session(), previous, _policy(), now())
        if record is not None:
            close_mailbox(db.session(), keystore(), record, now=now())
    cookie_session.pop(CSRF_SESSION_KEY, None)
    cookie_session[MAILBOX_TOKEN] = token


@cookies.on_renewal
def _end_mailbox_on_renewal() -> None:
    """A staff log-in or log-out in this browser ends an open mailbox, on the server too:
    whoever uses the browser next must not find it open."""
    token = cookie_session.get(MAILBOX_TOKEN)
    if isinstance(token, str) and token:
        record = resolve_mailbox(db.session(), token, _policy(), now())
        if record is not None:
            close_mailbox(db.session(), keystore(), record, now=now())


def mailbox_required(view: MailboxView) -> Callable[..., Response | str | tuple[str, int]]:
    """Run ``view`` with the live mailbox session and its case, or send the browser to the
    code page (saying why, when a mailbox session has just ended)."""

    @wraps(view)
    def wrapped(**url_values: int) -> Response | str | tuple[str, int]:
        token = cookie_session.get(MAILBOX_TOKEN)
        record = None
        if isinstance(token, str) and token:
            record = resolve_mailbox(db.session(), token, _policy(), now())
        if record is None:
            had_mailbox = cookie_session.pop(MAILBOX_TOKEN, None) is not None
            unsent = ""
            if request.method == "POST":  # a message, or the answer to a check-in
                unsent = request.form.get("message", "") or request.form.get("answer", "")
            if had_mailbox and unsent.strip():
                # Someone who wrote for a long time must not lose what they wrote.
                return _code_page(ReceiptForm(formdata=None), unsent=unsent[:MAX_MESSAGE])
            if had_mailbox:
                flash(
                    _(
                        "For your safety your mailbox was closed: it had not been used for a "
                        "while, or had been open for a long time. Enter your receipt code to "
                        "open it again."
                    ),
                    "info",
                )
            return redirect(url_for("followup.enter_code"), code=303)
        return view(record, mailbox_case(db.session(), record), **url_values)

    return wrapped


# Opening the mailbox ---------------------------------------------------------------------------


# Both limits count codes that opened nothing (``counted``): someone who opens their mailbox
# every day and mistypes now and then is never held up, a guesser is. A successful open takes
# nothing off what earlier failures counted.
@bp.route("/opvolgen", methods=["GET", "POST"])
@limiter.limit(_receipt_rate_limit, methods=["POST"], deduct_when=counted)
@limiter.shared_limit(
    _receipt_global_rate_limit,
    scope="receipt-global",
    key_func=_everyone,
    methods=["POST"],
    deduct_when=counted,
)
def enter_code() -> Response | str:
    form = ReceiptForm()
    if form.validate_on_submit():
        opened = open_mailbox(
            db.session(), keystore(), indexer(), _policy(), code=form.code.data, now=now()
        )
        if opened is not None:
            spare_this_request()
            _begin_mailbox(opened.token)
            return redirect(_mailbox_url(), code=303)
        # One message for every refusal: it must not tell a guesser anything.
        form.code.errors.append(
            _(
                "We could not open a report with this code. Check that you typed all 24 "
                "characters of the code exactly as you received it."
            )
        )
    form.code.data = ""  # the code is never sent back to the browser
    return _code_page(form)


def _code_page(form: ReceiptForm, unsent: str = "") -> str:
    return render_template(
        "followup/enter_code.html",
        form=form,
        unsent=unsent,
        idle_minutes=current_settings().followup_idle_timeout_minutes,
    )


@bp.post("/opvolgen/sluiten")
def close() -> Response:
    form = ConfirmForm()
    if form.validate_on_submit():
        token = cookie_session.pop(MAILBOX_TOKEN, None)
        if isinstance(token, str) and token:
            record = resolve_mailbox(db.session(), token, _policy(), now())
            if record is not None:
                close_mailbox(db.session(), keystore(), record, now=now())
        flash(
            _(
                "Your mailbox is closed. To open it again you need your receipt code. If you "
                "use a shared computer, also close the browser."
            ),
            "success",
        )
    return redirect(url_for("followup.enter_code"), code=303)


# The mailbox -----------------------------------------------------------------------------------


def _consent_texts() -> dict[ConsentKind, tuple[str, str]]:
    """Per consent: what it is called, and what giving it means."""
    return {
        ConsentKind.SHARE_IDENTITY: (
            _("Sharing who you are"),
            _(
                "The person handling your report may tell who you are to the people who need "
                "to know in order to act on it. Without this consent your name stays with the "
                "handler."
            ),
        ),
        ConsentKind.REFERRAL: (
            _("Passing your report on"),
            _(
                "The confidential counsellor may pass your report on to another route, such as "
                "the integrity coordinator or the complaints committee. Your name goes with it "
                "only if you reported under your own name or also consent to sharing who you "
                "are; otherwise the report is passed on anonymously. Without this consent your "
                "report stays with the confidential counsellor."
            ),
        ),
        ConsentKind.MEDIATION: (
            _("Mediation first"),
            _(
                "The committee may first try to resolve the complaint through mediation. The "
                "time limit for the decision is paused while mediation is under way."
            ),
        ),
        ConsentKind.EXTENSION: (
            _("More time for the decision"),
            _(
                "With this consent your employer may take longer to decide than the law "
                "otherwise allows (ten weeks, plus one extension of four weeks)."
            ),
        ),
    }


def _render_mailbox(
    case: Case,
    *,
    message_form: MessageForm | None = None,
    files_form: FilesForm | None = None,
    checkin_form: CheckinForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    settings = current_settings()
    try:
        box = read_mailbox(
            db.session(),
            keystore(),
            workflow(),
            case,
            now=now(),
            closed_reply_days=settings.closed_reply_days,
        )
    except CaseUnreadable:
        return render_error(500)
    route = workflow()[case.route]
    state = route.states.get(case.state)
    category = taxonomy().categories.get(case.category)
    page = render_template(
        "followup/mailbox.html",
        box=box,
        case=case,
        route=route,
        state_text=state.public if state else _("Your report is being handled."),
        category=category.label if category else None,
        disclosure=disclosure_for_complainants(case.disclosure),
        who_reads=who_can_read(readers(workflow(), case.route, case.disclosure)),
        message_form=message_form or MessageForm(formdata=None),
        files_form=files_form or FilesForm(formdata=None),
        checkin_form=checkin_form or CheckinForm(formdata=None),
        checkin_question=QUESTION,
        on=ON,
        off=OFF,
        consent_texts=_consent_texts(),
        referrals=[
            (notice, workflow()[notice.route].label)
            for notice in referral_notices(db.session(), case)
        ],
        give=GIVE,
        statuses=DeadlineStatus,
        file_size=size_text,
        max_files=settings.max_attachments,
        maxsize_text=size_text(settings.max_attachment_bytes),
        idle_minutes=settings.followup_idle_timeout_minutes,
    )
    return page, status


def _closed_notice() -> Response:
    flash(
        _(
            "This report is closed, so nothing can be added or changed any more. You can still "
            "read everything in your mailbox."
        ),
        "info",
    )
    return redirect(_mailbox_url(), code=303)


@bp.get("/opvolgen/melding")
@mailbox_required
def mailbox(record: ComplainantSession, case: Case) -> tuple[str, int]:
    return _render_mailbox(case)


@bp.post("/opvolgen/melding/bericht")
@mailbox_required
def send_message(record: ComplainantSession, case: Case) -> Response | tuple[str, int]:
    form = MessageForm()
    if not form.validate_on_submit():
        return _render_mailbox(case, message_form=form)
    try:
        post_message(
            db.session(),
            keystore(),
            workflow(),
            case,
            body=form.message.data,
            now=now(),
            closed_reply_days=current_settings().closed_reply_days,
        )
    except MailboxClosed:
        # What was typed stays in the form, under the notice that says what to do instead.
        form.message.errors = [
            *form.message.errors,
            _(
                "Writing in this mailbox has closed, so this message was not sent. Copy it if "
                "you want to keep it: you can make a new report, or read on the help page where "
                "else you can go."
            ),
        ]
        return _render_mailbox(case, message_form=form)
    flash(
        _(
            "Your message has been sent. The handler gets an e-mail saying there is news, "
            "without what you wrote."
        ),
        "success",
    )
    return redirect(_mailbox_url("berichten"), code=303)


@bp.post("/opvolgen/melding/check-in")
@mailbox_required
def answer(record: ComplainantSession, case: Case) -> Response | str | tuple[str, int]:
    """The answer to a check-in after closing; with retaliation, the report reopens or a linked
    one is filed. A refusal gives back what was typed, saying why."""
    form = CheckinForm()
    if not form.validate_on_submit():
        return _render_mailbox(case, checkin_form=form)
    try:
        answered = answer_checkin(
            db.session(),
            keystore(),
            indexer(),
            workflow(),
            case,
            body=form.answer.data,
            retaliation=bool(form.retaliation.data),
            now=now(),
        )
    except CheckinClosed:
        form.answer.errors = [
            *form.answer.errors,
            _(
                "This check-in can no longer be answered (it was answered already, check-ins "
                "were switched off, or your report was opened again), so your answer was not "
                "sent. Copy it if you want to keep it: you can send it as a message while "
                "that is possible, or make a new report."
            ),
        ]
        return _render_mailbox(case, checkin_form=form, status=409)
    except CheckinRefused:
        form.answer.errors = [
            *form.answer.errors,
            _(
                "Your answer was not sent: nobody who handled this report can receive a new "
                "report from it any more. Copy what you wrote and make a new report, or read "
                "on the help page where else you can go."
            ),
        ]
        return _render_mailbox(case, checkin_form=form, status=409)
    except CaseUnreadable:
        page = render_template(
            "followup/checkin_refused.html", typed=form.answer.data[:MAX_MESSAGE]
        )
        return page, 500
    if answered.linked is not None:
        # The new report's code is shown once, in this answer, never in an address.
        return render_template(
            "followup/checkin_linked.html",
            code_groups=answered.linked.code.split("-"),
            linked=answered.linked.case,
            route=workflow()[case.route].label,
        )
    if answered.reopened:
        flash(
            _(
                "Your answer has been sent and your report has been opened again. The people "
                "who handled it get an e-mail, without what you wrote, and will confirm receipt."
            ),
            "success",
        )
        return redirect(_mailbox_url(), code=303)
    flash(
        _(
            "Thank you: your answer has been sent. The handler gets an e-mail saying there is "
            "news, without what you wrote."
        ),
        "success",
    )
    return redirect(_mailbox_url("berichten"), code=303)


@bp.post("/opvolgen/melding/check-ins")
@mailbox_required
def switch_checkins(record: ComplainantSession, case: Case) -> Response | tuple[str, int]:
    form = CheckinSwitchForm()
    if not form.validate_on_submit():
        return render_error(400)
    on = form.decision.data == ON
    try:
        changed = set_checkins(db.session(), keystore(), workflow(), case, on=on, now=now())
    except MailboxClosed:  # not a report that has check-ins
        return render_error(400)
    if changed:
        flash(
            _("Check-ins are switched on again.")
            if on
            else _("You will get no more check-ins. You can switch them on again here."),
            "success",
        )
    return redirect(_mailbox_url("check-in"), code=303)


@bp.get("/opvolgen/melding/bijlage/<int:number>")
@mailbox_required
def download_attachment(
    record: ComplainantSession, case: Case, number: int
) -> Response | tuple[str, int]:
    return _download(case, number, letter=False)


@bp.get("/opvolgen/melding/brief/<int:number>")
@mailbox_required
def download_letter(
    record: ComplainantSession, case: Case, number: int
) -> Response | tuple[str, int]:
    return _download(case, number, letter=True)


def _download(case: Case, number: int, *, letter: bool) -> Response | tuple[str, int]:
    """File ``number`` of the session's own case, as an attachment named by reference."""
    try:
        found = open_complainant_file(
            db.session(),
            keystore(),
            case,
            letter=letter,
            ordinal=number,
            actor=Actor(ActorKind.COMPLAINANT, case.reference),
            now=now(),
        )
    except CaseNotFound:
        return render_error(404)
    except CaseUnreadable:
        return render_error(500)
    response = Response(found.body, content_type=found.content_type)
    # The name is ours (reference and number): it needs no escaping and says nothing else.
    response.headers["Content-Disposition"] = f'attachment; filename="{found.filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def _checked_files(form: FilesForm, notices: list[str]) -> list[NewAttachment] | None:
    """The uploaded files, checked; None (with messages on the form) if any is refused.

    ``notices`` gets a word for each file kept under another ending than it was given.
    """
    settings = current_settings()
    uploads: list[FileStorage] = [f for f in form.files.data or [] if f and f.filename]
    if not uploads:
        form.files.errors.append(_("Choose one or more files to add."))
        return None
    if len(uploads) > settings.max_attachments:
        form.files.errors.append(
            ngettext(
                "You can add one file at a time. Add the others afterwards.",
                "You can add at most %(num)d files at a time. Add the others afterwards.",
                settings.max_attachments,
            )
        )
        return None
    max_size = size_text(settings.max_attachment_bytes)
    checked = []
    for upload in uploads:
        # One byte more than allowed is enough to know a file is too large.
        data = upload.stream.read(settings.max_attachment_bytes + 1)
        name = upload.filename or ""
        try:
            file = check_upload(name, data, max_bytes=settings.max_attachment_bytes)
        except UploadRejected as exc:
            form.files.errors.append(upload_message(exc.reason, shown_name(name), max_size))
            continue
        checked.append(NewAttachment(file.name, file.content_type, file.body))
        if renamed(name, file.name):
            # A flash message travels in the cookie: without the file's name.
            notices.append(rename_notice(name, file.name, file.content_type, names=False))
    return None if form.files.errors else checked


@bp.post("/opvolgen/melding/bestanden")
@mailbox_required
def upload_files(record: ComplainantSession, case: Case) -> Response | tuple[str, int]:
    form = FilesForm()
    if current_settings().max_attachments == 0:
        return render_error(404)
    notices: list[str] = []
    files = _checked_files(form, notices) if form.validate_on_submit() else None
    if files is None:
        return _render_mailbox(case, files_form=form)
    try:
        add_files(db.session(), keystore(), workflow(), case, files=files, now=now())
    except MailboxClosed:
        return _closed_notice()
    flash(
        _("Your files have been added. The handler gets an e-mail saying there is news."), "success"
    )
    for notice in dict.fromkeys(notices):
        flash(notice, "info")
    return redirect(_mailbox_url("bestanden"), code=303)


@bp.post("/opvolgen/melding/toestemming")
@mailbox_required
def change_consent(record: ComplainantSession, case: Case) -> Response | tuple[str, int]:
    form = ConsentForm()
    if not form.validate_on_submit():
        return render_error(400)
    given = form.decision.data == GIVE
    try:
        changed = set_consent(
            db.session(),
            keystore(),
            workflow(),
            case,
            kind=ConsentKind(form.kind.data),
            given=given,
            now=now(),
        )
    except MailboxClosed:
        return _closed_notice()
    except ValueError:  # a consent this report does not ask for
        return render_error(400)
    if changed:
        flash(
            _("Your consent has been recorded. The handler has been told.")
            if given
            else _("Your consent has been withdrawn. The handler has been told."),
            "success",
        )
    return redirect(_mailbox_url("toestemming"), code=303)


@bp.post("/opvolgen/melding/doorverwezen")
@mailbox_required
def referral_code(record: ComplainantSession, case: Case) -> str | tuple[str, int]:
    """The receipt code of a case this report was passed on to: shown once, in this answer."""
    form = OpenReportForm()
    if not form.validate_on_submit():
        return render_error(400)
    referred_id = uuid.UUID(form.case_id.data)
    try:
        code = issue_referral_code(
            db.session(), keystore(), indexer(), case, referred_id=referred_id, now=now()
        )
    except LookupError:  # not passed on from this report, or its code was given out before
        return render_error(404)
    referred = db.session().get(Case, referred_id)
    assert referred is not None  # noqa: S101 - just issued a code for it
    return render_template(
        "followup/referral_code.html",
        code_groups=code.split("-"),
        referred=referred,
        route=workflow()[referred.route].label,
    )


@bp.route("/opvolgen/melding/intrekken", methods=["GET", "POST"])
@mailbox_required
def withdraw(record: ComplainantSession, case: Case) -> Response | str:
    if not workflow()[case.route].is_open(case.state):
        return _closed_notice()
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            withdraw_case(db.session(), keystore(), workflow(), case, now=now())
        except MailboxClosed:
            return _closed_notice()
        flash(
            _(
                "You have withdrawn your report. The handler has been told. You can still read "
                "your mailbox."
            ),
            "success",
        )
        return redirect(_mailbox_url(), code=303)
    return render_template(
        "followup/withdraw.html",
        form=form,
        case=case,
        reply_days=current_settings().closed_reply_days,
    )


# My reports ------------------------------------------------------------------------------------


@bp.get("/account/mijn-meldingen")
@login_required
def reports() -> str:
    user = staff_user()
    cases = my_reports(db.session(), complainant_index(indexer(), user.person_id))
    flow = workflow()
    rows = [
        (
            case,
            flow[case.route].label,
            state.public if (state := flow[case.route].states.get(case.state)) else "",
        )
        for case in cases
    ]
    return render_template("followup/my_reports.html", rows=rows)


@bp.post("/account/mijn-meldingen/openen")
@login_required
def open_report() -> Response | tuple[str, int]:
    form = OpenReportForm()
    if not form.validate_on_submit():
        return render_error(400)
    user = staff_user()
    opened = open_own_report(
        db.session(),
        keystore(),
        _policy(),
        case_id=uuid.UUID(form.case_id.data),
        blind_index=complainant_index(indexer(), user.person_id),
        actor=Actor.staff(user.account.id),
        now=now(),
    )
    if opened is None:
        # The same answer as for a report that does not exist; the refusal is audited.
        return render_error(404)
    _begin_mailbox(opened.token)
    return redirect(_mailbox_url(), code=303)
