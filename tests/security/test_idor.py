"""Insecure direct object references: ids walked by someone who holds a grant on other cases.

A handler with grants on some cases asks for every case id in the database, and random ones,
on every ``/zaken/<case_id>...`` route (pages and forms), and for every attachment and letter id
of the other cases under a case they do hold. Every answer must be the same 404 as for a case
that does not exist, with no content, nothing must change, and no successful "case opened" (or
download) event may be written for a case they do not hold. The complainant's mailbox takes no
ids at all; a mailbox session of one case cannot reach another case's messages or files.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from werkzeug.routing import Rule

from complaints.audit.models import AuditEvent, AuditOutcome
from complaints.cases.models import Attachment, AuthorKind, Case, CaseDocument, Message
from complaints.cases.services import NewAttachment, add_attachment
from complaints.crypto.services import case_cipher, keystore
from complaints.directory.models import Person
from tests import test_authorization as matrix
from tests.conftest import START, app_session
from tests.factories import csrf_token
from tests.followup import file_report, handler_reply
from tests.security.conftest import MAILBOX, body, changed, database_state, without_tokens

RANDOM_IDS = 4
# A confidant (one case) and a committee secretary (two committee cases).
WALKERS = ("confidant", "secretary")


def case_rules(world: matrix.World) -> list[Rule]:
    return [r for r in world.rules if "case_id" in r.arguments]


def held_by(world: matrix.World, key: str, rule: Rule) -> set[uuid.UUID]:
    page = matrix.EXPECTATIONS[rule.endpoint]
    assert isinstance(page, matrix.CasePage)
    principal = matrix.BY_KEY[key]
    return {c.case_id for c in world.cases if matrix.holds(principal, c, page)}


def all_ids(world: matrix.World, model: type) -> set[uuid.UUID]:
    with app_session(world.app) as session:
        return set(session.scalars(sa.select(model.id)))  # type: ignore[attr-defined]


def successful_reads(world: matrix.World, key: str) -> list[tuple[str, str | None]]:
    """Every successful audited event on a case ``key`` holds no grant on at all."""
    held = {str(c.case_id) for c in world.cases if key in c.design.all_holders}
    with app_session(world.app) as session:
        rows = session.execute(
            sa.select(AuditEvent.action, AuditEvent.object_id).where(
                AuditEvent.outcome == AuditOutcome.SUCCESS
            )
        )
        return sorted((a, o) for a, o in rows if o not in held)


@pytest.mark.parametrize("key", WALKERS)
def test_walking_case_ids_finds_nothing(world: matrix.World, key: str) -> None:
    client = world.clients[key]
    csrf = matrix.token(client, True)
    case_ids = all_ids(world, Case)
    assert len(case_ids) >= len(world.cases)
    walked = sorted(case_ids) + [uuid.uuid4() for _ in range(RANDOM_IDS)]
    problems: list[str] = []
    markers = {c.marker: c.key for c in world.cases}
    references = {c.reference: c.key for c in world.cases}
    reads_before = successful_reads(world, key)
    before = database_state(world.app)
    requests = 0
    for rule in case_rules(world):
        held = held_by(world, key, rule)
        unknown: str | None = None
        for case_id in walked:
            if case_id in held:
                continue
            filed = world.cases[0]
            values = {**matrix.case_values(world, rule, filed), "case_id": case_id}
            url = matrix.url_for_rule(world, rule, values)
            for method in sorted({"GET", "POST"} & (rule.methods or set())):
                data = matrix.form_data(csrf, filed.step) if method == "POST" else None
                response = client.open(url, method=method, data=data)
                requests += 1
                text = body(response)
                if response.status_code != 404:
                    problems.append(f"{key} {method} {url}: {response.status_code}")
                leaked = [k for m, k in {**markers, **references}.items() if m in text]
                if leaked:
                    problems.append(f"{key} {method} {url}: shows {leaked}")
                # The same page as for a case that does not exist: nothing tells them apart.
                page = without_tokens(text).replace(str(case_id), "ID")
                unknown = unknown or page
                if page != unknown:
                    problems.append(f"{key} {method} {url}: a different 404")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
    assert requests >= 100
    assert changed(before, database_state(world.app)) == ["audit_events"]  # denials, audited
    # No success was recorded for a case they do not hold (denied attempts are audited).
    assert successful_reads(world, key) == reads_before


@pytest.mark.parametrize(
    ("key", "case_key"), [("confidant", "CONF"), ("secretary", "COM"), ("secretary", "COM_ACC")]
)
def test_walking_attachment_and_letter_ids_finds_nothing(
    world: matrix.World, key: str, case_key: str
) -> None:
    """Under a case they hold, every file and letter of another case (and random ids) is
    the same 404: a download is tied to its case, not just to the id."""
    client = world.clients[key]
    filed = world.case(case_key)
    by_endpoint = {r.endpoint: r for r in world.rules}
    with app_session(world.app) as session:
        own = set(
            session.scalars(sa.select(Attachment.id).where(Attachment.case_id == filed.case_id))
        )
        own |= set(
            session.scalars(sa.select(CaseDocument.id).where(CaseDocument.case_id == filed.case_id))
        )
    foreign = (all_ids(world, Attachment) | all_ids(world, CaseDocument)) - own
    assert len(foreign) >= len(world.cases) - 1
    walked = sorted(foreign) + [uuid.uuid4() for _ in range(RANDOM_IDS)]
    endpoints = {"casework.attachment": "attachment_id"}
    if filed.design.route is matrix.Route.COMMITTEE:
        endpoints["committee.download_letter"] = "letter_id"
    reads_before = successful_reads(world, key)
    problems = []
    for endpoint, argument in endpoints.items():
        rule = by_endpoint[endpoint]
        for foreign_id in walked:
            values = {**matrix.case_values(world, rule, filed), argument: foreign_id}
            url = matrix.url_for_rule(world, rule, values)
            response = client.get(url)
            text = body(response)
            if response.status_code != 404 or any(c.marker in text for c in world.cases):
                problems.append(f"{key} GET {url}: {response.status_code}")
    assert not problems, "\n".join(problems)
    assert successful_reads(world, key) == reads_before
    # The control: their own file does open.
    own_file = client.get(
        matrix.url_for_rule(
            world,
            by_endpoint["casework.attachment"],
            matrix.case_values(world, by_endpoint["casework.attachment"], filed),
        )
    )
    assert own_file.status_code == 200
    assert filed.marker in body(own_file)


# A download names a file by its number among the files of the session's own case: a count
# within that one case, not an id, so no number can reach another case's file (the test
# below proves it). Nothing else in the mailbox takes anything from the URL.
ORDINAL_DOWNLOADS = {"followup.download_attachment", "followup.download_letter"}


def test_the_mailbox_takes_no_ids(world: matrix.World) -> None:
    """Nothing in the complainant's mailbox is addressed by an id: the session is the case."""
    followup = [r for r in world.rules if r.endpoint.startswith("followup.")]
    assert len(followup) >= 9
    taking_ids = [r.rule for r in followup if r.arguments and r.endpoint not in ORDINAL_DOWNLOADS]
    assert taking_ids == []
    ordinals = {r.endpoint: r for r in followup if r.endpoint in ORDINAL_DOWNLOADS}
    assert set(ordinals) == ORDINAL_DOWNLOADS
    for rule in ordinals.values():
        assert rule.arguments == {"number"}
        assert type(rule._converters["number"]).__name__ == "IntegerConverter"


