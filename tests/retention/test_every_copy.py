"""The strongest adversary we name: every copy of the database that ever existed, plus the key
store as it is today (issue 13, docs/keys.md).

Three confidential cases with planted words in every field go through a real database that
commits: one (KWARTEL) is answered, closed, placed under its epoch key by the sweep and
destroyed when due; one (FAZANT) is held past its day, so the sweep that destroys it is one
that catches up; one (MEREL) stays open. Raw copies are taken at every stage: on SQLite the
database file with its -wal and -shm as they are while the application runs; on PostgreSQL a
``pg_dump -Fc`` and a file-level copy of the stopped cluster's data directory (pg_wal
included), and at the end the WAL archive. ``retention apply`` and ``keys maintain`` run
forward through the horizon with ``--as-of``. The thief (tests/retention/attacker.py) then
scans every byte of every copy with the key store as it is at each moment.

Controls, in the same test: with the key store as it was when the case was filed, the thief
reads every field of the earliest copy; with the final key store it finds the open case's
key in the final copy and reads its description.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

import pytest
import sqlalchemy as sa
from flask import Flask

from complaints import create_app
from complaints.cases.models import (
    AuthorKind,
    Case,
    CaseEvent,
    CaseNote,
    Disclosure,
    GrantRole,
    Message,
    PartyKind,
    Route,
)
from complaints.cases.services import NewAttachment, NewCase, NewGrant, NewParty, create_case
from complaints.clock import set_clock
from complaints.crypto.services import case_cipher, indexer, keystore
from complaints.directory.models import Person
from complaints.retention.models import RetentionHold
from tests.conftest import Clock, DatabaseFactory, app_session, make_settings
from tests.factories import make_org, make_person
from tests.pgcluster import PG_BIN, PrivateCluster, as_postgres, private_cluster_running
from tests.retention.attacker import Copy, Loot, attack, dump_copies, file_copies, stolen_keys
from tests.retention.conftest import at

pytestmark = pytest.mark.committing

# The defaults the guarantee is stated with (docs/keys.md): kek_rotation_days and
# backup_retention_days.
ROTATION_DAYS = 30
RETENTION_DAYS = 35
HORIZON = timedelta(days=ROTATION_DAYS + RETENTION_DAYS)

FILED = date(2026, 3, 2)
CLOSED = date(2026, 3, 12)
DUE = date(2028, 3, 12)  # confidant-closed: two years after closing
HELD_UNTIL = date(2028, 6, 1)
# The days the timers run on. The sweep places KWARTEL under its epoch key on the first;
# it destroys KWARTEL on 2028-03-15 and, catching up after the hold, FAZANT on 2028-06-05.
DAYS = [
    date(2026, 4, 6),
    date(2026, 5, 15),
    date(2026, 7, 1),
    date(2026, 10, 1),
    date(2027, 1, 4),
    date(2027, 6, 1),
    date(2027, 12, 1),
    date(2028, 3, 1),
    date(2028, 3, 15),
    date(2028, 4, 1),
    date(2028, 4, 20),
    date(2028, 5, 10),
    date(2028, 6, 5),
    date(2028, 7, 1),
    date(2028, 7, 20),
    date(2028, 8, 10),
    date(2028, 8, 20),
]
COPY_ON = {
    date(2026, 4, 6): "placed",
    date(2028, 3, 15): "destroyed",
    date(2028, 6, 5): "caught-up",
}

FIELDS = (
    "omschrijving",  # description
    "periode",
    "plaats",
    "uitkomst",
    "melder",  # complainant's name
    "contactgegevens",  # complainant's e-mail
    "beschuldigde",  # accused's name as typed
    "getuige",
    "bijlagenaam",
    "bijlage",  # attachment body
    "bericht",  # complainant's message
    "antwoord",  # handler's answer
    "notitie",  # handler's note
    "toelichting",  # remark on closing
)
# What is written while the case is open (the rest comes with the answer and the closing).
FIELDS_WHEN_OPEN = FIELDS[:11]


@dataclass(frozen=True)
class Story:
    """The planted words of one case: ``PREFIX-field`` in the field of that name."""

    prefix: str

    def word(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.word(name) for name in FIELDS)


DESTROYED = Story("KWARTEL")
CAUGHT_UP = Story("FAZANT")
LIVE = Story("MEREL")
ALL_WORDS = DESTROYED.words + CAUGHT_UP.words + LIVE.words


# The copies ---------------------------------------------------------------------------------


class Site(Protocol):
    """Where the database lives, and how a thief copies it."""

    @property
    def url(self) -> str: ...

    def copy(self, stage: str, app: Flask) -> list[Copy]: ...

    def extra(self) -> list[Copy]:
        """Copies that exist besides the stages (the WAL archive)."""


@dataclass
class SqliteSite:
    path: Path
    out: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def copy(self, stage: str, app: Flask) -> list[Copy]:
        """The database file with its -wal and -shm, copied while the application holds
        connections open, as a file backup of a running server would."""
        target = self.out / stage
        target.mkdir(parents=True)
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                shutil.copyfile(source, target / source.name)
        return file_copies(f"sqlite {stage}", target)

    def extra(self) -> list[Copy]:
        return []


@dataclass
class PostgresSite:
    cluster: PrivateCluster
    database: str
    out: Path
    archive: Path

    @property
    def url(self) -> str:
        return self.cluster.url(self.database)

    def copy(self, stage: str, app: Flask) -> list[Copy]:
        """``pg_dump -Fc``, then the data directory of the stopped cluster, pg_wal included."""
        dump = self.out / f"{stage}.dump"
        subprocess.run(
            [str(PG_BIN / "pg_dump"), "-Fc", "-f", str(dump), self.url.replace("+psycopg", "")],
            check=True,
            capture_output=True,
            timeout=120,
        )
        engine: sa.Engine = app.extensions["complaints.db"].engine
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT pg_switch_wal()"))  # to the archive as well
        engine.dispose()
        self.cluster.stop("fast")
        try:
            shutil.copytree(self.cluster.data, self.out / stage)
        finally:
            self.cluster.start()
        return dump_copies(f"pg {stage}", dump, PG_BIN / "pg_restore") + file_copies(
            f"pg {stage} data directory", self.out / stage
        )

    def extra(self) -> list[Copy]:
        return file_copies("pg WAL archive", self.archive)


@pytest.fixture
def site(backend: str, databases: DatabaseFactory, tmp_path: Path) -> Iterator[Site]:
    out = tmp_path / "copies"
    out.mkdir()
    if backend == "sqlite":
        path = tmp_path / "complaints.db"
        shutil.copyfile(databases.template_url().removeprefix("sqlite:///"), path)
        yield SqliteSite(path, out)
        return
    # A cluster of its own: the suite's PostgreSQL cannot be stopped and copied. Small WAL
    # segments keep the copies small; every segment is archived, as a backup set up for
    # point-in-time recovery would.
    with private_cluster_running(
        "complaints-every-copy-pg-",
        initdb_options=["--wal-segsize=1"],
        server_settings=[
            "archive_mode=on",
            "archive_command='cp %p ../archive/%f'",
            "min_wal_size=2MB",
            "max_wal_size=8MB",
        ],
    ) as cluster:
        archive = cluster.directory / "archive"
        archive.mkdir()
        shutil.chown(archive, "postgres", "postgres")
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(cluster.data), "reload")
        cluster.create_database("complaints")
        yield PostgresSite(cluster, "complaints", out, archive)


# The cases ----------------------------------------------------------------------------------


def _file(session: sa.orm.Session, handler: Person, story: Story) -> uuid.UUID:
    """A confidential case as the intake stores it, and a first message from the complainant."""
    w = story.word
    case = create_case(
        session,
        keystore(),
        indexer(),
        NewCase(
            route=Route.CONFIDANT,
            category="discrimination",
            grounds=("race",),
            disclosure=Disclosure.CONFIDENTIAL,
            description=f"{w('omschrijving')}: mijn leidinggevende maakte een opmerking.",
            incident_period=w("periode"),
            incident_place=w("plaats"),
            desired_outcome=w("uitkomst"),
            complainant={"name": w("melder"), "email": f"{w('contactgegevens')}@example.org"},
            parties=(
                NewParty(kind=PartyKind.ACCUSED, name=w("beschuldigde")),
                NewParty(kind=PartyKind.WITNESS, name=w("getuige")),
            ),
            attachments=(
                NewAttachment(f"{w('bijlagenaam')}.txt", "text/plain", w("bijlage").encode()),
            ),
        ),
        grants=[NewGrant(handler.id, GrantRole.CONFIDANT)],
        now=at(FILED),
        receipt_index=secrets.token_bytes(32),
        complainant_index=secrets.token_bytes(32),
    )
    _message(session, case.id, AuthorKind.COMPLAINANT, w("bericht"), FILED)
    return case.id


def _message(
    session: sa.orm.Session, case_id: uuid.UUID, author: AuthorKind, text: str, day: date
) -> None:
    message_id = uuid.uuid4()
    cipher = case_cipher(session, keystore(), case_id)
    session.add(
        Message(
            id=message_id,
            case_id=case_id,
            author_kind=author,
            body=cipher.seal_text("messages", "body", message_id, text),
            created_at=at(day),
        )
    )


def _answer_and_close(session: sa.orm.Session, case_id: uuid.UUID, story: Story) -> None:
    w = story.word
    _message(session, case_id, AuthorKind.HANDLER, w("antwoord"), CLOSED)
    cipher = case_cipher(session, keystore(), case_id)
    note_id, event_id = uuid.uuid4(), uuid.uuid4()
    session.add(
        CaseNote(
            id=note_id,
            case_id=case_id,
            body=cipher.seal_text("case_notes", "body", note_id, w("notitie")),
            created_at=at(CLOSED),
        )
    )
    session.add(
        CaseEvent(
            id=event_id,
            case_id=case_id,
            occurred_at=at(CLOSED),
            kind="state_changed",
            from_state="submitted",
            to_state="closed",
            remark=cipher.seal_text("case_events", "remark", event_id, w("toelichting")),
        )
    )
    case = session.get_one(Case, case_id)
    case.state = "closed"
    case.closed_at = case.updated_at = at(CLOSED)
    session.flush()


# The run ------------------------------------------------------------------------------------


@dataclass
class Run:
    app: Flask
    clock: Clock
    site: Site
    store: Path
    snapshots: Path
    copies: list[Copy] = field(default_factory=list)
    stages: dict[str, list[Copy]] = field(default_factory=dict)

    def take_copies(self, stage: str) -> list[Copy]:
        taken = self.site.copy(stage, self.app)
        self.stages[stage] = taken
        self.copies.extend(taken)
        return taken

    def stolen_store(self, name: str) -> dict[str, bytes]:
        """The key store's files as a thief who copies the directory now gets them."""
        target = self.snapshots / name
        shutil.copytree(self.store, target)
        return stolen_keys(target)

    def invoke(self, *args: str) -> str:
        result = self.app.test_cli_runner().invoke(args=list(args))
        assert result.exit_code == 0, f"{' '.join(args)}: {result.output}"
        return result.output

    def timers(self, day: date) -> str:
        """What the daily timers do on ``day``: the retention sweep, then key maintenance."""
        self.clock.current = at(day, 3)
        as_of = ["--as-of", day.isoformat(), "--allow-future"]
        swept = self.invoke("retention", "apply", *as_of)
        self.invoke("keys", "maintain", *as_of)
        return swept


