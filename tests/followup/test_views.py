"""The follow-up mailbox through the web, used (and attacked) the way people would."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import TestResponse, encode_multipart

from complaints import create_app
from complaints.audit.models import ActorKind, AuditEvent, AuditOutcome
from complaints.cases.models import (
    Attachment,
    AuthorKind,
    Case,
    Consent,
    ConsentKind,
    Deadline,
    Disclosure,
    Message,
)
from complaints.cases.receipts import normalise_receipt
from complaints.directory.models import Person
from complaints.followup.models import ComplainantSession
from complaints.notify.models import Notification
from tests.conftest import Clock, app_session
from tests.factories import (
    app_now,
    csrf_token,
    import_demo_directory,
    log_in,
    make_account,
    pdf_document,
)
from tests.followup import CONFIDANT_EMAIL, FILER_EMAIL, Filed, file_report, handler_reply

MAILBOX = "/opvolgen/melding"
WRONG_CODE = "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01"


@pytest.fixture
def filed(app: Flask, clock: Clock) -> Filed:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        return file_report(session, people, clock())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser that reads English, so tests can check wording before Dutch is translated."""
    browser = app.test_client()
    browser.set_cookie("taal", "en")
    return browser


def loosely(code: str) -> str:
    """The code as someone might type it from paper: lower case, spaces instead of dashes."""
    return code.lower().replace("-", " ")


def enter_code(client: FlaskClient, code: str) -> TestResponse:
    page = client.get("/opvolgen")
    return client.post("/opvolgen", data={"code": code, "csrf_token": csrf_token(page)})


def open_mailbox(client: FlaskClient, code: str) -> TestResponse:
    response = enter_code(client, code)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"] == MAILBOX
    page = client.get(MAILBOX)
    assert page.status_code == 200
    return page


def post_from(client: FlaskClient, page: TestResponse, url: str, **data: Any) -> TestResponse:
    return client.post(url, data={"csrf_token": csrf_token(page), **data})


def html(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def audit_events(app: Flask) -> list[AuditEvent]:
    with app_session(app) as session:
        return list(session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)))


def load_case(app: Flask, filed: Filed) -> Case:
    with app_session(app) as session:
        case = session.get(Case, filed.case_id)
        assert case is not None
        return case


def code_forms(code: str) -> set[str]:
    canonical = normalise_receipt(code)
    assert canonical is not None
    return {code, canonical, loosely(code), code.replace("-", "")}


def _without_tokens(text: str) -> str:
    return re.sub(r'value="[^"]*"', 'value=""', text)


# Opening the mailbox ---------------------------------------------------------------------------


def test_code_page_explains_the_code_and_keeps_it_out_of_autofill(client: FlaskClient) -> None:
    page = client.get("/opvolgen")
    text = html(page)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    field = re.search(r"<input[^>]*id=\"code\"[^>]*>", text)
    assert field is not None
    assert 'autocomplete="off"' in field.group(0)
    assert 'spellcheck="false"' in field.group(0)
    assert 'aria-describedby="code-hint"' in field.group(0)
    assert "We cannot look up your code or send it again" in text
    assert 'href="/aanmelden?next=/account/mijn-meldingen"' in text


def test_a_report_opens_with_its_code_typed_loosely(
    app: Flask, client: FlaskClient, filed: Filed
) -> None:
    page = open_mailbox(client, loosely(filed.code))
    text = html(page)
    assert page.headers["Cache-Control"] == "no-store"
    assert filed.reference in text
    # The state in plain words, from workflow.toml.
    assert "The confidential counsellor will confirm receipt." in text
    assert "Confidential counsellor" in text
    # The acknowledge deadline, its due date (7 days from 2 March) and its status in words.
    assert "Confirm receipt" in text
    assert '<time datetime="2026-03-09">9 March 2026</time>' in text
    assert 'data-status="open"' in text
    assert "Still open" in text
    opened = [e for e in audit_events(app) if e.action == "followup.opened"]
    assert len(opened) == 1
    assert opened[0].actor_kind is ActorKind.COMPLAINANT
    assert opened[0].actor_id == filed.reference
    assert opened[0].details == {"via": "receipt"}


