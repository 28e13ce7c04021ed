"""Benchmark the handlers' inbox (/zaken) and one case page with 100,000 cases in the database.

    .venv/bin/python bench/inbox.py [--cases 100000] [--requests 200] [--json PATH]

It creates a database of its own (dropped at the end) on the loopback PostgreSQL named by
COMPLAINTS_BENCH_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres)
and seeds, with COPY, cases spread over the four routes and their states (most of them closed
long ago, as in a system that has run for years), each with a key slot holding a really
wrapped data key, events, deadlines (running, met or overdue), messages (some unread), grants
and, for some, an accused party. One handler holds 3% of the cases (3,000 of 100,000), about
300 colleagues share the rest. That handler logs in through the real forms (password and
TOTP) and the Flask test client times whole requests: the inbox on page 1, on a later page and
with each filter, and the case page of one case (which decrypts it and writes an audit event).
Target: p95 under 100 ms for every inbox situation.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import Flask
from report import at_most, environment, figure, percentile, postgres_version, write_json
from support import bench_app, scratch_database

from complaints import db
from complaints.accounts.models import Role
from complaints.cases.models import (
    AuthorKind,
    CaseEvent,
    Deadline,
    Disclosure,
    GrantRole,
    Message,
    Route,
)
from complaints.cases.services import NewAttachment, NewCase, NewGrant, create_case
from complaints.casework.services import InboxFilter, inbox
from complaints.crypto.envelope import new_data_key
from complaints.crypto.keystore import KeyStore
from complaints.crypto.services import STORE_HOLDER, case_cipher, indexer, keystore
from complaints.workflow.config import Workflow, workflow
from complaints.workflow.services import local_date
from tests.factories import StaffLogin, log_in, make_account, make_org, make_person

ROUTE_WEIGHTS = {Route.MANAGER: 35, Route.CONFIDANT: 30, Route.INTEGRITY: 15,
                 Route.COMMITTEE: 20}  # fmt: skip
GRANT_ROLE = {
    Route.MANAGER: GrantRole.MANAGER,
    Route.CONFIDANT: GrantRole.CONFIDANT,
    Route.INTEGRITY: GrantRole.INTEGRITY_COORDINATOR,
    Route.COMMITTEE: GrantRole.COMMITTEE_SECRETARY,
}
CATEGORIES = ("sexual_harassment", "aggression", "bullying", "discrimination",
              "other_undesirable", "integrity")  # fmt: skip
HANDLER_SHARE = 0.03  # of all cases, held by the handler who logs in
HANDLER_OPEN = 0.4  # share of their cases still open
OTHERS_OPEN = 0.12
COLLEAGUES = 300
TARGET_MS = 100.0
# The bulk tables, parents first, and the columns COPY fills.
COLUMNS = {
    "cases": ("id", "reference", "route", "state", "category", "grounds",
              "organisation_id", "disclosure", "outcome", "submitted_at", "updated_at",
              "closed_at", "receipt_index", "out_of_term", "version", "description",
              "incident_period", "incident_place", "desired_outcome", "complainant"),
    "key_slots": ("case_id", "kind", "holder", "key_id", "wrapped_key", "created_at"),
    "case_access_grants": ("case_id", "person_id", "role", "granted_at"),
    "deadlines": ("case_id", "name", "started_at", "due_on", "met_at", "extensions"),
    "messages": ("id", "case_id", "author_kind", "body", "created_at", "read_at"),
    "case_events": ("id", "case_id", "occurred_at", "kind", "from_state", "to_state",
                    "remark"),
    "case_parties": ("id", "case_id", "kind", "person_index", "name_index", "name",
                     "created_at"),
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    with scratch_database() as (url, tmp):
        run(url, tmp, args.cases, args.requests, args.json)


def run(url: str, tmp: Path, cases: int, requests: int, json_path: str | None) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    app = bench_app(url, tmp, now - timedelta(days=6 * 366))
    with app.app_context():
        session = db.session()
        started = time.perf_counter()
        handler, staff, case_id, totals = seed(app, session, cases, now)
        seeded = time.perf_counter() - started
        print(f"seeded {cases:,} cases in {seeded:.1f} s")
        versions = {"postgresql": postgres_version(session)}
        situations = situations_of(totals)
        print(f"the handler holds {totals['grants']:,} grants, {totals['open']:,} open cases")
        matching = {
            label: count_matching(app, handler, filters, now)
            for label, (_, filters) in situations.items()
        }
        session.rollback()

    client = app.test_client()
    log_in(client, staff, datetime.now(UTC))
    cpu = CpuMeter(app)
    timings: dict[str, list[float]] = {}
    cpu_ms: dict[str, float] = {}
    for label, (query, _) in situations.items():
        timings[label], cpu_ms[label] = time_requests(client, f"/zaken{query}", requests, cpu)
    label = "case page (decrypts, audited)"
    timings[label], cpu_ms[label] = time_requests(
        client, f"/zaken/{case_id}", max(20, requests // 4), cpu
    )
    app.extensions["complaints.db"].engine.dispose()
    cpu.engine.dispose()

    print(f"\n{'request':<34} {'cases':>7} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'CPU ms':>8}")  # fmt: skip
    results = []
    for label, times in timings.items():
        ms = [t * 1000 for t in times]
        p50, p95, p99 = (percentile(ms, share) for share in (0.5, 0.95, 0.99))
        shown = f"{matching[label]:>7,}" if label in matching else f"{'-':>7}"
        print(f"{label:<34} {shown} {len(ms):>5} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f} "
              f"{cpu_ms[label]:>8.1f}")  # fmt: skip
        results.append(figure(f"{label} p50", p50, "ms"))
        if label in situations:
            results.append(at_most(f"{label} p95", p95, "ms", TARGET_MS))
        else:
            results.append(figure(f"{label} p95", p95, "ms"))
        results.append(figure(f"{label} p99", p99, "ms"))
        results.append(figure(f"{label} CPU per request", cpu_ms[label], "ms"))
    print(
        "CPU ms: processor time per request of this process and its PostgreSQL backends "
        "together, which the load on the machine does not stretch the way it does wall time"
    )
    met = all(r.met for r in results if r.met is not None)
    print(f"\ntarget: inbox p95 < {TARGET_MS:.0f} ms: {'met' if met else 'MISSED'}")
    env = environment(
        cases=cases,
        requests=requests,
        handler_grants=totals["grants"],
        handler_open_cases=totals["open"],
        seed_seconds=round(seeded, 1),
        **versions,
    )
    write_json(json_path, "inbox", results, env)


def situations_of(totals: dict[str, int]) -> dict[str, tuple[str, InboxFilter]]:
    """The inbox requests timed: the query string and the filter it amounts to."""
    later = max(1, min(20, -(-totals["open"] // 25)))
    return {
        "inbox page 1": ("", InboxFilter()),
        f"inbox page {later}": (f"?pagina={later}", InboxFilter()),
        "inbox route=committee": ("?route=committee", InboxFilter(route=Route.COMMITTEE)),
        "inbox state=acknowledged": ("?status=acknowledged", InboxFilter(state="acknowledged")),
        "inbox overdue": ("?verlopen=y", InboxFilter(overdue_only=True)),
        "inbox unread": ("?ongelezen=y", InboxFilter(unread_only=True)),
        "inbox with closed": ("?gesloten=y", InboxFilter(include_closed=True)),
        "inbox with closed, page 60": ("?gesloten=y&pagina=60", InboxFilter(include_closed=True)),
    }


def count_matching(app: Flask, person_id: int, filters: InboxFilter, now: datetime) -> int:
    page = inbox(
        db.session(),
        indexer(),
        workflow(),
        person_id=person_id,
        filters=filters,
        today=local_date(now),
    )
    return page.total


def time_requests(client: Any, url: str, requests: int, cpu: CpuMeter) -> tuple[list[float], float]:
    """The wall time of each request, and the mean CPU time per request (ms)."""
    for _ in range(5):  # warm up: templates compiled, statements cached
        check(client.get(url), url)
    times = []
    cpu_started = cpu.seconds()
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        check(response, url)
    return times, (cpu.seconds() - cpu_started) / requests * 1000


class CpuMeter:
    """Processor time of this process plus that of its PostgreSQL backends (same machine)."""

    def __init__(self, app: Flask) -> None:
        # A connection of its own, so that the backends serving the requests are all counted.
        self.engine = sa.create_engine(
            app.extensions["complaints.db"].engine.url, poolclass=sa.pool.NullPool
        )
        self.tick = os.sysconf("SC_CLK_TCK")

    def seconds(self) -> float:
        with self.engine.connect() as connection:
            pids = connection.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            ).scalars()
            backends = 0.0
            for pid in pids:
                try:
                    with open(f"/proc/{pid}/stat") as stat:
                        fields = stat.read().rsplit(")", 1)[1].split()
                except OSError:  # not readable (another user, another machine): app only
                    continue
                backends += (int(fields[11]) + int(fields[12])) / self.tick
        return time.process_time() + backends


def check(response: Any, url: str) -> None:
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")


# Seeding -----------------------------------------------------------------------------------


def seed(
    app: Flask, session: sa.orm.Session, cases: int, now: datetime
) -> tuple[int, Any, uuid.UUID, dict[str, int]]:
    """Bulk rows with COPY, then the handler's account and one real case to open."""
    org = make_org(session, now - timedelta(days=6 * 366))
    handler = make_person(session, org.directorate, now, name="Bench handler")
    colleagues = [make_person(session, org.directorate, now) for _ in range(COLLEAGUES)]
    staff = make_account(
        session,
        handler,
        now,
        roles=((Role.CONFIDANT, org.ministry), (Role.INTEGRITY_COORDINATOR, org.ministry)),
    )
    handler_id = handler.id
    db.commit()
    # What log_in needs, read while the session is open (the rows expire at the commit).
    login = StaffLogin(
        SimpleNamespace(login=staff.account.login),  # type: ignore[arg-type]
        handler,
        staff.password,
        staff.totp_secret,
    )
    seeder = Seeder(keystore(), workflow(), now, org.ministry.id, handler_id,
                    [p.id for p in colleagues])  # fmt: skip
    for start in range(0, cases, 10_000):
        seeder.batch(range(start, min(start + 10_000, cases)))
        seeder.flush(session)
        db.commit()
    case_id = real_case(session, handler_id, now)
    db.commit()
    # What autovacuum does on a database that has been running a while: statistics, hint
    # bits and the visibility map (without it no index-only scan skips the table).
    engine = app.extensions["complaints.db"].engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    totals = {"grants": seeder.handler_grants + 1, "open": seeder.handler_open + 1}
    return handler_id, login, case_id, totals