def test_a_mailbox_session_reaches_only_its_own_case(world: matrix.World) -> None:
    with app_session(world.app) as session:
        people = {p.email: p for p in session.scalars(sa.select(Person))}
        mine = file_report(session, people, START, description="Mijn eigen melding A.")
        theirs = file_report(session, people, START, description="Een andere melding B.")
        handler_reply(session, theirs.case_id, theirs.handler_id, "GEHEIM-ANTWOORD-B", START)
        add_attachment(
            session,
            case_cipher(session, keystore(), theirs.case_id),
            theirs.case_id,
            NewAttachment("b.txt", "text/plain", b"GEHEIM-BESTAND-B"),
            AuthorKind.HANDLER,
            START,
        )
        b_files = list(
            session.scalars(sa.select(Attachment.id).where(Attachment.case_id == theirs.case_id))
        )
    client = world.app.test_client()
    page = client.get("/opvolgen")
    client.post("/opvolgen", data={"code": mine.code, "csrf_token": csrf_token(page)})
    page = client.get(MAILBOX)
    assert page.status_code == 200
    assert "GEHEIM-ANTWOORD-B" not in body(page)
    assert theirs.reference not in body(page)
    # B has a file, A has none: no number in A's mailbox reaches B's file.
    for number in (0, 1, 2, 99):
        for kind in ("bijlage", "brief"):
            download = client.get(f"/opvolgen/melding/{kind}/{number}")
            assert download.status_code == 404
            assert "GEHEIM" not in body(download)
    # Ids of the other case smuggled into the mailbox's forms are ignored: the message goes
    # to the case of the session, never to B.
    smuggled = {
        "case_id": str(theirs.case_id),
        "case": str(theirs.case_id),
        "reference": theirs.reference,
        "message_id": str(uuid.uuid4()),
    }
    sent = client.post(
        "/opvolgen/melding/bericht",
        data={"csrf_token": csrf_token(page), "message": "Bericht van A", **smuggled},
    )
    assert sent.status_code in (200, 303)
    with app_session(world.app) as session:
        to_b = session.scalar(
            sa.select(sa.func.count()).select_from(Message).where(Message.case_id == theirs.case_id)
        )
        to_a = session.scalar(
            sa.select(sa.func.count()).select_from(Message).where(Message.case_id == mine.case_id)
        )
    assert (to_a, to_b) == (1, 1)  # B holds only the handler's reply
    # Case B's pages and files under /zaken are a log-in for the mailbox session, not a file.
    for url in [f"/zaken/{theirs.case_id}"] + [
        f"/zaken/{theirs.case_id}/bijlagen/{file_id}" for file_id in b_files
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert "GEHEIM" not in body(response)
    # And opening "my reports" with B's id needs a staff log-in.
    opened = client.post(
        "/account/mijn-meldingen/openen",
        data={"csrf_token": csrf_token(client.get(MAILBOX)), "case_id": str(theirs.case_id)},
    )
    assert opened.status_code == 302
    page = client.get(MAILBOX)
    assert mine.reference in body(page)
    assert theirs.reference not in body(page)
