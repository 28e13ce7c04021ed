"""What the report form says: explanations, labels and messages, in plain, kind words.

Everything here is translatable. Deadlines come from the workflow configuration, never from
the text, so the form always tells what the configuration will enforce.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from babel.lists import format_list
from babel.units import format_unit

from complaints.cases.labels import RELATIONS, disclosure_for_complainants, relation_in_own_words
from complaints.cases.models import Disclosure, Route
from complaints.routing.readers import readers
from complaints.routing.services import Basis, Recipient
from complaints.routing.wording import disclosure_summary
from complaints.web.i18n import _, current_language
from complaints.workflow.config import Period, RouteWorkflow, Workflow, workflow


@dataclass(frozen=True)
class Option:
    value: str
    label: Any
    hint: Any = None


def relation_options() -> list[Option]:
    return [Option(key, relation_in_own_words(key)) for key in RELATIONS]


def disclosure_options(flow: Workflow | None = None) -> list[Option]:
    """The three ways to report, each with what it means; who learns the name is worded from
    the routing rules (``routing/wording.py``), route by route where they differ."""
    flow = flow or workflow()

    def who_learns_the_name(level: Disclosure) -> str:
        per_route = [readers(flow, route, level) for route in Route]
        return " ".join(s.text for s in disclosure_summary(level, per_route))

    return [
        Option(
            Disclosure.ANONYMOUS.value,
            _("Anonymously"),
            _(
                "Nobody learns who you are, not even the person who handles your report. You "
                "can still read replies and answer questions with your receipt code. A formal "
                "complaint to the complaints committee is not possible anonymously. Details in "
                "your story may still show who you are."
            ),
        ),
        Option(
            Disclosure.CONFIDENTIAL.value,
            disclosure_for_complainants(Disclosure.CONFIDENTIAL),
            who_learns_the_name(Disclosure.CONFIDENTIAL),
        ),
        Option(
            Disclosure.NAMED.value, _("Under my own name"), who_learns_the_name(Disclosure.NAMED)
        ),
    ]


def disclosure_label(value: str) -> str:
    return next((str(o.label) for o in disclosure_options() if o.value == value), value)


@dataclass(frozen=True)
class RouteInfo:
    route: Route
    label: Any
    summary: str
    next_steps: str
    deadlines: list[str]

    @property
    def value(self) -> str:
        return self.route.value


def route_infos(flow: Workflow, routes: Iterable[Route]) -> list[RouteInfo]:
    """Each route in words: what it is, what happens next, and its deadlines."""
    return [
        RouteInfo(r, flow[r].label, _route_summary(r), _route_next(r), deadline_texts(flow[r]))
        for r in routes
    ]


def _route_summary(route: Route) -> str:
    texts = {
        Route.MANAGER: _(
            "Your manager can often act quickly: talk to the people involved, make agreements "
            "and take measures. If your manager is named in your report, it goes to the next "
            "manager up."
        ),
        Route.CONFIDANT: _(
            "A confidential counsellor listens, advises and supports you, in confidence. They "
            "do nothing without your consent, and can help you decide what to do next."
        ),
        Route.INTEGRITY: _(
            "For a suspected integrity violation, such as fraud, a conflict of interest, abuse "
            "of power or leaking information. The integrity coordinator assesses your report "
            "and may start an investigation."
        ),
        Route.COMMITTEE: _(
            "A formal complaint to the Central Government Committee on Undesirable Behaviour. "
            "The committee hears both sides and advises your employer, who decides. The person "
            "you complain about receives a copy of the complaint, so this cannot be anonymous."
        ),
    }
    return texts[route]


def _route_next(route: Route) -> str:
    texts = {
        Route.MANAGER: _(
            "Your manager confirms that they received your report, then contacts you to talk "
            "about what happened and what can be done."
        ),
        Route.CONFIDANT: _(
            "The confidential counsellor confirms receipt and contacts you. Together you decide "
            "what happens next."
        ),
        Route.INTEGRITY: _(
            "The integrity coordinator confirms receipt, assesses your report and tells you "
            "what was done with it."
        ),
        Route.COMMITTEE: _(
            "The committee's secretariat confirms receipt and checks whether the complaint can "
            "be handled. If it can, the committee hears both sides, separately, and advises "
            "your employer, who decides on your complaint. Where possible, complain within a "
            "year of what happened."
        ),
    }
    return texts[route]


def deadline_texts(flow: RouteWorkflow) -> list[str]:
    """The route's deadlines in words, from the workflow configuration."""
    texts = []
    for spec in flow.deadlines:
        if spec.starts == flow.initial:
            texts.append(
                _(
                    "%(what)s: within %(period)s after you send your report",
                    what=str(spec.label),
                    period=period_text(spec.period),
                )
            )
        else:
            texts.append(
                _(
                    "%(what)s: within %(period)s after the step “%(step)s”",
                    what=str(spec.label),
                    period=period_text(spec.period),
                    step=str(flow.states[spec.starts].label),
                )
            )
    return texts


