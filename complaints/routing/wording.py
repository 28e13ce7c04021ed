"""Who can read a report, in words: every such statement the complainant reads is made here,
from the facts of ``routing/readers.py``, so what the pages say is what the rules do.

Each statement says what it is about (``about``, ``detail``) besides its text, so a page
shows it with those as data attributes and a test can hold it against what a filed case gets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from babel.lists import format_list

from complaints.cases.models import Disclosure, GrantRole
from complaints.routing.readers import Readers
from complaints.web.i18n import _, current_language


@dataclass(frozen=True)
class Statement:
    about: str  # reader, name, accused, copy, handover, referral, administrators, not_possible
    detail: str  # e.g. the reader's role, or whether the name goes with it
    text: str


def who_can_read(readers: Readers) -> list[Statement]:
    """What the complainant is told about who can read their report, in the request language."""
    if not readers.accepted:
        return [_not_possible(readers)]
    statements = [
        Statement("reader", role.value, _reader_text(role, readers)) for role in readers.roles
    ]
    if readers.readers_see_name is not None:
        statements.append(_name(readers))
    statements.append(
        Statement(
            "accused",
            "no_access",
            _("Nobody named in your report can open it here, now or later."),
        )
    )
    if readers.copy_step is not None:
        statements.append(_copy(readers))
    statements.append(
        Statement(
            "handover",
            "same_role",
            _(
                "If one of them leaves or steps aside, your report goes to someone else in the "
                "same role, never to anyone named in it."
            ),
        )
    )
    if readers.referral_with_consent:
        statements.append(_referral(readers.disclosure))
    statements.append(
        Statement(
            "administrators", "no_access", _("Administrators of this service cannot read it.")
        )
    )
    return statements


def _reader_text(role: GrantRole, readers: Readers) -> str:
    if role is GrantRole.MANAGER:
        if readers.next_manager_up:
            return _(
                "Your manager reads your report. If your manager is named in it, the manager "
                "above them reads it instead."
            )
        return _("Your manager reads your report.")
    texts = {
        GrantRole.CONFIDANT: _(
            "One confidential counsellor reads your report: the one you chose, or otherwise a "
            "counsellor serving the organisation where it happened or all of central government."
        ),
        GrantRole.INTEGRITY_COORDINATOR: _(
            "The integrity coordinators serving the organisation where it happened read your "
            "report; if there are none, those serving all of central government."
        ),
        GrantRole.COMMITTEE_SECRETARY: _(
            "The secretariat of the complaints committee reads your complaint."
        ),
        GrantRole.COMMITTEE_MEMBER: _(
            "The members of the complaints committee whom the secretary assigns to your "
            "complaint read it too."
        ),
    }
    return texts[role]


def _name(readers: Readers) -> Statement:
    if not readers.readers_see_name:
        return Statement(
            "name",
            "hidden",
            _(
                "None of them learns your name: your report does not contain it. Details in your "
                "story may still show who you are."
            ),
        )
    if readers.name_kept_without_consent:
        return Statement(
            "name", "kept", _("They see your name, and do not pass it on without your consent.")
        )
    if readers.disclosure is Disclosure.NAMED:
        return Statement(
            "name",
            "used",
            _(
                "They see your name, and may use it in handling your report, for example when "
                "they talk to the people involved."
            ),
        )
    return Statement("name", "visible", _("They see your name."))


def _copy(readers: Readers) -> Statement:
    """The copy the committee sends (``copy_for_accused`` letter): what was written and the
    documents, never the contact details or the witnesses named; the name as configured."""
    step = str(readers.copy_step)
    if readers.copy_with_name is None:
        detail, text = (
            "unknown",
            _(
                "Once your complaint reaches the step “%(step)s”, the person you complain about "
                "receives a copy of what you wrote and of the documents you sent with it, without "
                "your contact details or the witnesses you named, so that they can respond "
                "(General Administrative Law Act, article 9:9).",
                step=step,
            ),
        )
    elif readers.copy_with_name:
        detail, text = (
            "with_name",
            _(
                "Once your complaint reaches the step “%(step)s”, the person you complain about "
                "receives a copy of what you wrote and of the documents you sent with it, with "
                "your name but without your contact details or the witnesses you named, so that "
                "they can respond (General Administrative Law Act, article 9:9).",
                step=step,
            ),
        )
    else:
        detail, text = (
            "without_name",
            _(
                "Once your complaint reaches the step “%(step)s”, the person you complain about "
                "receives a copy of what you wrote and of the documents you sent with it, without "
                "your name, your contact details or the witnesses you named, so that they can "
                "respond (General Administrative Law Act, article 9:9).",
                step=step,
            ),
        )
    return Statement("copy", detail, text)


def _referral(disclosure: Disclosure | None) -> Statement:
    if disclosure is Disclosure.ANONYMOUS:
        text = _("Only with your consent can it be passed on to another route; it stays anonymous.")
    elif disclosure is Disclosure.CONFIDENTIAL:
        text = _(
            "Only with your consent can it be passed on to another route; your name goes with it "
            "only if you also consent to sharing who you are."
        )
    elif disclosure is Disclosure.NAMED:
        text = _("Only with your consent can it be passed on to another route, with your name.")
    else:
        text = _("Only with your consent can it be passed on to another route.")
    return Statement("referral", disclosure.value if disclosure else "unknown", text)


def _not_possible(readers: Readers) -> Statement:
    return Statement(
        "not_possible",
        readers.disclosure.value if readers.disclosure else "unknown",
        _(
            "Not possible when you report anonymously: the person you complain about must be "
            "able to respond, and is therefore told who complains."
        ),
    )


def disclosure_summary(disclosure: Disclosure, per_route: Sequence[Readers]) -> list[Statement]:
    """What a disclosure level means for who learns the name, and where a route differs."""
    general = {
        Disclosure.ANONYMOUS: Statement(
            "name",
            "hidden",
            _(
                "Nobody learns who you are, not even the people who handle your report. You can "
                "still follow it and answer questions with your receipt code. Details in your "
                "story may still show who you are."
            ),
        ),
        Disclosure.CONFIDENTIAL: Statement(
            "name", "visible", _("The people who handle your report learn your name.")
        ),
        Disclosure.NAMED: Statement(
            "name",
            "used",
            _(
                "The people who handle your report learn your name, and may use it in handling "
                "it, for example when they talk to the people involved."
            ),
        ),
    }
    differing = {
        "not_possible": [r for r in per_route if not r.accepted],
        "kept": [r for r in per_route if r.accepted and r.name_kept_without_consent],
        "copy_with_name": [r for r in per_route if r.accepted and r.copy_with_name],
        "copy_without_name": [
            r for r in per_route if r.accepted and r.copy_step is not None and not r.copy_with_name
        ],
    }
    statements = [general[disclosure]]
    for about, routes in differing.items():
        if not routes:
            continue
        # "Leidinggevende, Vertrouwenspersoon en Integriteitscoördinator: ..."
        names = format_list([str(r.route_label) for r in routes], locale=current_language())
        detail = " ".join(r.route.value for r in routes)
        statements.append(Statement(about, detail, _route_difference(about, names)))
    return statements


def _route_difference(about: str, routes: str) -> str:
    texts = {
        "not_possible": _(
            "%(routes)s: not possible anonymously, because the person you complain about must "
            "be able to respond, and is therefore told who complains.",
            routes=routes,
        ),
        "kept": _("%(routes)s: your name is not passed on without your consent.", routes=routes),
        "copy_with_name": _(
            "%(routes)s: the person you complain about receives a copy of your complaint, with "
            "your name.",
            routes=routes,
        ),
        "copy_without_name": _(
            "%(routes)s: the person you complain about receives a copy of your complaint, "
            "without your name.",
            routes=routes,
        ),
    }
    return texts[about]