def test_a_wrong_code_is_refused_with_one_message_and_audited_without_the_code(
    app: Flask, client: FlaskClient, filed: Filed, log_output: io.StringIO
) -> None:
    well_formed = enter_code(client, WRONG_CODE)
    malformed = enter_code(client, "not a code at all")
    for response in (well_formed, malformed):
        assert response.status_code == 200
        assert "We could not open a report with this code." in html(response)
        assert 'aria-invalid="true"' in html(response)
        assert 'href="#code"' in html(response)
    # Neither the page nor its wording tells a guesser anything about what they typed.
    assert _without_tokens(html(well_formed)) == _without_tokens(html(malformed))
    assert WRONG_CODE not in html(well_formed)
    assert "not a code at all" not in html(malformed)
    assert client.get(MAILBOX).status_code == 303

    rejected = [e for e in audit_events(app) if e.action == "followup.code_rejected"]
    assert len(rejected) == 2
    for event in rejected:
        assert event.outcome is AuditOutcome.FAILURE
        assert event.actor_kind is ActorKind.ANONYMOUS
        assert event.details == {}
        assert event.object_id is None
    stored = json.dumps([(e.actor_id, e.object_id, e.details) for e in audit_events(app)])
    logged = log_output.getvalue()
    for typed in (*code_forms(WRONG_CODE), "not a code at all"):
        assert typed not in stored
        assert typed not in logged


def test_the_receipt_code_appears_in_no_url_header_cookie_or_log(
    app: Flask, client: FlaskClient, filed: Filed, log_output: io.StringIO
) -> None:
    responses = [enter_code(client, loosely(filed.code))]
    responses.append(client.get(responses[0].headers["Location"]))
    page = responses[-1]
    responses.append(post_from(client, page, "/opvolgen/melding/bericht", message="Hallo"))
    responses.append(client.get(MAILBOX))
    forms = code_forms(filed.code)
    for response in responses:
        for name, value in response.headers.items():
            assert not any(form in value for form in forms), name
        assert not any(form in html(response) for form in forms)
        assert response.request.url is not None
        assert not any(form in response.request.url for form in forms)
    cookie = client.get_cookie("session")
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    content = json.dumps(serializer.loads(cookie.value))
    assert "followup" in content
    assert not any(form in content for form in forms)
    assert not any(form in log_output.getvalue() for form in forms)
    stored = json.dumps([(e.actor_id, e.object_id, e.details) for e in audit_events(app)])
    assert not any(form in stored for form in forms)


def test_the_code_field_is_empty_when_the_page_comes_back(
    client: FlaskClient, filed: Filed
) -> None:
    response = enter_code(client, filed.code[:-1])
    field = re.search(r"<input[^>]*id=\"code\"[^>]*>", html(response))
    assert field is not None
    assert 'value=""' in field.group(0)
    assert filed.code[:-1] not in html(response)


def test_forms_need_their_csrf_token(client: FlaskClient, filed: Filed) -> None:
    assert client.post("/opvolgen", data={"code": filed.code}).status_code == 400
    assert client.get(MAILBOX).status_code == 303
    page = open_mailbox(client, filed.code)
    assert page.status_code == 200
    assert client.post("/opvolgen/melding/bericht", data={"message": "x"}).status_code == 400
    assert client.post("/opvolgen/sluiten", data={}).status_code == 400
    assert client.get(MAILBOX).status_code == 200  # not closed without the token


class TestClientRateLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"receipt_rate_limit": "3 per minute", "receipt_global_rate_limit": "100 per minute"}

    def test_guessing_codes_is_rate_limited_per_client(
        self, app: Flask, client: FlaskClient, filed: Filed
    ) -> None:
        statuses = [enter_code(client, WRONG_CODE).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        # Even the right code waits now.
        blocked = enter_code(client, filed.code)
        assert blocked.status_code == 429
        assert "Too many attempts" in html(blocked)
        assert filed.code not in html(blocked)
        # Someone else, elsewhere, is not held up by this guesser.
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
        assert enter_code(other, filed.code).status_code == 303


class TestGlobalRateLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"receipt_rate_limit": "100 per minute", "receipt_global_rate_limit": "3 per minute"}

    def test_the_global_limit_counts_every_client(self, app: Flask, filed: Filed) -> None:
        statuses = []
        for number in range(4):
            guesser = app.test_client()
            guesser.environ_base["REMOTE_ADDR"] = f"198.51.100.{number + 1}"
            statuses.append(enter_code(guesser, WRONG_CODE).status_code)
        assert statuses == [200, 200, 200, 429]
        # Reading the code page is not limited, only trying codes.
        late = app.test_client()
        late.environ_base["REMOTE_ADDR"] = "203.0.113.9"
        assert late.get("/opvolgen").status_code == 200
        assert enter_code(late, filed.code).status_code == 429


REDIS_URL = "redis://127.0.0.1:6379/15"  # a database of its own, emptied around the test


