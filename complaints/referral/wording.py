"""What the referral and proxy pages say, for staff: options, explanations and refusals."""

from __future__ import annotations

from complaints.intake.wording import Option
from complaints.referral.proxy import ProxyChannel
from complaints.referral.services import ConsentChannel, ReferralScope
from complaints.web.i18n import _


def scope_options(allowed: list[ReferralScope]) -> list[Option]:
    return [Option(scope.value, scope_label(scope), scope_hint(scope)) for scope in allowed]


def scope_label(scope: ReferralScope) -> str:
    return {
        ReferralScope.WITH_IDENTITY: _("The report, with who filed it"),
        ReferralScope.WITHOUT_IDENTITY: _("The report only, without who filed it"),
    }[scope]


def scope_hint(scope: ReferralScope) -> str:
    return {
        ReferralScope.WITH_IDENTITY: _(
            "What happened, when and where, the story, the people named, what the complainant "
            "hopes for, the files the complainant added, and their name and contact details."
        ),
        ReferralScope.WITHOUT_IDENTITY: _(
            "What happened, when and where, the story, the people named and what the "
            "complainant hopes for. The new case is anonymous and the files stay here, because "
            "a document can show who wrote it."
        ),
    }[scope]


def consent_channel_options() -> list[Option]:
    return [Option(c.value, consent_channel_label(c)) for c in ConsentChannel]


def consent_channel_label(channel: ConsentChannel) -> str:
    return {
        ConsentChannel.IN_PERSON: _("In person"),
        ConsentChannel.PHONE: _("By phone"),
    }[channel]


def proxy_channel_options() -> list[Option]:
    return [
        Option(ProxyChannel.PHONE.value, _("By phone")),
        Option(ProxyChannel.WALK_IN.value, _("In person (walk-in)")),
    ]


def referral_refusal(reason: str) -> str:
    """Why a referral or a recorded consent was refused, and what to do about it."""
    messages = {
        "no_consent": _(
            "The complainant has not given consent to pass the report on. They can give it in "
            "their mailbox, or you can record below the consent they gave you in person or by "
            "phone."
        ),
        "scope_not_covered": _(
            "The consent does not cover passing on who filed the report. Choose to pass on the "
            "report only, or record a new consent if the complainant agreed to more."
        ),
        "already_referred": _("This report has already been passed on to this route."),
        "case_closed": _("This case is closed, so it can no longer be passed on."),
        "route_not_offered": _("Choose one of the routes shown."),
        "route_not_for_category": _("This route does not handle this kind of report."),
        "committee_needs_identity": _(
            "A formal complaint to the complaints committee cannot be anonymous: the person "
            "complained about must be able to respond. Pass it on with who filed it (this needs "
            "the complainant's consent), or choose another route."
        ),
        "identity_required": _(
            "The report does not say who filed it, so it can only be passed on anonymously."
        ),
        "manager_required": _(
            "To pass the report on to the manager, who filed it must be passed on and the "
            "complainant must be in the directory, so that their manager is known."
        ),
        "manager_unknown": _(
            "To pass the report on to the manager, who filed it must be passed on and the "
            "complainant must be in the directory, so that their manager is known."
        ),
        "no_manager_available": _(
            "No manager can receive the report: the complainant's manager and those above them "
            "are named in it or are no longer available."
        ),
        "no_integrity_coordinator_available": _(
            "No integrity coordinator can receive the report: those serving this organisation "
            "are named in it or are not available, and there is no government-wide one."
        ),
        "no_secretary_available": _(
            "No secretary of the complaints committee can receive the report at the moment."
        ),
        "consent_date": _("The day cannot be in the future or before the report was made."),
    }
    return messages.get(reason, _("The report cannot be passed on like this."))


def proxy_no_handler(reason: str) -> str:
    """Why nobody can receive a report filed on someone's behalf on the chosen route."""
    messages = {
        "manager_unknown": _(
            "To send the report to the employee's manager, find the employee in the directory "
            "so that their manager is known, or choose another route."
        ),
        "no_manager_available": _(
            "No manager can receive the report: the employee's manager and those above them are "
            "named in it. Choose another route."
        ),
        "no_confidant_available": _(
            "No confidential counsellor can receive the report. Choose another route."
        ),
        "no_integrity_coordinator_available": _(
            "No integrity coordinator can receive the report. Choose another route."
        ),
        "no_secretary_available": _(
            "The complaints committee cannot receive complaints at the moment. Choose another "
            "route."
        ),
    }
    return messages.get(reason, _("Nobody can receive the report this way. Choose another route."))


def proxy_refusal(reason: str) -> str:
    """What to fix in a report filed on someone's behalf (``ReportRefused.reason``)."""
    messages = {
        "committee_needs_identity": _(
            "A formal complaint to the complaints committee cannot be anonymous: the person "
            "complained about must be able to respond. Choose another route, or let the "
            "employee give their name."
        ),
        "manager_required": _(
            "To send the report to the employee's manager, find the employee in the directory "
            "so that their manager is known, or choose another route."
        ),
        "route_not_for_category": _("This route does not handle this kind of report."),
        "identity_required": _(
            "Enter the employee's name, find them in the directory, or choose anonymous."
        ),
        "grounds_required": _("Choose at least one ground of discrimination."),
        "unknown_category": _("Choose what happened."),
        "unknown_ground": _("Choose grounds from the list shown."),
        "description_required": _("Describe what happened. A few sentences are enough."),
        "text_too_long": _("This text is too long. Shorten it and try again."),
    }
    return messages.get(reason, _("Please check the answers."))
