"""``flask --app wsgi users deactivate`` hands the handler's open cases over first."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask import Flask

from complaints.accounts.models import Account
from complaints.audit.models import AuditEvent
from complaints.cases.models import CaseAccessGrant
from tests.conftest import Clock, app_session
from tests.factories import import_demo_directory, make_account
from tests.referral import ACCUSED, CONFIDANT, WIDE_CONFIDANT, file


def _invoke(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def _setup(app: Flask, clock: Clock, *accused: str) -> tuple[uuid.UUID, str, dict[str, int]]:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        case = file(session, people, clock(), accused=(ACCUSED, *accused)).case
        make_account(session, people[CONFIDANT], clock())
        return case.id, case.reference, {e: p.id for e, p in people.items()}


def _holders(app: Flask, case_id: uuid.UUID) -> set[int]:
    with app_session(app) as session:
        return set(
            session.scalars(
                sa.select(CaseAccessGrant.person_id).where(
                    CaseAccessGrant.case_id == case_id, CaseAccessGrant.revoked_at.is_(None)
                )
            )
        )


def _active(app: Flask) -> bool:
    with app_session(app) as session:
        account = session.scalars(sa.select(Account).where(Account.login == CONFIDANT)).one()
        return account.active


def test_deactivate_hands_the_open_cases_over(committed_app: Flask, clock: Clock) -> None:
    case_id, _reference, people = _setup(committed_app, clock)
    code, output = _invoke(committed_app, "users", "deactivate", CONFIDANT)
    assert code == 0, output
    assert "1 open case(s) handed over" in output
    assert not _active(committed_app)
    assert _holders(committed_app, case_id) == {people[WIDE_CONFIDANT]}
    with app_session(committed_app) as session:
        actions = list(session.scalars(sa.select(AuditEvent.action)))
    assert "handover.completed" in actions
    assert "account.deactivated" in actions


def test_deactivate_refuses_while_a_case_cannot_be_handed_over(
    committed_app: Flask, clock: Clock
) -> None:
    case_id, reference, people = _setup(committed_app, clock, WIDE_CONFIDANT)
    code, output = _invoke(committed_app, "users", "deactivate", CONFIDANT)
    assert code != 0
    assert f"cannot hand over {reference}" in output
    assert "not deactivated" in output
    assert _active(committed_app)
    assert _holders(committed_app, case_id) == {people[CONFIDANT]}

    code, output = _invoke(committed_app, "users", "deactivate", CONFIDANT, "--force")
    assert code == 0, output
    assert f"left with the deactivated account: {reference}" in output
    assert not _active(committed_app)
    assert _holders(committed_app, case_id) == {people[CONFIDANT]}
    assert people[WIDE_CONFIDANT] not in _holders(committed_app, case_id)