class Seeder:
    """Rows for the bulk tables, made in batches and written with COPY."""

    def __init__(
        self,
        keys: KeyStore,
        flow: Workflow,
        now: datetime,
        organisation_id: int,
        handler_id: int,
        colleague_ids: Sequence[int],
    ) -> None:
        self.keys = keys
        self.flow = flow
        self.now = now
        self.organisation_id = organisation_id
        self.handler_id = handler_id
        self.colleague_ids = list(colleague_ids)
        self.rng = random.Random(7)
        self.rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in COLUMNS}
        self.handler_grants = 0
        self.handler_open = 0

    def batch(self, numbers: Iterable[int]) -> None:
        for number in numbers:
            self.case(number)

    def case(self, number: int) -> None:
        rng = self.rng
        route = rng.choices(list(ROUTE_WEIGHTS), list(ROUTE_WEIGHTS.values()))[0]
        flow = self.flow[route]
        mine = rng.random() < HANDLER_SHARE
        is_open = rng.random() < (HANDLER_OPEN if mine else OTHERS_OPEN)
        if is_open:
            state = rng.choice(sorted(set(flow.states) - flow.final))
            # Open cases came in during the last four months: some clocks have run out.
            submitted = self.now - timedelta(days=rng.uniform(0, 120))
            closed = None
        else:
            state = "closed" if rng.random() < 0.9 else "withdrawn"
            submitted = self.now - timedelta(days=rng.uniform(120, 6 * 365))
            closed = submitted + timedelta(days=rng.uniform(10, 100))
        case_id = uuid.uuid4()
        category = rng.choice(CATEGORIES)
        self.rows["cases"].append(
            (
                case_id,
                f"{submitted:%Y}-{number >> 16:04X}-{number & 0xFFFF:04X}",
                route.value,
                state,
                category,
                '["race"]' if category == "discrimination" else "[]",
                self.organisation_id,
                rng.choice(("anonymous", "confidential", "named")),
                "founded" if closed and route is Route.COMMITTEE else None,
                submitted,
                closed or submitted + timedelta(days=rng.uniform(0, 5)),
                closed,
                secrets.token_bytes(32),
                False,
                1,
                secrets.token_bytes(rng.randint(200, 1200)),
                secrets.token_bytes(40),
                secrets.token_bytes(40),
                secrets.token_bytes(80),
                secrets.token_bytes(120),
            )
        )
        wrapped = self.keys.wrap(new_data_key(), f"key_slots:{case_id}".encode())
        self.rows["key_slots"].append(
            (case_id, "kek", STORE_HOLDER, wrapped.key_id, wrapped.blob, submitted)
        )
        self.grants(case_id, route, mine, submitted)
        if mine:
            self.handler_grants += 1
            self.handler_open += is_open
        self.deadlines(case_id, route, state, submitted, closed)
        self.messages(case_id, submitted, closed, is_open)
        self.events(case_id, state, submitted, closed)
        if rng.random() < 0.3:
            self.rows["case_parties"].append(
                (uuid.uuid4(), case_id, "accused", secrets.token_bytes(32),
                 secrets.token_bytes(32), secrets.token_bytes(60), submitted)
            )  # fmt: skip

    def grants(self, case_id: uuid.UUID, route: Route, mine: bool, at: datetime) -> None:
        holders = [self.handler_id] if mine else [self.rng.choice(self.colleague_ids)]
        if route is Route.COMMITTEE:  # the secretary and two members
            holders += self.rng.sample(self.colleague_ids, 2)
        for position, person_id in enumerate(holders):
            role = GRANT_ROLE[route] if position == 0 else GrantRole.COMMITTEE_MEMBER
            self.rows["case_access_grants"].append((case_id, person_id, role.value, at))

    def deadlines(
        self,
        case_id: uuid.UUID,
        route: Route,
        state: str,
        submitted: datetime,
        closed: datetime | None,
    ) -> None:
        acknowledged = state != "submitted"
        met = submitted + timedelta(days=self.rng.uniform(0.5, 6)) if acknowledged else None
        rows = [("acknowledge", submitted, (submitted + timedelta(days=7)).date(), met)]
        if route is Route.INTEGRITY and acknowledged:
            due = (submitted + timedelta(weeks=8)).date()
            rows.append(("feedback", submitted, due, closed))
        if route is Route.COMMITTEE and acknowledged:
            due = (submitted + timedelta(weeks=10)).date()
            rows.append(("decision", submitted, due, closed))
        for name, started, due_on, met_at in rows:
            self.rows["deadlines"].append((case_id, name, started, due_on, met_at, 0))

    def messages(
        self, case_id: uuid.UUID, submitted: datetime, closed: datetime | None, is_open: bool
    ) -> None:
        count = self.rng.choice((0, 1, 2, 2, 3, 4))
        unread = is_open and self.rng.random() < 0.25
        for position in range(count):
            at = submitted + timedelta(days=position + 1)
            last = position == count - 1
            author = AuthorKind.COMPLAINANT if position % 2 == 0 or last else AuthorKind.HANDLER
            read = None if (unread and last) else (closed or at + timedelta(hours=3))
            self.rows["messages"].append(
                (uuid.uuid4(), case_id, author.value, secrets.token_bytes(300), at, read)
            )

    def events(
        self, case_id: uuid.UUID, state: str, submitted: datetime, closed: datetime | None
    ) -> None:
        self.rows["case_events"].append(
            (uuid.uuid4(), case_id, submitted, "submitted", None, "submitted", None)
        )
        if state != "submitted":
            self.rows["case_events"].append(
                (uuid.uuid4(), case_id, closed or submitted + timedelta(days=1),
                 "state_changed", "submitted", state, secrets.token_bytes(60))
            )  # fmt: skip

    def flush(self, session: sa.orm.Session) -> None:
        copy_rows(session, {table: (COLUMNS[table], rows) for table, rows in self.rows.items()})
        for rows in self.rows.values():
            rows.clear()


