"""Staff log-in (password, then TOTP), log-out, and the account page."""

from __future__ import annotations

import math

import segno
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from complaints import db
from complaints.accounts.devices import known_device, login_client, remember_device
from complaints.accounts.forms import (
    ChangePasswordForm,
    ConfirmForm,
    LoginForm,
    NewPasswordForm,
    TotpForm,
)
from complaints.accounts.landing import landing_url
from complaints.accounts.login import StaffUser, login_policy, passwords, staff_user
from complaints.accounts.models import Account, SessionStage, StaffSession
from complaints.accounts.services import (
    CodeReused,
    LoginFailed,
    LoginThrottled,
    PasswordRejected,
    begin_totp_enrolment,
    change_password,
    check_password,
    check_totp,
    complete_login,
    confirm_current_password,
    end_all_sessions,
    end_session,
    find_account,
    issue_session,
    live_sessions,
    provisioning_uri,
    recent_failures,
    resolve_session,
    roles_of,
    totp_secret,
)
from complaints.audit.services import Actor, record_event
from complaints.clock import now
from complaints.crypto.services import keystore
from complaints.settings import current_settings
from complaints.web import cookies
from complaints.web.i18n import _, ngettext
from complaints.web.limits import client_key, limiter
from complaints.web.navigation import is_safe_next

bp = Blueprint("accounts", __name__, template_folder="templates")

QR_SCALE = 5
QR_BORDER = 4
PENDING_TOKEN = "pending_login"  # noqa: S105 - a cookie-session key, not a secret
LOGIN_NEXT = "login_next"


def _login_rate_limit() -> str:
    return current_settings().login_rate_limit


def _from_a_known_device() -> bool:
    """The request limit counts per address, which everyone behind an office NAT shares; a
    browser that logged in to this account before is throttled on its own instead."""
    device = known_device()
    if device is None:
        return False
    if request.endpoint == "accounts.login":
        account = find_account(db.session(), request.form.get("email", ""))
        return account is not None and account.id == device.account_id
    pending = _pending()
    return pending is not None and pending.account_id == device.account_id


def _password_message(reason: str) -> str:
    messages = {
        "too_short": _("Choose a password of at least 12 characters."),
        "too_long": _("Choose a password of at most 256 characters."),
        "like_login": _("Your password must not be your e-mail address."),
        "too_simple": _("Choose a password with more different characters."),
        "same_as_old": _("Choose a password that differs from your current one."),
    }
    return messages.get(reason, _("Choose another password."))


def _wait_text(seconds: int) -> str:
    if seconds < 90:
        return ngettext("%(num)d second", "%(num)d seconds", seconds)
    return ngettext("%(num)d minute", "%(num)d minutes", math.ceil(seconds / 60))


def _throttled_message(failure: LoginThrottled) -> str:
    return _(
        "Too many failed attempts from this device or network. Wait %(wait)s and try again.",
        wait=_wait_text(failure.retry_after),
    )


def _then_wait(message: str, failure: LoginFailed) -> str:
    """``message``, and how long to wait when the next attempt will not be heard at once."""
    if not failure.retry_after:
        return message
    return " ".join(
        (message, _("Wait %(wait)s before the next attempt.", wait=_wait_text(failure.retry_after)))
    )


def _code_message(failure: LoginFailed) -> str:
    if isinstance(failure, LoginThrottled):
        return _throttled_message(failure)
    if isinstance(failure, CodeReused):
        return _(
            "This code has just been used. Wait for the next code in your app (at most 30 "
            "seconds) and enter that one."
        )
    return _then_wait(
        _("That code is not correct. Check the time on your phone and try the newest code."),
        failure,
    )


def _home() -> str:
    """The work page of whoever is logged in."""
    return landing_url(db.session(), staff_user().person_id, None)