def _nothing_of(loot: Loot, case_ids: list[uuid.UUID], stories: list[Story], when: str) -> None:
    keys = [key for case_id in case_ids for key in loot.keys_of(case_id)]
    assert not keys, f"{when}: data keys recovered: " + ", ".join(
        f"{key.case_id} under {key.key_id} in {key.found_in}" for key in keys
    )
    words = {w for story in stories for w in story.words}
    read = sorted(
        (text.found_in, word) for text in loot.texts for word in text.words if word in words
    )
    assert not read, f"{when}: fields read: {read}"


def test_no_copy_gives_up_a_destroyed_case_after_the_horizon(
    site: Site, tmp_path: Path, keystore_path: Path, clock: Clock
) -> None:
    app = create_app(make_settings(tmp_path, site.url, keystore_path))
    set_clock(app, clock)
    run = Run(app, clock, site, keystore_path, tmp_path / "stolen-stores")
    try:
        _story(run)
    finally:
        app.extensions["complaints.db"].engine.dispose()


def _story(run: Run) -> None:
    run.clock.current = at(FILED)
    with app_session(run.app) as session:
        org = make_org(session, at(FILED))
        handler = make_person(session, org.directorate, at(FILED))
        destroyed = _file(session, handler, DESTROYED)
        caught_up = _file(session, handler, CAUGHT_UP)
        live = _file(session, handler, LIVE)
    earliest = run.take_copies("open")

    # CONTROL: the same thief, with the key store as it was on the day of filing, reads every
    # field of the earliest copy.
    then = attack(earliest, run.stolen_store("filed"), ALL_WORDS)
    assert loot_words(then, DESTROYED) >= {DESTROYED.word(name) for name in FIELDS_WHEN_OPEN}
    assert then.keys_of(destroyed), "the thief did not find the case's key"

    run.clock.current = at(CLOSED)
    with app_session(run.app) as session:
        for case_id, story in ((destroyed, DESTROYED), (caught_up, CAUGHT_UP)):
            _answer_and_close(session, case_id, story)
        session.add(
            RetentionHold(
                case_id=caught_up, reason="Bezwaar", until=HELD_UNTIL, placed_at=at(CLOSED)
            )
        )
    run.take_copies("closed")

    destroyed_on: dict[uuid.UUID, date] = {}
    checked: set[uuid.UUID] = set()
    for day in DAYS:
        swept = run.timers(day)
        with app_session(run.app) as session:
            for case_id in (destroyed, caught_up):
                if case_id not in destroyed_on and session.get(Case, case_id) is None:
                    destroyed_on[case_id] = day
        if day in COPY_ON:
            stage = COPY_ON[day]
            taken = run.take_copies(stage)
            if stage in ("destroyed", "caught-up"):
                gone = destroyed if stage == "destroyed" else caught_up
                assert destroyed_on.get(gone) == day, f"{gone} not destroyed on {day}"
                # The live files right after the sweep: what the sweep removed is not in
                # them any more, not even for the key store of this very moment.
                now = attack(taken, run.stolen_store(f"{stage}-{day}"), ALL_WORDS)
                story = DESTROYED if gone == destroyed else CAUGHT_UP
                _nothing_of(now, [gone], [story], f"the live copy right after the sweep, {day}")
            if stage == "caught-up":
                # A sweep that catches up puts the case under an epoch key on its way out.
                assert "0 case key(s) placed under an epoch key" not in swept, swept
        # The guarantee: from kek_rotation_days + backup_retention_days after its
        # destruction, no copy gives up the case.
        for case_id, story in ((destroyed, DESTROYED), (caught_up, CAUGHT_UP)):
            if case_id in checked or case_id not in destroyed_on:
                continue
            if day < destroyed_on[case_id] + HORIZON:
                continue
            checked.add(case_id)
            now = attack(run.copies, run.stolen_store(f"horizon-{day}"), ALL_WORDS)
            _nothing_of(now, [case_id], [story], f"every copy on {day}")
    assert checked == {destroyed, caught_up}, "the run did not reach both horizons"

    final = run.take_copies("final")
    everything = run.copies + run.site.extra()
    loot = attack(everything, run.stolen_store("final"), ALL_WORDS)
    _nothing_of(loot, [destroyed, caught_up], [DESTROYED, CAUGHT_UP], "every copy, at the end")
    assert not loot.in_clear, f"planted words in clear: {loot.in_clear}"
    assert {destroyed, caught_up} <= loot.case_ids  # the thief knew which ids to try

    # CONTROL: with the final key store the thief opens the case that is still open.
    live_loot = attack(final, run.stolen_store("final-again"), ALL_WORDS)
    assert live_loot.keys_of(live), "the thief did not find the open case's key"
    assert LIVE.word("omschrijving") in loot_words(live_loot, LIVE)


def loot_words(loot: Loot, story: Story) -> set[str]:
    return {word for word in loot.words_read() if word.startswith(f"{story.prefix}-")}