def copy_rows(
    session: sa.orm.Session, tables: dict[str, tuple[Sequence[str], list[tuple[Any, ...]]]]
) -> None:
    """COPY rows into tables, in the order given (parents first), on the session's connection."""
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        for table, (columns, rows) in tables.items():
            statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)


def real_case(session: sa.orm.Session, handler_id: int, now: datetime) -> uuid.UUID:
    """One case made the way intake makes it, with a thread and a history, to open."""
    when = now - timedelta(days=3)
    case = create_case(
        session,
        keystore(),
        indexer(),
        NewCase(
            route=Route.CONFIDANT,
            category="discrimination",
            grounds=("race",),
            disclosure=Disclosure.CONFIDENTIAL,
            description="Tijdens het werkoverleg werden herhaaldelijk opmerkingen gemaakt. " * 8,
            incident_period="maart 2026",
            incident_place="vergaderzaal 4.12",
            desired_outcome="Dat het stopt en dat er een gesprek komt.",
            complainant={"name": "A. Melder", "email": "melder@example.org"},
            attachments=(
                NewAttachment("verslag.pdf", "application/pdf", b"%PDF-1.4 " + bytes(200_000)),
            ),
        ),
        grants=[NewGrant(handler_id, GrantRole.CONFIDANT)],
        now=when,
    )
    cipher = case_cipher(session, keystore(), case.id)
    for position in range(6):
        message_id = uuid.uuid4()
        author = AuthorKind.COMPLAINANT if position % 2 == 0 else AuthorKind.HANDLER
        session.add(
            Message(
                id=message_id,
                case_id=case.id,
                author_kind=author,
                body=cipher.seal_text("messages", "body", message_id, "Een bericht. " * 30),
                created_at=when + timedelta(hours=position + 1),
                read_at=when + timedelta(hours=position + 2),
            )
        )
    session.add(
        Deadline(
            case_id=case.id,
            name="acknowledge",
            started_at=when,
            due_on=(when + timedelta(days=7)).date(),
        )
    )
    event_id = uuid.uuid4()
    session.add(
        CaseEvent(
            id=event_id,
            case_id=case.id,
            occurred_at=when + timedelta(hours=1),
            kind="state_changed",
            from_state="submitted",
            to_state="acknowledged",
            remark=cipher.seal_text("case_events", "remark", event_id, "Ontvangst bevestigd."),
        )
    )
    session.flush()
    return case.id


if __name__ == "__main__":
    main()