class TestRateLimitInRedis:
    """Several workers share their counters through Redis; the counters name no address."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {
            "ratelimit_storage_uri": REDIS_URL,
            "receipt_rate_limit": "3 per minute",
            "receipt_global_rate_limit": "100 per minute",
        }

    @pytest.fixture(autouse=True)
    def redis_db(self) -> Iterator[redis.Redis]:
        # No skipping: without Redis this test fails, as it would in production.
        client = redis.Redis.from_url(REDIS_URL)
        client.flushdb()
        yield client
        client.flushdb()
        client.close()

    def test_two_workers_share_the_limit_and_no_address_is_stored(
        self, app: Flask, filed: Filed, redis_db: redis.Redis
    ) -> None:
        other_worker = create_app(app.extensions["complaints.settings"])
        with app.extensions["complaints.db"].new_session() as session:
            other_worker.extensions["complaints.db"].bind_to(session.connection())
        address = "192.0.2.55"
        statuses = []
        for worker in (app, other_worker, app, other_worker):
            guesser = worker.test_client()
            guesser.environ_base["REMOTE_ADDR"] = address
            statuses.append(enter_code(guesser, WRONG_CODE).status_code)
        assert statuses == [200, 200, 200, 429]
        keys = [key.decode() for key in redis_db.keys("*")]
        assert keys
        assert not [key for key in keys if address in key]


# Messages and files ----------------------------------------------------------------------------


def test_a_message_is_stored_encrypted_shown_in_the_thread_and_the_handler_is_told(
    app: Flask, client: FlaskClient, filed: Filed
) -> None:
    with app_session(app) as session:
        before = session.scalar(sa.select(sa.func.count()).select_from(Notification))
    page = open_mailbox(client, filed.code)
    text = "Het gebeurde opnieuw-uniek-merkteken, nu in de lift."
    sent = post_from(client, page, "/opvolgen/melding/bericht", message=text)
    assert sent.status_code == 303
    assert sent.headers["Location"] == MAILBOX + "#berichten"
    page = client.get(MAILBOX)
    assert text in html(page)
    assert "Your message has been sent." in html(page)
    assert "You wrote" in html(page)
    with app_session(app) as session:
        raw = session.execute(sa.text("SELECT body FROM messages")).scalars().all()
        assert len(raw) == 1
        assert b"opnieuw-uniek-merkteken" not in bytes(raw[0])
        notifications = session.scalars(
            sa.select(Notification).order_by(Notification.id.desc())
        ).all()
        assert len(notifications) == before + 1
        assert notifications[0].kind == "case_message"
        assert notifications[0].recipient_person_id == filed.handler_id
        assert notifications[0].params == {"reference": filed.reference}
    assert "case.message_added" in [e.action for e in audit_events(app)]


def test_an_empty_message_is_refused_beside_the_field(client: FlaskClient, filed: Filed) -> None:
    page = open_mailbox(client, filed.code)
    refused = post_from(client, page, "/opvolgen/melding/bericht", message="   ")
    assert refused.status_code == 200
    text = html(refused)
    assert "Write your message before you send it." in text
    assert 'href="#message"' in text
    assert re.search(r'<textarea[^>]*aria-invalid="true"[^>]*id="message"', text) or re.search(
        r'<textarea[^>]*id="message"[^>]*aria-invalid="true"', text
    )
    assert "<title>Error:" in text


def test_the_handlers_reply_appears_in_order_and_is_marked_read(
    app: Flask, client: FlaskClient, filed: Filed, clock: Clock
) -> None:
    page = open_mailbox(client, filed.code)
    post_from(client, page, "/opvolgen/melding/bericht", message="Eerste bericht van mij.")
    clock.advance(minutes=10)
    with app_session(app) as session:
        reply = handler_reply(session, filed.case_id, filed.handler_id, "Antwoord van u.", clock())
        reply_id = reply.id
    clock.advance(minutes=1)
    mine = client.get(MAILBOX)
    text = html(mine)
    assert text.index("Eerste bericht van mij.") < text.index("Antwoord van u.")
    assert "The handler wrote" in text
    with app_session(app) as session:
        stored = session.get(Message, reply_id)
        assert stored is not None
        assert stored.read_at == clock()
        own = session.scalars(
            sa.select(Message).where(Message.author_kind == AuthorKind.COMPLAINANT)
        ).one()
        assert own.read_at is None  # only the handler can mark that one read


def test_html_in_messages_is_shown_as_text(app: Flask, client: FlaskClient, filed: Filed) -> None:
    page = open_mailbox(client, filed.code)
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    post_from(client, page, "/opvolgen/melding/bericht", message=attack)
    with app_session(app) as session:
        handler_reply(session, filed.case_id, filed.handler_id, "<b>vet</b> & zo", app_now(app))
    text = html(client.get(MAILBOX))
    assert "<script>alert" not in text
    assert "<img src=x" not in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
    assert "&lt;b&gt;vet&lt;/b&gt; &amp; zo" in text


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (21, 66, 115)).save(out, "PNG")
    return out.getvalue()


def upload(client: FlaskClient, page: TestResponse, *files: tuple[bytes, str]) -> TestResponse:
    # Encoded here, in memory: the test client would spool a large body to a file it never closes.
    boundary, body = encode_multipart(
        MultiDict(
            [("csrf_token", csrf_token(page))]
            + [("files", FileStorage(io.BytesIO(data), name)) for data, name in files]
        )
    )
    return client.post(
        "/opvolgen/melding/bestanden",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_a_photo_is_added_and_a_disguised_program_refused(
    app: Flask, client: FlaskClient, filed: Filed
) -> None:
    page = open_mailbox(client, filed.code)
    program = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64
    refused = upload(client, page, (program, "verslag.pdf"))
    assert refused.status_code == 200
    assert "“verslag.pdf” is not a type of file we accept." in html(refused)
    named = upload(client, refused, (program, "<img src=x onerror=alert(1)>.exe"))
    assert "“&lt;img src=x onerror=alert(1)&gt;.exe” is not a type" in html(named)
    assert "<img src=x" not in html(named)
    assert 'href="#files"' in html(refused)
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0

    # One bad file in a batch: nothing is stored, and the message names the bad one.
    mixed = upload(client, refused, (png_bytes(), "foto.png"), (b"", "leeg.txt"))
    assert "“leeg.txt” is empty." in html(mixed)
    assert "foto.png" not in html(mixed)
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0

    added = upload(client, mixed, (png_bytes(), "../../home/me/foto van de muur.png"))
    assert added.status_code == 303
    assert added.headers["Location"] == MAILBOX + "#bestanden"
    text = html(client.get(MAILBOX))
    assert "foto van de muur.png" in text
    assert "home/me" not in text
    assert "added by you on 2 March 2026" in text
    with app_session(app) as session:
        row = session.scalars(sa.select(Attachment)).one()
        assert row.added_by is AuthorKind.COMPLAINANT
        assert row.content_type == "image/png"
        assert re.search(rf">\s*{row.size} bytes,", text)
        kinds = session.scalars(
            sa.select(Notification.kind).where(Notification.recipient_person_id == filed.handler_id)
        ).all()
        assert kinds.count("case_message") == 1


def test_the_most_files_of_the_largest_size_fit_in_one_request(
    app: Flask, client: FlaskClient, filed: Filed
) -> None:
    settings = app.extensions["complaints.settings"]
    body = pdf_document(size=settings.max_attachment_bytes)
    assert len(body) == settings.max_attachment_bytes
    page = open_mailbox(client, filed.code)
    added = upload(
        client, page, *[(body, f"scan-{i}.pdf") for i in range(settings.max_attachments)]
    )
    assert added.status_code == 303, html(added)
    with app_session(app) as session:
        count = session.scalar(sa.select(sa.func.count()).select_from(Attachment))
    assert count == settings.max_attachments


class TestFileLimits:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"max_attachments": 2, "max_attachment_bytes": 2048}

    def test_too_many_or_too_large_files_are_refused(
        self, app: Flask, client: FlaskClient, filed: Filed
    ) -> None:
        page = open_mailbox(client, filed.code)
        many = upload(client, page, *[(b"tekst", f"{i}.txt") for i in range(3)])
        assert "You can add at most 2 files at a time." in html(many)
        large = upload(client, many, (b"a" * 4096, "lang.txt"))
        assert "“lang.txt” is too large. A file may be at most 2 kB." in html(large)
        nothing = upload(client, large)
        assert "Choose one or more files to add." in html(nothing)
        with app_session(app) as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0

    def test_the_upload_hint_names_the_limits_it_enforces(
        self, client: FlaskClient, filed: Filed
    ) -> None:
        # Once read "elk maximaal . Foto's" ("each at most . Photos"): the size was missing.
        text = " ".join(html(open_mailbox(client, filed.code)).split())
        assert "at most 2 files at a time, each at most 2 kB. Photos" in text
        assert "at most . " not in text


# Consents and withdrawal -----------------------------------------------------------------------


def consent_states(page: TestResponse) -> dict[str, str]:
    return dict(
        re.findall(r'data-consent="(\w+)".*?data-given="(yes|no)"', html(page), flags=re.DOTALL)
    )


def test_consents_can_be_given_and_withdrawn_and_history_is_kept(
    app: Flask, client: FlaskClient, filed: Filed, clock: Clock
) -> None:
    page = open_mailbox(client, filed.code)
    assert consent_states(page) == {"referral": "no", "share_identity": "no"}
    assert "Passing your report on" in html(page)
    given = post_from(
        client, page, "/opvolgen/melding/toestemming", kind="referral", decision="give"
    )
    assert given.status_code == 303
    page = client.get(MAILBOX)
    assert consent_states(page) == {"referral": "yes", "share_identity": "no"}
    assert "You gave this consent on 2 March 2026." in html(page)
    clock.advance(minutes=5)
    post_from(client, page, "/opvolgen/melding/toestemming", kind="referral", decision="withdraw")
    page = client.get(MAILBOX)
    assert consent_states(page) == {"referral": "no", "share_identity": "no"}
    assert "Your consent has been withdrawn." in html(page)
    with app_session(app) as session:
        rows = session.scalars(sa.select(Consent).order_by(Consent.id)).all()
        assert [(r.kind, r.withdrawn_at) for r in rows] == [(ConsentKind.REFERRAL, clock())]
    actions = [e.action for e in audit_events(app)]
    assert actions.count("consent.given") == 1
    assert actions.count("consent.withdrawn") == 1
    # A consent this report does not ask for, or a made-up one, is refused.
    for kind in ("mediation", "everything"):
        refused = post_from(
            client, page, "/opvolgen/melding/toestemming", kind=kind, decision="give"
        )
        assert refused.status_code == 400


def test_withdrawing_needs_confirmation_and_leaves_a_read_only_mailbox(
    app: Flask, client: FlaskClient, filed: Filed, clock: Clock
) -> None:
    page = open_mailbox(client, filed.code)
    assert 'href="/opvolgen/melding/intrekken"' in html(page)
    clock.advance(minutes=5)
    confirm = client.get("/opvolgen/melding/intrekken")
    assert confirm.status_code == 200
    assert "Withdrawing cannot be undone." in html(confirm)
    assert load_case(app, filed).state == "submitted"  # looking at the question changes nothing

    done = post_from(client, confirm, "/opvolgen/melding/intrekken")
    assert done.status_code == 303
    case = load_case(app, filed)
    assert case.state == "withdrawn"
    assert case.closed_at == clock()
    with app_session(app) as session:
        deadline = session.scalars(sa.select(Deadline)).one()
        assert deadline.cancelled_at == clock()
        assert deadline.met_at is None
        told = session.scalars(
            sa.select(Notification).where(Notification.kind == "case_withdrawn")
        ).all()
        assert [n.recipient_person_id for n in told] == [filed.handler_id]

    page = client.get(MAILBOX)
    text = html(page)
    assert "You withdrew the report." in text
    assert "You have withdrawn your report." in text
    assert 'data-status="cancelled"' in text
    # Writing stays possible for closed_reply_days after the end; nothing else can change.
    assert 'action="/opvolgen/melding/bericht"' in text
    assert 'action="/opvolgen/melding/bestanden"' not in text
    assert 'action="/opvolgen/melding/toestemming"' not in text
    assert 'href="/opvolgen/melding/intrekken"' not in text

    # A message is still taken (closed_reply_days); a consent left open in another tab changes
    # nothing, and the page says so calmly.
    late = post_from(client, page, "/opvolgen/melding/bericht", message="Toch nog iets.")
    assert late.status_code == 303
    assert "This report is closed" in html(client.get(MAILBOX))
    post_from(client, page, "/opvolgen/melding/toestemming", kind="referral", decision="give")
    assert client.get("/opvolgen/melding/intrekken").status_code == 303
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Message)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(Consent)) == 0
    assert [e.action for e in audit_events(app)].count("case.withdrawn") == 1


# The mailbox session ---------------------------------------------------------------------------


def test_an_idle_mailbox_closes_and_says_why(
    app: Flask, client: FlaskClient, filed: Filed, clock: Clock
) -> None:
    open_mailbox(client, filed.code)
    clock.advance(minutes=14)
    assert client.get(MAILBOX).status_code == 200
    clock.advance(minutes=16)
    ended = client.get(MAILBOX)
    assert ended.status_code == 303
    assert ended.headers["Location"] == "/opvolgen"
    assert "For your safety your mailbox was closed" in html(client.get("/opvolgen"))
    with app_session(app) as session:
        record = session.scalars(sa.select(ComplainantSession)).one()
        assert record.revoked_at == clock()


def test_a_message_written_while_the_mailbox_closed_is_given_back(
    app: Flask, client: FlaskClient, filed: Filed, clock: Clock
) -> None:
    page = open_mailbox(client, filed.code)
    clock.advance(minutes=40)  # a long message, written slowly
    text = "Wat er gebeurde <en> wat ik nog wil zeggen."
    response = post_from(client, page, "/opvolgen/melding/bericht", message=text)
    assert response.status_code == 200
    body = html(response)
    assert "Your message was not sent" in body
    assert "Wat er gebeurde &lt;en&gt; wat ik nog wil zeggen." in body
    assert re.search(r'<textarea[^>]*id="unsent-message"[^>]*readonly', body)
    assert client.get(MAILBOX).status_code == 303
    with app_session(app) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


def test_a_busy_mailbox_still_closes_after_the_absolute_timeout(
    client: FlaskClient, filed: Filed, clock: Clock
) -> None:
    open_mailbox(client, filed.code)
    for _ in range(11):
        clock.advance(minutes=10)
        assert client.get(MAILBOX).status_code == 200
    clock.advance(minutes=10)  # 120 minutes after opening
    assert client.get(MAILBOX).status_code == 303


def test_closing_the_mailbox_ends_it_on_the_server(
    app: Flask, client: FlaskClient, filed: Filed
) -> None:
    page = open_mailbox(client, filed.code)
    cookie = client.get_cookie("session")
    assert cookie is not None
    copied = cookie.value
    closed = post_from(client, page, "/opvolgen/sluiten")
    assert closed.status_code == 303
    assert closed.headers["Location"] == "/opvolgen"
    assert "Your mailbox is closed." in html(client.get("/opvolgen"))
    assert client.get(MAILBOX).status_code == 303
    # Someone who copied the cookie before it was closed gets nothing with it.
    replay = app.test_client()
    replay.set_cookie("session", copied)
    assert replay.get(MAILBOX).status_code == 303
    with app_session(app) as session:
        assert session.scalars(sa.select(ComplainantSession.revoked_at)).one() is not None
    assert "followup.closed" in [e.action for e in audit_events(app)]


def test_opening_a_mailbox_replaces_whatever_the_cookie_held(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        first = file_report(session, people, clock())
        second = file_report(session, people, clock(), disclosure=Disclosure.ANONYMOUS)
    client.get("/opvolgen")
    planted = client.get_cookie("session")
    assert planted is not None
    open_mailbox(client, first.code)
    opened = client.get_cookie("session")
    assert opened is not None
    assert opened.value != planted.value
    # The CSRF secret planted before the mailbox opened is not the one in use afterwards.
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert (
        serializer.loads(opened.value)["csrf_token"]
        != (serializer.loads(planted.value)["csrf_token"])
    )
    fixed = app.test_client()
    fixed.set_cookie("session", planted.value)
    assert fixed.get(MAILBOX).status_code == 303

    # A second code in the same browser ends the first mailbox session on the server.
    copy_of_first = app.test_client()
    copy_of_first.set_cookie("session", opened.value)
    assert copy_of_first.get(MAILBOX).status_code == 200
    page = open_mailbox(client, second.code)
    assert second.reference in html(page)
    assert first.reference not in html(page)
    assert copy_of_first.get(MAILBOX).status_code == 303


def test_the_mailbox_never_shows_internal_data(
    app: Flask, client: FlaskClient, filed: Filed
) -> None:
    page = open_mailbox(client, filed.code)
    text = html(page)
    # Who handles the report, who is accused, and the report itself stay out of the mailbox.
    for internal in ("Ingrid Hoekstra", "Lotte Bakker", "racistische grap", "case.open"):
        assert internal not in text
    assert str(filed.case_id) not in text


# Staff log-in and mailbox are separate ---------------------------------------------------------


def test_staff_log_in_and_mailbox_grant_each_other_nothing(
    app: Flask, client: FlaskClient, filed: Filed, clock: Clock
) -> None:
    with app_session(app) as session:
        handler = session.scalars(sa.select(Person).where(Person.email == CONFIDANT_EMAIL)).one()
        staff = make_account(session, handler, clock())
    # The handler of the report, logged in, has no code: no mailbox.
    log_in(client, staff, clock())
    assert client.get(MAILBOX).status_code == 303
    account = client.get("/account")
    forged = post_from(client, account, "/account/mijn-meldingen/openen", case_id=filed.case_id)
    assert forged.status_code == 404
    assert client.get(MAILBOX).status_code == 303
    refused = [e for e in audit_events(app) if e.action == "followup.account_refused"]
    assert [(e.actor_kind, e.actor_id) for e in refused] == [
        (ActorKind.STAFF, str(staff.account.id))
    ]

    # A mailbox session, for its part, is no log-in.
    complainant = app.test_client()
    open_mailbox(complainant, filed.code)
    assert complainant.get("/account").status_code == 302
    assert complainant.get("/account/mijn-meldingen").status_code == 302


def test_a_staff_log_in_or_log_out_in_the_same_browser_ends_an_open_mailbox(
    app: Flask, client: FlaskClient, filed: Filed, clock: Clock
) -> None:
    with app_session(app) as session:
        employee = session.scalars(sa.select(Person).where(Person.email == FILER_EMAIL)).one()
        staff = make_account(session, employee, clock())
    open_mailbox(client, filed.code)
    cookie = client.get_cookie("session")
    assert cookie is not None
    copied = cookie.value
    log_in(client, staff, clock())
    assert client.get(MAILBOX).status_code == 303
    # Ended on the server as well: the cookie from before the log-in opens nothing either.
    replay = app.test_client()
    replay.set_cookie("session", copied)
    assert replay.get(MAILBOX).status_code == 303
    with app_session(app) as session:
        assert session.scalars(sa.select(ComplainantSession.revoked_at)).one() is not None

    # Opened again while logged in, it ends with the log-out.
    open_mailbox(client, filed.code)
    cookie = client.get_cookie("session")
    assert cookie is not None
    copied = cookie.value
    post_from(client, client.get("/account"), "/afmelden")
    replay = app.test_client()
    replay.set_cookie("session", copied)
    assert replay.get(MAILBOX).status_code == 303
    with app_session(app) as session:
        revoked = session.scalars(sa.select(ComplainantSession.revoked_at)).all()
    assert len(revoked) == 2
    assert None not in revoked


def test_my_reports_lists_only_my_named_reports_and_opens_them_without_a_code(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    with app_session(app) as session:
        people = import_demo_directory(session, clock())
        sanne = people[FILER_EMAIL]
        sanne_id = sanne.id
        mine = file_report(session, people, clock(), filer=sanne)
        anonymous = file_report(session, people, clock(), disclosure=Disclosure.ANONYMOUS)
        other = file_report(session, people, clock(), filer=people["m.elidrissi@bzk.example"])
    # Apart from the filing, whose after-commit e-mail delivery works in the same session.
    with app_session(app) as session:
        filer = session.get(Person, sanne_id)
        assert filer is not None
        staff = make_account(session, filer, clock())
    log_in(client, staff, clock())
    listing = client.get("/account/mijn-meldingen")
    assert listing.status_code == 200
    text = html(listing)
    assert mine.reference in text
    assert anonymous.reference not in text
    assert other.reference not in text
    assert f'value="{mine.case_id}"' in text
    assert f'value="{other.case_id}"' not in text

    # Someone else's report, by a forged request: refused, and no mailbox opens.
    forged = post_from(client, listing, "/account/mijn-meldingen/openen", case_id=other.case_id)
    assert forged.status_code == 404
    assert client.get(MAILBOX).status_code == 303
    garbage = post_from(client, listing, "/account/mijn-meldingen/openen", case_id="1 OR 1=1")
    assert garbage.status_code == 400

    opened = post_from(client, listing, "/account/mijn-meldingen/openen", case_id=mine.case_id)
    assert opened.status_code == 303
    assert opened.headers["Location"] == MAILBOX
    page = client.get(MAILBOX)
    assert mine.reference in html(page)
    assert "<dt>How you reported</dt><dd>Confidentially</dd>" in html(page)
    events = audit_events(app)
    opened_events = [e for e in events if e.action == "followup.opened"]
    assert [(e.actor_kind, e.actor_id, e.details) for e in opened_events] == [
        (ActorKind.COMPLAINANT, mine.reference, {"via": "account"})
    ]
    # The staff log-in is untouched by the mailbox.
    assert client.get("/account").status_code == 200


def test_my_reports_needs_a_log_in(client: FlaskClient) -> None:
    response = client.get("/account/mijn-meldingen")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/aanmelden?next=")
