"""What a case's grant roles, disclosure levels and parties are called, in the request's language.

One home for these labels, so that a value reads the same on every page, e-mail and table.
Each label is translated lazily (``_l``): the tables below are built once, at import, and each
text is put into the language of the request (or of the e-mail) when it is shown. Where the
complainant and the handler need different words for the same value, both live here, side by
side. (The report form's own choices, with their explanations, stay with the form's wording in
``intake/wording.py``; the account roles, which are not case roles, in ``accounts/labels.py``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from complaints.cases.models import Disclosure, GrantRole
from complaints.web.i18n import _l

# Grant roles: the capacity in which someone receives and handles the report.
GRANT_ROLES: Mapping[GrantRole, Any] = {
    GrantRole.MANAGER: _l("Manager"),
    GrantRole.CONFIDANT: _l("Confidential counsellor"),
    GrantRole.INTEGRITY_COORDINATOR: _l("Integrity coordinator"),
    GrantRole.COMMITTEE_SECRETARY: _l("Complaints committee secretary"),
    GrantRole.COMMITTEE_MEMBER: _l("Complaints committee member"),
}

# Disclosure levels: in a word (tables, statistics) ...
DISCLOSURES: Mapping[Disclosure, Any] = {
    Disclosure.ANONYMOUS: _l("Anonymous"),
    Disclosure.CONFIDENTIAL: _l("Confidential"),
    Disclosure.NAMED: _l("Named"),
}
# ... as the handler must read them on the case ...
DISCLOSURES_FOR_HANDLERS: Mapping[Disclosure, Any] = {
    Disclosure.ANONYMOUS: _l("Anonymous: nobody knows who filed this report"),
    Disclosure.CONFIDENTIAL: _l(
        "Confidential: only the handlers know who filed; do not share the name without "
        "the complainant's consent"
    ),
    Disclosure.NAMED: _l("Named: the complainant's name may be used in the procedure"),
}
# ... and as the complainant reads them in the mailbox.
DISCLOSURES_FOR_COMPLAINANTS: Mapping[Disclosure, Any] = {
    Disclosure.ANONYMOUS: _l("Anonymously"),
    # Who learns the name differs per route: the page's who-can-read list says.
    Disclosure.CONFIDENTIAL: _l("Confidentially"),
    Disclosure.NAMED: _l("Under your own name"),
}

# The parties of a case: how an accused person relates to the complainant.
RELATIONS = ("manager", "colleague", "managed", "other")  # the values the report form offers
# In the complainant's own words, on the report form ...
RELATIONS_IN_OWN_WORDS: Mapping[str, Any] = {
    "manager": _l("My manager, or a manager above me"),
    "colleague": _l("A colleague"),
    "managed": _l("Someone I manage"),
    "other": _l("Someone else, for example a client or visitor"),
}
# ... and as the handler reads them ("Lotte Bakker – colleague").
RELATIONS_FOR_HANDLERS: Mapping[str, Any] = {
    "manager": _l("the complainant's manager"),
    "colleague": _l("colleague"),
    "managed": _l("managed by the complainant"),
    "other": _l("someone else, for example a client or visitor"),
}


def grant_label(role: GrantRole) -> str:
    """The capacity in which someone receives the report, e.g. "Confidential counsellor"."""
    return str(GRANT_ROLES[role])


def disclosure_label(disclosure: Disclosure | str) -> str:
    """A disclosure level in a word, e.g. "Confidential"; an unknown value as it is."""
    try:
        return str(DISCLOSURES[Disclosure(disclosure)])
    except ValueError:
        return str(disclosure)


def disclosure_for_handlers(disclosure: Disclosure) -> str:
    """What the disclosure level means for the handler, e.g. that the name stays with them."""
    return str(DISCLOSURES_FOR_HANDLERS[disclosure])


def disclosure_for_complainants(disclosure: Disclosure) -> str:
    """How the complainant chose to report, in their mailbox."""
    return str(DISCLOSURES_FOR_COMPLAINANTS[disclosure])


def relation_in_own_words(relation: str) -> str:
    """A relation as the complainant chooses it on the form; anything else as it was typed."""
    label = RELATIONS_IN_OWN_WORDS.get(relation)
    return str(label) if label is not None else relation


def relation_for_handlers(relation: str) -> str:
    """A relation as the handler reads it on the case; anything else (a relation typed in
    words, as a counsellor may when filing for someone) as it was typed."""
    label = RELATIONS_FOR_HANDLERS.get(relation)
    return str(label) if label is not None else relation
