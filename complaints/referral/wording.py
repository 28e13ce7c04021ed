"""What the referral and proxy pages say, for staff: options, explanations and refusals."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from complaints.cases.labels import grant_label
from complaints.cases.models import Disclosure, Route
from complaints.cases.taxonomy import Taxonomy
from complaints.intake.services import Report
from complaints.intake.wording import Option, disclosure_label
from complaints.referral.proxy import ProxyChannel
from complaints.referral.services import ConsentChannel, ReferralChoice, ReferralScope
from complaints.routing.services import Recipient
from complaints.web.i18n import _
from complaints.workflow.config import Workflow


def staff_route_summary(route: Route) -> str:
    """What a route is, said to the staff member who chooses it for someone else.

    The report form's own summaries speak to the complainant ("your manager"); a confidant
    reading those would be told about their own manager.
    """
    texts = {
        Route.MANAGER: _(
            "The complainant's manager can often act quickly: talk to the people involved, make "
            "agreements and take measures. If that manager is named in the report, it goes to the "
            "next manager up."
        ),
        Route.CONFIDANT: _(
            "A confidential counsellor listens to the complainant, advises and supports them, in "
            "confidence, and does nothing without their consent."
        ),
        Route.INTEGRITY: _(
            "For a suspected integrity violation, such as fraud, a conflict of interest, abuse "
            "of power or leaking information. The integrity coordinator assesses the report and "
            "may start an investigation."
        ),
        Route.COMMITTEE: _(
            "A formal complaint to the Central Government Committee on Undesirable Behaviour. "
            "The committee hears both sides and advises the complainant's employer, who decides. "
            "The person complained about receives a copy of the complaint, so it cannot be "
            "anonymous."
        ),
    }
    return texts[route]


def staff_route_options(flow: Workflow, routes: Iterable[Route]) -> list[Option]:
    """Routes as options for a staff member, each with its summary for staff."""
    return [Option(route.value, flow[route].label, staff_route_summary(route)) for route in routes]


def recipients_text(recipients: Sequence[Recipient]) -> str:
    """Who receives a report, as "name (role), name (role)"."""
    return ", ".join(
        _("%(name)s (%(role)s)", name=r.name, role=grant_label(r.role).lower()) for r in recipients
    )


@dataclass(frozen=True)
class ReferralOption:
    """A referral choice as the page offers it: a radio with what goes where, and to whom."""

    value: str
    label: str
    summary: str
    scope: str
    recipients: str
    # The ids of the people shown, sent back with the choice: a referral is held to them.
    recipient_ids: str = ""
    hint: None = None  # the page shows the parts above, not one hint


def referral_options(flow: Workflow, choices: Iterable[ReferralChoice]) -> list[ReferralOption]:
    """The offered choices as radios. The label names the scope only where there are two."""
    offered = [c for c in choices if c.offered]
    both = {c.route for c in offered if c.scope is ReferralScope.WITH_IDENTITY} & {
        c.route for c in offered if c.scope is ReferralScope.WITHOUT_IDENTITY
    }
    return [
        ReferralOption(
            value=c.value,
            label=(
                _(
                    "%(route)s: %(scope)s",
                    route=flow[c.route].label,
                    scope=scope_label(c.scope).lower(),
                )
                if c.route in both
                else str(flow[c.route].label)
            ),
            summary=staff_route_summary(c.route),
            scope=scope_label(c.scope),
            recipients=recipients_text(c.recipients),
            recipient_ids=",".join(str(i) for i in sorted({r.person_id for r in c.recipients})),
        )
        for c in offered
    ]


def unavailable_routes(flow: Workflow, choices: Iterable[ReferralChoice]) -> list[Option]:
    """The routes none of whose choices is offered, each with why (already referred: left out).

    The reason given is that of the widest scope the consent covers: "it cannot be anonymous"
    tells more than "the consent does not cover the name".
    """
    by_route: dict[Route, list[ReferralChoice]] = {}
    for choice in choices:
        by_route.setdefault(choice.route, []).append(choice)
    unavailable = []
    for route, route_choices in by_route.items():
        if any(c.offered for c in route_choices):
            continue
        reasons = [c.refused for c in route_choices if c.refused is not None]
        if "already_referred" in reasons or "no_consent" in reasons:
            continue
        reason = next((r for r in reasons if r != "scope_not_covered"), reasons[0])
        unavailable.append(Option(route.value, flow[route].label, referral_refusal(reason)))
    return unavailable


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


@dataclass(frozen=True)
class ReviewRow:
    """One answer on the review of a report filed on someone's behalf, with where to change it
    (the section of the form: ``<section>-title`` is its heading's id)."""

    label: str
    values: list[str]
    section: str
    long_text: bool = False


def proxy_summary(
    taxonomy: Taxonomy,
    report: Report,
    *,
    channel: ProxyChannel,
    route_label: str,
    unit_name: str | None,
    employee_name: str | None,
) -> list[ReviewRow]:
    """Every answer of a report taken down for an employee, in words, in the form's order."""
    none = _("Not given")
    identity = report.identity if report.disclosure is not Disclosure.ANONYMOUS else None
    employee = [disclosure_label(report.disclosure.value)]
    if identity is not None:
        employee += [
            _("Name: %(name)s", name=identity.name),
            _("E-mail: %(email)s", email=identity.email or none),
            _("Phone: %(phone)s", phone=identity.phone or none),
        ]
    if employee_name:
        employee.append(_("Found in the directory: %(name)s", name=employee_name))
    category = taxonomy.categories[report.category]
    what = [str(category.label)]
    what += [str(taxonomy.grounds[g].label) for g in report.grounds if g in taxonomy.grounds]
    return [
        ReviewRow(
            _("Who the report is about"), [a.name for a in report.accused] or [none], "people"
        ),
        ReviewRow(_("The employee"), employee, "employee"),
        ReviewRow(_("How did the employee contact you?"), [proxy_channel_label(channel)], "what"),
        ReviewRow(_("What happened"), what, "what"),
        ReviewRow(_("What happened, as the employee told it"), [report.description], "what", True),
        ReviewRow(_("What the employee hopes for"), [report.desired_outcome or none], "what", True),
        ReviewRow(_("When"), [report.when or none], "when"),
        ReviewRow(_("Where"), [v for v in (unit_name or "", report.place) if v] or [none], "when"),
        ReviewRow(_("Who handles it"), [route_label], "route"),
    ]


def proxy_channel_label(channel: ProxyChannel) -> str:
    return next(str(o.label) for o in proxy_channel_options() if o.value == channel.value)


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
        "recipients_changed": _(
            "Meanwhile the list of people who would receive the report changed. Check who it "
            "goes to now and pass it on again."
        ),
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
