"""The labels of grant roles, disclosure levels and parties: complete, translated when shown,
and defined in complaints/cases/labels.py only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale

from complaints.cases import labels
from complaints.cases.models import Disclosure, GrantRole

PACKAGE = Path(labels.__file__).resolve().parent.parent
TABLES: dict[str, tuple[Mapping[Any, Any], frozenset[Any]]] = {
    "GRANT_ROLES": (labels.GRANT_ROLES, frozenset(GrantRole)),
    "DISCLOSURES": (labels.DISCLOSURES, frozenset(Disclosure)),
    "DISCLOSURES_FOR_HANDLERS": (labels.DISCLOSURES_FOR_HANDLERS, frozenset(Disclosure)),
    "DISCLOSURES_FOR_COMPLAINANTS": (labels.DISCLOSURES_FOR_COMPLAINANTS, frozenset(Disclosure)),
    "RELATIONS_IN_OWN_WORDS": (labels.RELATIONS_IN_OWN_WORDS, frozenset(labels.RELATIONS)),
    "RELATIONS_FOR_HANDLERS": (labels.RELATIONS_FOR_HANDLERS, frozenset(labels.RELATIONS)),
}
# Account roles are not case roles: their names, some the same words, stay with the accounts.
ELSEWHERE_ON_PURPOSE = {PACKAGE / "accounts" / "labels.py"}
# The report form's choices, each with its explanation, stay with the form's wording; one of
# them is the same word as the mailbox's.
SAME_WORD_ON_PURPOSE = {("intake/wording.py", "Anonymously")}


def msgid(label: Any) -> str:
    """The English text of a lazily translated label."""
    text: str = label._args[0]
    return text


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_value_has_a_label_translated_when_shown(app: Flask, name: str) -> None:
    table, values = TABLES[name]
    assert set(table) == values
    with app.app_context():
        for value, label in table.items():
            with force_locale("en"):
                english = str(label)
            with force_locale("nl"):
                dutch = str(label)
            assert english == msgid(label)
            # Built once at import, yet in the language of the moment: lazily translated.
            assert dutch != english, f"{name}[{value!r}] has no Dutch translation"


def test_the_functions_name_values_and_leave_typed_text_alone(app: Flask) -> None:
    with app.test_request_context("/", headers={"Cookie": "taal=nl"}):
        assert labels.grant_label(GrantRole.CONFIDANT) == "Vertrouwenspersoon"
        assert labels.disclosure_label("confidential") == "Vertrouwelijk"
        assert labels.disclosure_label("unheard-of") == "unheard-of"
        assert labels.relation_for_handlers("colleague") == "collega"
        assert labels.relation_for_handlers("manager") == "leidinggevende van de melder"
        assert labels.relation_in_own_words("colleague") == "Een collega"
        # A relation typed in words (a counsellor filing for someone) is shown as typed.
        assert labels.relation_for_handlers("buurman") == "buurman"


def _translatable_literals(source: str) -> set[str]:
    return set(re.findall(r"""\b_l?\(\s*"((?:[^"\\]|\\.)*)"\s*[,)]""", source))


def test_the_labels_are_defined_in_one_module() -> None:
    ours = {msgid(label) for table, _values in TABLES.values() for label in table.values()}
    # Texts that the report form or other pages also use in sentences of their own: only the
    # single words and short names are searched for.
    ours = {text for text in ours if len(text) < 60}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == Path(labels.__file__).resolve() or path in ELSEWHERE_ON_PURPOSE:
            continue
        where = str(path.relative_to(PACKAGE))
        again = ours & _translatable_literals(path.read_text(encoding="utf-8"))
        found += [f"{where}: {t}" for t in sorted(again) if (where, t) not in SAME_WORD_ON_PURPOSE]
    assert found == []
    # Control: a module that names a grant role itself, as casework/views.py and
    # intake/wording.py both did, is found.
    old = 'def _grant_role_labels():\n    return {GrantRole.MANAGER: _("Manager"),\n'
    assert "Manager" in ours & _translatable_literals(old)