def _pending() -> StaffSession | None:
    token = cookie_session.get(PENDING_TOKEN)
    if not token:
        return None
    return resolve_session(db.session(), token, SessionStage.PASSWORD, login_policy(), now())


def _restart_login() -> Response:
    cookie_session.pop(PENDING_TOKEN, None)
    flash(_("Your log-in took too long or was interrupted. Please start again."), "info")
    return redirect(url_for("accounts.login"))


def _second_step(account: Account) -> str:
    if account.must_change_password:
        return url_for("accounts.set_password")
    if account.totp_confirmed_at is None:
        return url_for("accounts.enrol_totp")
    return url_for("accounts.verify_totp")


def _finish_login(pending: StaffSession) -> Response:
    target = landing_url(
        db.session(), pending.account.person_id, cookie_session.pop(LOGIN_NEXT, None)
    )
    issued = complete_login(db.session(), keystore(), login_policy(), pending, now=now())
    cookies.renew(logging_out=False)  # nothing carries over from before log-in
    login_user(StaffUser(issued.record, issued.token))
    response = redirect(target, code=303)
    remember_device(response, issued.record.account_id)
    return response


@bp.route("/aanmelden", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"], exempt_when=_from_a_known_device)
def login() -> Response | str:
    if current_user.is_authenticated:
        return redirect(_home())
    form = LoginForm(next=request.args.get("next", ""))
    failure_message = None
    if form.validate_on_submit():
        try:
            account = check_password(
                db.session(),
                keystore(),
                passwords(),
                login_policy(),
                login=form.email.data,
                password=form.password.data,
                client=client_key(),
                device=known_device(),
                now=now(),
            )
        except LoginThrottled as throttled:
            failure_message = _throttled_message(throttled)
        except LoginFailed as failed:
            failure_message = _then_wait(
                _("The e-mail address or password is not correct. Check what you typed."), failed
            )
        else:
            issued = issue_session(
                db.session(), account, SessionStage.PASSWORD, login_policy(), now()
            )
            cookies.renew(logging_out=False)
            cookie_session[PENDING_TOKEN] = issued.token
            # Only a local address is kept; without one, the work page is chosen at the end.
            cookie_session[LOGIN_NEXT] = form.next.data if is_safe_next(form.next.data) else None
            return redirect(_second_step(account), code=303)
    form.password.data = ""
    return render_template("accounts/login.html", form=form, failure_message=failure_message)


@bp.route("/aanmelden/nieuw-wachtwoord", methods=["GET", "POST"])
def set_password() -> Response | str:
    pending = _pending()
    if pending is None:
        return _restart_login()
    account = pending.account
    if not account.must_change_password:
        return redirect(_second_step(account))
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            change_password(
                db.session(),
                keystore(),
                passwords(),
                account,
                new_password=form.password.data,
                keep_session_id=pending.id,
                now=now(),
            )
        except PasswordRejected as exc:
            form.password.errors.append(_password_message(exc.reason))
        else:
            flash(_("Your new password has been saved."), "success")
            return redirect(_second_step(account), code=303)
    return render_template("accounts/set_password.html", form=form)


@bp.route("/aanmelden/code-instellen", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"], exempt_when=_from_a_known_device)
def enrol_totp() -> Response | str:
    pending = _pending()
    if pending is None:
        return _restart_login()
    account = pending.account
    if account.must_change_password or account.totp_confirmed_at is not None:
        return redirect(_second_step(account))
    keys = keystore()
    # Keep an unconfirmed secret across reloads, so a code scanned a moment ago stays valid.
    secret = totp_secret(keys, account) or begin_totp_enrolment(keys, account)
    form = TotpForm()
    if form.validate_on_submit():
        try:
            check_totp(
                db.session(),
                keys,
                login_policy(),
                account,
                code=form.code.data,
                client=login_client(account.id),
                now=now(),
            )
        except LoginFailed as failed:
            form.code.errors.append(_code_message(failed))
        else:
            return _finish_login(pending)
    symbol = segno.make(provisioning_uri(secret, account.login), error="m")
    qr_size, _height = symbol.symbol_size(scale=QR_SCALE, border=QR_BORDER)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    form.code.data = ""
    return render_template(
        "accounts/enrol_totp.html",
        form=form,
        qr=symbol.svg_data_uri(scale=QR_SCALE, border=QR_BORDER),
        qr_size=qr_size,
        secret=grouped,
    )


@bp.route("/aanmelden/code", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"], exempt_when=_from_a_known_device)
def verify_totp() -> Response | str:
    pending = _pending()
    if pending is None:
        return _restart_login()
    account = pending.account
    if account.must_change_password or account.totp_confirmed_at is None:
        return redirect(_second_step(account))
    form = TotpForm()
    if form.validate_on_submit():
        try:
            check_totp(
                db.session(),
                keystore(),
                login_policy(),
                account,
                code=form.code.data,
                client=login_client(account.id),
                now=now(),
            )
        except LoginFailed as failed:
            form.code.errors.append(_code_message(failed))
        else:
            return _finish_login(pending)
    form.code.data = ""
    return render_template("accounts/verify_totp.html", form=form)


@bp.post("/afmelden")
def logout() -> Response:
    form = ConfirmForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        user = staff_user()
        end_session(user.record, "logout", now())
        record_event(
            db.session(),
            keystore(),
            actor=Actor.staff(user.account.id),
            action="auth.logout",
            now=now(),
            object_type="account",
            object_id=user.account.id,
        )
    logout_user()
    cookies.renew(logging_out=True)
    flash(_("You have been logged out."), "success")
    return redirect(url_for("accounts.login"), code=303)


@bp.get("/account")
@login_required
def overview() -> str:
    user = staff_user()
    return render_template(
        "accounts/overview.html",
        account=user.account,
        roles=roles_of(db.session(), user.person_id),
        sessions=live_sessions(db.session(), user.account.id, now()),
        failures=recent_failures(db.session(), user.account),
        current_session_id=user.record.id,
        form=ConfirmForm(),
    )


@bp.post("/account/sessies-beeindigen")
@login_required
def end_other_sessions() -> Response:
    form = ConfirmForm()
    if form.validate_on_submit():
        user = staff_user()
        ended = end_all_sessions(
            db.session(), user.account.id, reason="ended_by_user", now=now(), keep=user.record.id
        )
        record_event(
            db.session(),
            keystore(),
            actor=Actor.staff(user.account.id),
            action="auth.sessions_ended",
            now=now(),
            object_type="account",
            object_id=user.account.id,
            details={"sessions_ended": ended},
        )
        flash(_("Your other sessions have been ended."), "success")
    return redirect(url_for("accounts.overview"), code=303)


@bp.route("/account/wachtwoord", methods=["GET", "POST"])
@login_required
def change_own_password() -> Response | str:
    user = staff_user()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        account = user.account
        try:
            confirm_current_password(
                db.session(),
                keystore(),
                passwords(),
                login_policy(),
                account,
                password=form.current.data,
                client=login_client(account.id),
                now=now(),
            )
        except LoginThrottled as throttled:
            form.current.errors.append(_throttled_message(throttled))
        except LoginFailed as failed:
            form.current.errors.append(
                _then_wait(_("Your current password is not correct."), failed)
            )
        else:
            try:
                change_password(
                    db.session(),
                    keystore(),
                    passwords(),
                    account,
                    new_password=form.password.data,
                    keep_session_id=user.record.id,
                    now=now(),
                )
            except PasswordRejected as exc:
                form.password.errors.append(_password_message(exc.reason))
            else:
                flash(
                    _("Your new password has been saved. Your other sessions were ended."),
                    "success",
                )
                return redirect(url_for("accounts.overview"), code=303)
    return render_template("accounts/change_password.html", form=form)