def period_text(period: Period) -> str:
    """A period from the workflow configuration in words, by Babel: "7 dagen", "3 months"."""
    language = current_language()
    parts = [
        format_unit(count, f"duration-{unit}", length="long", locale=language)
        for unit, count in (("month", period.months), ("week", period.weeks), ("day", period.days))
        if count
    ]
    return format_list(parts, locale=language)


def basis_text(recipient: Recipient, *, place_given: bool) -> str:
    """Why this person receives the report, in plain words."""
    if recipient.basis is Basis.HIGHER_MANAGER:
        return _("Your manager is named in your report, so it goes to the next manager up instead.")
    texts = {
        Basis.LINE_MANAGER: _("You named this person as your manager."),
        Basis.CHOSEN: _("You chose this counsellor."),
        Basis.ORGANISATION: _("Serves the organisation where it happened."),
        Basis.GOVERNMENT_WIDE: _(
            "Serves all of central government, because nobody from the organisation where it "
            "happened is available for this report."
        ),
        Basis.SECRETARIAT: _(
            "The committee's secretariat receives every formal complaint and passes it on to "
            "the committee."
        ),
    }
    if recipient.basis is Basis.GOVERNMENT_WIDE and not place_given:
        return _(
            "Serves all of central government. You did not say where it happened, so a "
            "government-wide counsellor or coordinator receives it."
        )
    return texts[recipient.basis]


def refusal_message(reason: str) -> str:
    """What to do about a report the service refused (``ReportRefused.reason``)."""
    messages = {
        "committee_needs_identity": _(
            "A formal complaint to the complaints committee cannot be anonymous: the person "
            "you complain about must be able to respond to it. Choose another way below, or "
            "go back to “Who you are” and give your name, confidentially or openly."
        ),
        "manager_required": _(
            "To send your report to your manager, we need to know who your manager is. Go back "
            "to “Who you are” to choose them, or choose another way below."
        ),
        "route_not_for_category": _(
            "This way is not available for what you are reporting. Choose one of the options shown."
        ),
        "identity_required": _("Enter your name, or choose to report anonymously."),
        "grounds_required": _("Choose at least one ground of discrimination."),
        "unknown_category": _("Choose what happened."),
        "unknown_ground": _("Choose grounds from the list shown."),
        "description_required": _("Describe what happened. A few sentences are enough."),
        "text_too_long": _("Your text is too long. Shorten it and try again."),
    }
    return messages.get(reason, _("Please check your answers."))


def no_handler_message(reason: str) -> str:
    """Why nobody can receive the report this way (``NoEligibleHandler.reason``)."""
    messages = {
        "manager_unknown": refusal_message("manager_required"),
        "no_manager_available": _(
            "We cannot find a manager who can receive your report: your manager and the "
            "managers above them are named in it, or are no longer in the directory. Choose "
            "another way below, for example a confidential counsellor."
        ),
        "chosen_confidant_unavailable": _(
            "The counsellor you chose is not available for your organisation. Choose another "
            "counsellor, or “Any available counsellor”."
        ),
        "chosen_confidant_involved": _(
            "The counsellor you chose is named in your report, so they cannot receive it. "
            "Choose another counsellor."
        ),
        "no_confidant_available": _(
            "No confidential counsellor is available for this report at the moment. Choose "
            "another way below."
        ),
        "no_integrity_coordinator_available": _(
            "No integrity coordinator is available for this report at the moment. Choose "
            "another way below."
        ),
        "no_secretary_available": _(
            "The complaints committee cannot receive complaints at the moment. Choose another "
            "way below."
        ),
    }
    return messages.get(
        reason, _("Nobody can receive your report this way. Choose another way below.")
    )
