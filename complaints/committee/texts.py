"""What the committee's choices and refusals are called, in the request's language."""

from __future__ import annotations

from complaints.cases.models import Route
from complaints.committee.services import CommitteeRefused, Exclusion, HeardParty, LetterKind
from complaints.web.i18n import _
from complaints.workflow.config import workflow


def outcome_label(outcome: str) -> str:
    """An outcome by its name in workflow.toml (the one list of outcomes of the route)."""
    label = workflow()[Route.COMMITTEE].outcomes.get(outcome)
    return str(label) if label is not None else outcome


def heard_label(heard: str) -> str:
    return {
        HeardParty.COMPLAINANT.value: _("The complainant"),
        HeardParty.ACCUSED.value: _("The person complained about"),
        HeardParty.WITNESS.value: _("A witness"),
    }.get(heard, heard)


def exclusion_label(exclusion: Exclusion) -> str:
    return {
        Exclusion.CHALLENGE: _("Challenged by a party (wraking)"),
        Exclusion.RECUSAL: _("Stepped aside (verschoning)"),
    }[exclusion]


def letter_description(kind: LetterKind) -> str:
    return {
        LetterKind.ACKNOWLEDGEMENT: _(
            "Confirms receipt, says that the committee will advise the competent authority, "
            "and gives the time limits."
        ),
        LetterKind.NOT_ADMISSIBLE: _(
            "Tells the complainant that the complaint will not be dealt with, and why "
            "(Awb 9:8). Send it within four weeks."
        ),
        LetterKind.EXTENSION: _(
            "Tells the complainant that the decision is postponed, and until when (Awb 9:11). "
            "Send it to the person complained about as well."
        ),
        LetterKind.DECISION: _(
            "The recorded decision with its outcome and reasons, and that the complainant may "
            "turn to the Nationale ombudsman within one year."
        ),
        LetterKind.COPY_FOR_ACCUSED: _(
            "For the person complained about, once the complaint has been taken on: a copy of "
            "the complaint (Awb 9:9), with the complainant's name where the workflow says so, "
            "without their contact details or the witnesses they named. Enclose the documents "
            "sent with it."
        ),
    }[kind]


def refusal_text(refused: CommitteeRefused | str) -> str:
    """Why the committee service refused a step."""
    if isinstance(refused, CommitteeRefused) and refused.message:
        return refused.message
    reason = refused.reason if isinstance(refused, CommitteeRefused) else refused
    texts = {
        "secretary_only": _("Only the committee secretary can do this."),
        "not_a_member": _("This person is not a member of the complaints committee."),
        "accused": _(
            "This person is named as accused in the complaint and can never take part in it."
        ),
        "inactive": _("This person is no longer active in the organisation."),
        "complainant": _("This person filed the complaint and cannot sit on the committee."),
        "already_assigned": _(
            "This member is already assigned, or was excluded from this case earlier."
        ),
        "no_such_member": _("This member does not take part in this case, or no longer does."),
        "reason_required": _("Give the reason."),
        "text_required": _("This text is required."),
        "too_long": _("This text is too long."),
        "case_closed": _("This case is closed: nothing can be added or changed any more."),
        "unknown_outcome": _("Choose one of the outcomes shown."),
        "no_advice": _(
            "The committee's advice has not been recorded yet: the decision follows the advice."
        ),
        "departure_reason_required": _(
            "The decision departs from the committee's advice: say why. The law requires "
            "the reason to be given (Awb 9:15, third paragraph)."
        ),
        "date_required": _("Enter the new date."),
        "unknown_language": _("Choose Dutch or English."),
        "no_decision": _("Record the decision first: the letter states its outcome and reasons."),
        "copy_not_yet": _(
            "The person complained about receives a copy only once the complaint has been taken on."
        ),
        "changed_meanwhile": _(
            "Someone else changed this case while you were working on it. The page now shows "
            "the case as it is; check it and try again."
        ),
    }
    return texts.get(reason, _("This step is not possible now."))
