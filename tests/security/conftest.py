"""Shared set-up for the attack suite.

The authorization matrix's world (tests/test_authorization.py: the demo organisation, seven real
cases, nineteen principals logged in through the real forms) is reused, not rebuilt: importing
its fixture here makes it available to every module of this package (one world per module).
"""

from __future__ import annotations

import hashlib
import re

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from complaints.accounts.models import Account, StaffSession
from complaints.cases.models import AuthorKind, Case
from complaints.cases.services import NewAttachment, add_attachment
from complaints.crypto.services import case_cipher, keystore
from complaints.db import Base
from complaints.directory.models import Person
from complaints.followup.models import ComplainantSession
from tests import test_authorization as matrix
from tests.conftest import START, app_session
from tests.factories import csrf_token
from tests.followup import file_report
from tests.test_authorization import world  # noqa: F401  (the matrix's world, as a fixture)

MAILBOX = "/opvolgen/melding"

# The error page a refused CSRF token gets, in Dutch (the default) and English.
CSRF_REFUSAL = ("Dit formulier is verlopen", "This form has expired")


def body(response: TestResponse) -> str:
    return response.get_data().decode("utf-8", errors="replace")


def without_tokens(text: str) -> str:
    """A page with its per-request values (CSRF tokens) blanked, to compare two answers."""
    return re.sub(r'value="[^"]*"', 'value=""', text)


def database_state(app: Flask) -> dict[str, object]:
    """Everything a request could change, in one query: the row count of every table, the
    versions of the cases, which sessions were ended, and the accounts' passwords and last
    TOTP steps (failed log-ins are rows of their own)."""

    def count(table: sa.FromClause, *where: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
        return sa.select(sa.func.count()).select_from(table).where(*where).scalar_subquery()

    columns: dict[str, sa.ColumnElement[object]] = {
        table.name: count(table) for table in Base.metadata.sorted_tables
    }
    columns["case versions"] = sa.select(sa.func.sum(Case.version)).scalar_subquery()
    columns["ended staff sessions"] = count(
        StaffSession.__table__, StaffSession.revoked_at.is_not(None)
    )
    columns["ended mailbox sessions"] = count(
        ComplainantSession.__table__, ComplainantSession.revoked_at.is_not(None)
    )
    with app_session(app) as session:
        row = session.execute(
            sa.select(*(c.label(f"c{i}") for i, c in enumerate(columns.values())))
        ).one()
        state: dict[str, object] = dict(zip(columns, row, strict=True))
        accounts = session.execute(
            sa.select(Account.id, Account.password_hash, Account.totp_last_step).order_by(
                Account.id
            )
        ).all()
    state["accounts"] = hashlib.sha256(repr(accounts).encode()).hexdigest()
    return state


def changed(before: dict[str, object], after: dict[str, object]) -> list[str]:
    return sorted(k for k in after if before.get(k) != after[k])


def mailbox_client(built: matrix.World) -> FlaskClient:
    """A complainant's browser with the mailbox of a report of their own open."""
    with app_session(built.app) as session:
        people = {p.email: p for p in session.scalars(sa.select(Person))}
        filed = file_report(session, people, START)
        # A file in the mailbox, so that its download is reached too.
        add_attachment(
            session,
            case_cipher(session, keystore(), filed.case_id),
            filed.case_id,
            NewAttachment("notities.txt", "text/plain", b"Wat er gebeurde."),
            AuthorKind.COMPLAINANT,
            START,
        )
    client = built.app.test_client()
    page = client.get("/opvolgen")
    opened = client.post("/opvolgen", data={"code": filed.code, "csrf_token": csrf_token(page)})
    assert opened.status_code == 303, opened.status_code
    assert client.get(MAILBOX).status_code == 200
    return client


def attacker(
    built: matrix.World, rule: Rule, mailbox: FlaskClient
) -> tuple[str, FlaskClient, str, dict[str, object], str]:
    """Who may use ``rule``: (their name, their browser, their own valid CSRF token, the
    values for the rule's arguments, the workflow step to prefix fields with)."""
    page = matrix.EXPECTATIONS[rule.endpoint]
    if isinstance(page, matrix.CasePage):
        for filed in built.cases:
            for principal in matrix.PRINCIPALS:
                if principal.email and matrix.holds(principal, filed, page):
                    client = built.clients[principal.key]
                    values = matrix.case_values(built, rule, filed)
                    return principal.key, client, matrix.token(client, True), values, filed.step
        raise AssertionError(f"{rule.endpoint}: nobody in the world may use it")
    values: dict[str, object] = {}
    if "person_id" in rule.arguments:
        values["person_id"] = built.person_ids["confidant"]
    if "year" in rule.arguments:
        values["year"] = START.year
    if "number" in rule.arguments:  # a mailbox download: the first file of the session's case
        values["number"] = 1
    if isinstance(page, matrix.RolePage):
        key = next(p.key for p in matrix.PRINCIPALS if page.role in p.roles)
    elif isinstance(page, matrix.CaseSearch):
        key = "confidant"
    elif isinstance(page, matrix.SignedIn):
        key = "employee"
    elif isinstance(page, matrix.OwnReport):
        key = "complainant"
    elif isinstance(page, matrix.Public) and rule.endpoint.startswith("followup."):
        return "mailbox", mailbox, csrf_token(mailbox.get(MAILBOX)), values, ""
    elif isinstance(page, matrix.Public):
        client = built.clients["anonymous"]
        return "anonymous", client, matrix.token(client, False), values, ""
    else:
        raise AssertionError(f"{rule.endpoint}: {page!r} takes no forms; exempt it with a reason")
    client = built.clients[key]
    return key, client, matrix.token(client, True), values, ""
