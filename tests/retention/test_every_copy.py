"""The strongest adversary we name: every copy of the database that ever existed, plus the key
store as it is at the moment of the attack (issue 13, docs/keys.md "The guarantee").

Three confidential cases with planted words in every field go through a database that really
commits: KWARTEL is answered, closed, placed under its epoch key by the sweep and destroyed
when due; FAZANT is held past its day, so the sweep that destroys it is one that catches up;
MEREL stays open. Raw copies are taken at every stage (open, closed, placed, destroyed, caught
up, final): on SQLite the database file with its -wal and -shm as they are while the
application holds connections; on PostgreSQL (a private cluster) a ``pg_dump -Fc`` and a
file-level copy of the stopped cluster's data directory, pg_wal included, and at the end the
WAL archive. ``retention apply`` and ``keys maintain`` run forward through the horizon with
``--as-of``. The thief (tests/retention/attacker.py) scans every byte of the copies, with a
copy of the key store directory taken at the moment of each attack:

- right after the sweep that destroyed a case, the live copy gives nothing of it (SQLite:
  secure_delete and the checkpoint; PostgreSQL: the dump; a data directory keeps dead tuples
  and WAL, which only the key lifecycle covers);
- the same sweep destroys the case's epoch key (one key per day of destruction), so from that
  moment the copies made after the case went under it give nothing (on PostgreSQL: the dumps,
  as above);
- from kek_rotation_days + backup_retention_days after its destruction, no copy at all gives
  anything, nor does any copy at the end, WAL archive included; no planted word is in clear;
- the sweep that caught up placed the case under an epoch key (its ledger row says so).

Controls, in the same test: with the key store as it was when the cases were filed, the thief
reads every field of the earliest copy; with the key store of the day of placement it opens
the placed copy through the epoch key; with the final key store it finds the open case's key
in the final copy and reads its description.
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
from complaints.crypto.keystore import EPOCH_PREFIX, KekStatus, epoch_key_id
from complaints.crypto.models import KeySlot
from complaints.crypto.services import case_cipher, indexer, keystore
from complaints.directory.models import Person
from complaints.retention.models import LedgerEntry, RetentionHold
from complaints.retention.sweep import EPOCH_SLOTS
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

    def hygienic(self, copies: list[Copy]) -> list[Copy]:
        """The copies that the storage hygiene keeps clean of what was destroyed."""


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

    def hygienic(self, copies: list[Copy]) -> list[Copy]:
        """All of them: secure_delete zeroes, the checkpoint empties the WAL."""
        return copies


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

    def hygienic(self, copies: list[Copy]) -> list[Copy]:
        """The dumps only: VACUUM makes a dead tuple's space reusable without overwriting it,
        and pg_wal keeps the slot as it was, so a data directory is covered by the key
        lifecycle alone."""
        return [copy for copy in copies if ":dump" in copy.name]


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

    def take_copies(self, stage: str) -> list[Copy]:
        taken = self.site.copy(stage, self.app)
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

    def timers(self, day: date) -> None:
        """What the daily timers do on ``day``: the retention sweep, then key maintenance."""
        self.clock.current = at(day, 3)
        as_of = ["--as-of", day.isoformat(), "--allow-future"]
        self.invoke("retention", "apply", *as_of)
        self.invoke("keys", "maintain", *as_of)


def _nothing_of(loot: Loot, victim: Victim, when: str) -> None:
    keys = loot.keys_of(victim.case_id)
    assert not keys, f"{when}: {victim.story.prefix}'s data key recovered: " + ", ".join(
        f"under {key.key_id} in {key.found_in}" for key in keys
    )
    read = sorted(
        (text.found_in, word)
        for text in loot.texts
        for word in text.words
        if word in victim.story.words
    )
    assert not read, f"{when}: fields read: {read}"


def test_no_copy_gives_up_a_destroyed_case_after_the_horizon(
    site: Site, tmp_path: Path, keystore_path: Path, clock: Clock
) -> None:
    settings = make_settings(tmp_path, site.url, keystore_path)
    assert (settings.kek_rotation_days, settings.backup_retention_days) == (
        ROTATION_DAYS,
        RETENTION_DAYS,
    )
    app = create_app(settings)
    set_clock(app, clock)
    run = Run(app, clock, site, keystore_path, tmp_path / "stolen-stores")
    try:
        _story(run)
    finally:
        app.extensions["complaints.db"].engine.dispose()


@dataclass
class Victim:
    """A case that is destroyed, and what the run learns about it on the way."""

    case_id: uuid.UUID
    story: Story
    reference: str = ""
    destroyed_on: date | None = None
    placed_from: int | None = None  # index into run.copies: the copies made after placement
    epoch_key: str | None = None
    epoch_checked: bool = False
    horizon_checked: bool = False


def _story(run: Run) -> None:
    run.clock.current = at(FILED)
    with app_session(run.app) as session:
        org = make_org(session, at(FILED))
        handler = make_person(session, org.directorate, at(FILED))
        kwartel = Victim(_file(session, handler, DESTROYED), DESTROYED)
        fazant = Victim(_file(session, handler, CAUGHT_UP), CAUGHT_UP)
        live = _file(session, handler, LIVE)
        for victim in (kwartel, fazant):
            victim.reference = session.get_one(Case, victim.case_id).reference
    earliest = run.take_copies("open")

    # CONTROL: the same thief, with the key store as it was on the day of filing, reads every
    # field of the earliest copy.
    then = attack(earliest, run.stolen_store("filed"), ALL_WORDS)
    assert loot_words(then, DESTROYED) >= {DESTROYED.word(name) for name in FIELDS_WHEN_OPEN}
    assert then.keys_of(kwartel.case_id), "the thief did not find the case's key"

    run.clock.current = at(CLOSED)
    with app_session(run.app) as session:
        for victim in (kwartel, fazant):
            _answer_and_close(session, victim.case_id, victim.story)
        session.add(
            RetentionHold(
                case_id=fazant.case_id, reason="Bezwaar", until=HELD_UNTIL, placed_at=at(CLOSED)
            )
        )
    run.take_copies("closed")

    for day in DAYS:
        before = len(run.copies)
        run.timers(day)
        with app_session(run.app) as session:
            for victim in (kwartel, fazant):
                _follow(session, victim, day, before)
        if day in COPY_ON:
            stage = COPY_ON[day]
            taken = run.take_copies(stage)
            if stage == "placed":
                # CONTROL: while the epoch key lives, the thief opens the case through it.
                then = attack(run.site.hygienic(taken), run.stolen_store("placed"), ALL_WORDS)
                assert {key.key_id for key in then.keys_of(kwartel.case_id)} == {
                    kwartel.epoch_key
                }, "the thief did not open the placed copy through the epoch key"
            gone = [v for v in (kwartel, fazant) if v.destroyed_on == day]
            for victim in gone:
                # The live files right after the sweep (on PostgreSQL its dump: a data
                # directory is covered by the key lifecycle only, docs/keys.md): what the sweep
                # removed is not in them any more, even with the key store of this moment.
                now = attack(run.site.hygienic(taken), run.stolen_store(f"{stage}"), ALL_WORDS)
                _nothing_of(now, victim, f"the live copy right after the sweep of {day}")
        for victim in (kwartel, fazant):
            _check_epoch_clause(run, victim, day)
            _check_horizon(run, victim, day)
    for victim in (kwartel, fazant):
        assert victim.epoch_checked, f"{victim.story.prefix}: its epoch key was not destroyed"
        assert victim.horizon_checked, f"{victim.story.prefix}: the run ended before its horizon"

    final = run.take_copies("final")
    everything = run.copies + run.site.extra()
    loot = attack(everything, run.stolen_store("final"), ALL_WORDS)
    for victim in (kwartel, fazant):
        _nothing_of(loot, victim, "every copy, at the end")
    assert not loot.in_clear, f"planted words in clear: {loot.in_clear}"
    assert {kwartel.case_id, fazant.case_id} <= loot.case_ids  # the thief knew which ids to try

    # CONTROL: with the final key store the thief opens the case that is still open.
    live_loot = attack(final, run.stolen_store("final-again"), ALL_WORDS)
    assert live_loot.keys_of(live), "the thief did not find the open case's key"
    assert LIVE.word("omschrijving") in loot_words(live_loot, LIVE)


def _follow(session: sa.orm.Session, victim: Victim, day: date, before: int) -> None:
    """Note when the victim went under its epoch key and when it was destroyed."""
    if victim.destroyed_on is not None:
        return
    if victim.placed_from is None:
        slot = session.scalar(sa.select(KeySlot).where(KeySlot.case_id == victim.case_id))
        if slot is None or slot.key_id.startswith(EPOCH_PREFIX):
            # Placed by today's sweep: every copy from today on was made after placement.
            victim.placed_from = before
            victim.epoch_key = slot.key_id if slot is not None else None
    if session.get(Case, victim.case_id) is None:
        victim.destroyed_on = day
        if victim.epoch_key is None:
            # Placed and destroyed by one sweep that caught up: the placement is committed
            # before the destruction, under the key of the day of the sweep, and the case's
            # ledger row counts the slot that was under it.
            rows = session.scalars(
                sa.select(LedgerEntry).where(LedgerEntry.subject == victim.reference)
            ).all()
            placed = [row.records.get(EPOCH_SLOTS) for row in rows]
            assert placed == [1], (
                f"{victim.story.prefix} was destroyed without going under an epoch key: "
                f"{[row.records for row in rows]}"
            )
            victim.epoch_key = epoch_key_id(day)


def _check_epoch_clause(run: Run, victim: Victim, day: date) -> None:
    """Copies made after the case went under its epoch key are unreadable from the moment of
    destruction: the sweep that destroys the case destroys its day's key too (docs/keys.md)."""
    if victim.epoch_checked or victim.destroyed_on is None or victim.epoch_key is None:
        return
    with run.app.app_context():
        status = {info.key_id: info.status for info in keystore().keks()}
    assert status.get(victim.epoch_key) is KekStatus.DESTROYED, (
        f"{victim.epoch_key} outlives {victim.story.prefix}, destroyed by the sweep of "
        f"{victim.destroyed_on}"
    )
    victim.epoch_checked = True
    assert victim.placed_from is not None
    after = run.site.hygienic(run.copies[victim.placed_from :])
    now = attack(after, run.stolen_store(f"epoch-{day}"), ALL_WORDS)
    _nothing_of(now, victim, f"the copies made after placement, on {day}")


def _check_horizon(run: Run, victim: Victim, day: date) -> None:
    """The guarantee: from kek_rotation_days + backup_retention_days after its destruction,
    no copy gives up the case."""
    if victim.horizon_checked or victim.destroyed_on is None:
        return
    if day < victim.destroyed_on + HORIZON:
        return
    victim.horizon_checked = True
    now = attack(run.copies, run.stolen_store(f"horizon-{day}"), ALL_WORDS)
    _nothing_of(now, victim, f"every copy on {day}")


def loot_words(loot: Loot, story: Story) -> set[str]:
    return {word for word in loot.words_read() if word.startswith(f"{story.prefix}-")}
