"""The chain's head anchored outside the database: cutting events off the end is found.

Each attack is made for real on the stored rows or the anchor file; the control is the same
set-up untouched, and, for the cut, the same cut without the anchor file (where only the
anchors can see it: the hash chain alone still verifies).
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask

from complaints import create_app
from complaints.audit.anchor import _sign, anchor_chain, verify_anchors
from complaints.audit.models import AuditCheckpoint, AuditEvent
from complaints.audit.services import Actor, record_event, verify_chain
from complaints.crypto.keystore import LocalKeyStore, SecretPurpose
from complaints.crypto.services import keystore
from complaints.models import metadata
from complaints.settings import current_settings
from tests.conftest import ROOT, TEST_SECRET, Clock, app_session, make_settings

AUDIT_EVENTS = metadata.tables["audit_events"]

pytestmark = pytest.mark.committing


def _record(app: Flask, clock: Clock, count: int) -> None:
    with app_session(app) as session:
        for number in range(count):
            record_event(
                session,
                keystore(),
                actor=Actor.staff(number),
                action="test.event",
                now=clock.advance(minutes=1),
                object_type="case",
                object_id=number,
            )


def _cli(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=list(args))


def _anchor(app: Flask) -> Result:
    result = _cli(app, "audit", "anchor")
    assert result.exit_code == 0, result.output
    return result


def _anchor_file(app: Flask) -> Path:
    with app.app_context():
        return current_settings().resolved_audit_anchor_path


def _cut_from_the_end(app: Flask, count: int) -> None:
    """What a database owner can do: delete the newest events."""
    with app_session(app) as session:
        newest = session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
        assert newest is not None
        session.execute(sa.delete(AUDIT_EVENTS).where(AUDIT_EVENTS.c.seq > newest - count))


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write_lines(path: Path, lines: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines))


# The anchor file ------------------------------------------------------------------------------


def test_anchor_appends_one_signed_line_per_run_owner_only(
    committed_app: Flask, clock: Clock
) -> None:
    _record(committed_app, clock, 3)
    first = _anchor(committed_app)
    assert first.output.startswith("anchored seq 3 hash ")
    path = _anchor_file(committed_app)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before, inode = path.read_bytes(), path.stat().st_ino
    _record(committed_app, clock, 2)
    _anchor(committed_app)
    # Appended to the same file: the earlier line is untouched.
    assert path.stat().st_ino == inode
    assert path.read_bytes().startswith(before)
    lines = _lines(path)
    assert [line["seq"] for line in lines] == [3, 5]
    assert lines[0]["prev"] == ""
    assert lines[1]["prev"] == lines[0]["mac"]
    with app_session(committed_app) as session:
        head = session.scalars(sa.select(AuditEvent).where(AuditEvent.seq == 5)).one()
        assert lines[1]["hash"] == head.hash


def test_the_anchor_file_is_opened_for_appending(committed_app: Flask, clock: Clock) -> None:
    """A file the operating system keeps append-only (chattr +a) can still be anchored to: the
    file is never opened for rewriting. Shown here with an existing file whose earlier bytes
    must survive byte for byte."""
    _record(committed_app, clock, 1)
    _anchor(committed_app)
    path = _anchor_file(committed_app)
    os.chmod(path, 0o644)  # too open: the next anchor makes it owner-only again
    original = path.read_bytes()
    _anchor(committed_app)
    assert path.read_bytes()[: len(original)] == original
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_service_function_returns_the_anchor_it_wrote(
    committed_app: Flask, clock: Clock, tmp_path: Path
) -> None:
    _record(committed_app, clock, 2)
    target = tmp_path / "elsewhere" / "anchors.log"
    with app_session(committed_app) as session:
        anchor = anchor_chain(session, keystore(), target, now=clock())
        assert (anchor.seq, anchor.anchored_at) == (2, clock())
        report = verify_anchors(session, keystore(), target)
    assert report.ok, report.problem
    assert (report.anchors, report.newer_events) == (1, 0)
    assert report.last is not None
    assert report.last.mac == anchor.mac


# Verification: the control, and what is newer than the last anchor ------------------------------


def test_untouched_chain_and_anchors_are_ok(committed_app: Flask, clock: Clock) -> None:
    _record(committed_app, clock, 4)
    _anchor(committed_app)
    _record(committed_app, clock, 6)
    _anchor(committed_app)
    result = _cli(committed_app, "audit", "verify")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "OK: 10 audit events verified (seq 1..10)"
    assert lines[1].startswith("anchors: 2 verified; the last at seq 10 (anchored ")
    assert lines[1].endswith("; 0 events newer than the last anchor")


def test_events_after_the_last_anchor_are_ok_and_counted(
    committed_app: Flask, clock: Clock
) -> None:
    _record(committed_app, clock, 5)
    _anchor(committed_app)
    _record(committed_app, clock, 3)
    result = _cli(committed_app, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].endswith("; 3 events newer than the last anchor")


# Cutting events off the end ---------------------------------------------------------------------


def test_cutting_five_events_from_the_end_is_found_and_names_the_anchored_event(
    committed_app: Flask, clock: Clock
) -> None:
    _record(committed_app, clock, 12)
    _anchor(committed_app)
    anchored_at = clock()
    _cut_from_the_end(committed_app, 5)

    # Control: the hash chain alone still verifies what is left; this is the attack of issue 13.
    with app_session(committed_app) as session:
        assert verify_chain(session, keystore()).ok

    result = _cli(committed_app, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        "BROKEN: events up to the anchored event seq 12 "
        f"(anchored {anchored_at.isoformat()}) are missing: the chain ends at seq 7",
        f"last anchored event: seq 12 (anchored {anchored_at.isoformat()})",
    ]


def test_cutting_and_writing_new_events_in_their_place_is_found(
    committed_app: Flask, clock: Clock
) -> None:
    """After the cut the application appends again: the chain reaches the anchored number
    with other events, so the anchored hash is what gives it away."""
    _record(committed_app, clock, 8)
    _anchor(committed_app)
    _cut_from_the_end(committed_app, 5)
    _record(committed_app, clock, 6)
    result = _cli(committed_app, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert result.output.startswith("BROKEN: event seq 8 (anchored ")
    assert "differs from its anchor" in result.output


def test_anchoring_refuses_to_bless_a_cut_chain(committed_app: Flask, clock: Clock) -> None:
    _record(committed_app, clock, 8)
    _anchor(committed_app)
    path = _anchor_file(committed_app)
    before = path.read_bytes()
    _cut_from_the_end(committed_app, 5)
    refused = _cli(committed_app, "audit", "anchor")
    assert refused.exit_code == 1
    assert "are missing" in refused.output
    assert "not anchoring" in refused.output
    assert path.read_bytes() == before


def test_emptying_the_whole_chain_is_found(committed_app: Flask, clock: Clock) -> None:
    _record(committed_app, clock, 3)
    _anchor(committed_app)
    _cut_from_the_end(committed_app, 3)
    result = _cli(committed_app, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert "the chain ends at seq 0" in result.output


# Tampering with the anchor file -------------------------------------------------------------------


def test_an_edited_anchor_line_is_found(committed_app: Flask, clock: Clock) -> None:
    _record(committed_app, clock, 8)
    _anchor(committed_app)
    path = _anchor_file(committed_app)
    # Lower the anchored number to hide a cut of the last events.
    lines = _lines(path)
    lines[0]["seq"] = 3
    _write_lines(path, lines)
    _cut_from_the_end(committed_app, 5)
    result = _cli(committed_app, "audit", "verify")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"BROKEN: {path} line 1: its signature does not verify (altered or forged)"
    )


def test_a_line_signed_with_another_key_is_found(
    committed_app: Flask, clock: Clock, tmp_path: Path
) -> None:
    _record(committed_app, clock, 2)
    _anchor(committed_app)
    path = _anchor_file(committed_app)
    other = LocalKeyStore.initialise(tmp_path / "other-keys", clock())
    line = _lines(path)[0]
    forged = {**line, "prev": line["mac"], "seq": 2}
    forged["mac"] = _sign(other.secret(SecretPurpose.AUDIT_ANCHOR), forged)
    _write_lines(path, [line, forged])
    result = _cli(committed_app, "audit", "verify")
    assert result.exit_code == 1
    assert f"{path} line 2: its signature does not verify" in result.output


def test_a_removed_anchor_line_is_found(committed_app: Flask, clock: Clock) -> None:
    path = _anchor_file(committed_app)
    for _ in range(3):
        _record(committed_app, clock, 2)
        _anchor(committed_app)
    lines = _lines(path)
    _write_lines(path, [lines[0], lines[2]])
    result = _cli(committed_app, "audit", "verify")
    assert result.exit_code == 1
    assert f"{path} line 2: does not follow line 1" in result.output
    # And the first lines gone: the file no longer starts at its first anchor.
    _write_lines(path, lines[1:])
    result = _cli(committed_app, "audit", "verify")
    assert result.exit_code == 1
    assert f"{path} line 1: is not the first anchor" in result.output


def test_anchors_that_go_backwards_are_found(committed_app: Flask, clock: Clock) -> None:
    """Even a line signed with the real key (someone who holds the key store) may not name an
    earlier head than the line before it."""
    _record(committed_app, clock, 4)
    _anchor(committed_app)
    path = _anchor_file(committed_app)
    line = _lines(path)[0]
    with committed_app.app_context():
        key = keystore().secret(SecretPurpose.AUDIT_ANCHOR)
    with app_session(committed_app) as session:
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.seq == 2)).one()
        backwards = {**line, "seq": 2, "hash": event.hash, "prev": line["mac"]}
    backwards["mac"] = _sign(key, backwards)
    _write_lines(path, [line, backwards])
    result = _cli(committed_app, "audit", "verify")
    assert result.exit_code == 1
    assert f"{path} line 2: goes backwards (seq 2 after 4)" in result.output


def test_a_damaged_line_is_found(committed_app: Flask, clock: Clock) -> None:
    _record(committed_app, clock, 2)
    _anchor(committed_app)
    path = _anchor_file(committed_app)
    with path.open("ab") as handle:
        handle.write(b'{"v":1,"seq":')  # a torn write
    result = _cli(committed_app, "audit", "verify")
    assert result.exit_code == 1
    assert f"{path} line 2: is not an anchor (damaged)" in result.output
    refused = _cli(committed_app, "audit", "anchor")
    assert refused.exit_code == 1
    assert "incomplete" in refused.output


# A missing anchor file ---------------------------------------------------------------------


def test_a_missing_anchor_file_fails_when_the_chain_holds_events(
    committed_app: Flask, clock: Clock
) -> None:
    _record(committed_app, clock, 3)
    _anchor(committed_app)
    path = _anchor_file(committed_app)
    path.unlink()
    result = _cli(committed_app, "audit", "verify")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"BROKEN: no anchor file at {path}, but the chain holds events up to seq 3: events cut "
        "off its end cannot be found (restore the file, or see docs/operations.md)"
    ]


def test_a_missing_anchor_file_with_an_empty_chain_is_reported(committed_app: Flask) -> None:
    result = _cli(committed_app, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert "is missing: the end of the chain was NOT checked" in result.output.splitlines()[1]


def test_a_restored_copy_is_checked_against_the_anchors_up_to_its_end(
    committed_app: Flask, clock: Clock
) -> None:
    """A backup is older than the anchor file: the anchors after its last event are expected,
    but every anchor up to it must still match."""
    _record(committed_app, clock, 4)
    _anchor(committed_app)
    _record(committed_app, clock, 4)
    _anchor(committed_app)
    _cut_from_the_end(committed_app, 4)  # as if this were the backup from before the events 5..8
    strict = _cli(committed_app, "audit", "verify")
    assert strict.exit_code == 1
    restored = _cli(committed_app, "audit", "verify", "--restored-copy")
    assert restored.exit_code == 0, restored.output
    assert ", 1 newer than this copy;" in restored.output
    # A copy whose anchored event was replaced still fails.
    _cut_from_the_end(committed_app, 1)
    _record(committed_app, clock, 1)
    replaced = _cli(committed_app, "audit", "verify", "--restored-copy")
    assert replaced.exit_code == 1
    assert "event seq 4 (anchored" in replaced.output


# Pruning by retention ----------------------------------------------------------------------------


def test_pruned_events_do_not_break_verification_against_older_anchors(
    committed_app: Flask, clock: Clock
) -> None:
    """Retention deletes events older than the audit period from the start of the chain, under a
    checkpoint; an anchor whose event went that way is fine. The real sweep does the pruning."""
    _record(committed_app, clock, 5)
    _anchor(committed_app)
    clock.advance(days=6 * 366)  # past the five-year audit period
    _record(committed_app, clock, 2)
    _anchor(committed_app)
    swept = _cli(committed_app, "retention", "apply")
    assert swept.exit_code == 0, swept.output
    with app_session(committed_app) as session:
        oldest = session.scalar(sa.select(sa.func.min(AuditEvent.seq)))
    assert oldest is not None
    assert oldest > 5, "the sweep pruned the first anchored event"
    result = _cli(committed_app, "audit", "verify")
    assert result.exit_code == 0, result.output
    # Two anchors of ours, and the one the sweep itself wrote after its commits, at its last event.
    assert "anchors: 3 verified" in result.output
    assert "0 events newer than the last anchor" in result.output
    # Anchoring goes on after pruning, and a later cut is still found.
    _anchor(committed_app)
    clock.advance(minutes=1)
    _cut_from_the_end(committed_app, 1)
    assert _cli(committed_app, "audit", "verify").exit_code == 1


def test_emptying_the_chain_behind_a_forged_checkpoint_is_found(
    committed_app: Flask, clock: Clock
) -> None:
    """A checkpoint past every anchor would make the anchored events look pruned; but pruning
    always leaves its own event behind, so an empty chain behind a checkpoint is an attack."""
    _record(committed_app, clock, 6)
    _anchor(committed_app)
    _cut_from_the_end(committed_app, 6)
    with app_session(committed_app) as session:
        session.add(AuditCheckpoint(through_seq=100, hash="0" * 64, created_at=clock()))
    result = _cli(committed_app, "audit", "verify")
    assert result.exit_code == 1
    assert result.output.startswith(
        "BROKEN: audit event seq=101: no events after the checkpoint (seq 100)"
    )


def test_verify_writes_nothing(committed_app: Flask, clock: Clock) -> None:
    _record(committed_app, clock, 2)
    _anchor(committed_app)
    path = _anchor_file(committed_app)
    before = path.read_bytes()
    assert _cli(committed_app, "audit", "verify").exit_code == 0
    assert path.read_bytes() == before


def test_keys_init_if_missing_adds_the_anchor_secret_to_an_older_store(
    committed_app: Flask, keystore_path: Path, clock: Clock, tmp_path: Path
) -> None:
    """A key store made before anchors existed lacks their secret: anchoring refuses (never an
    unsigned line), and the upgrade step 'keys init --if-missing' adds it."""
    (keystore_path / "secret" / "audit-anchor.key").unlink()
    engine: sa.Engine = committed_app.extensions["complaints.db"].engine
    url = engine.url.render_as_string(hide_password=False)

    def upgraded_app() -> Flask:
        # A new process, as after an upgrade: nothing of the old store is in memory.
        return create_app(make_settings(tmp_path, url, keystore_path), strict_startup=False)

    older = upgraded_app()
    refused = _cli(older, "audit", "anchor")
    assert refused.exit_code == 1
    assert "key store unavailable" in refused.output
    assert "audit-anchor.key" in refused.output
    added = _cli(older, "keys", "init", "--if-missing")
    assert added.exit_code == 0, added.output
    assert "added secrets for audit-anchor" in added.output
    older.extensions["complaints.db"].engine.dispose()
    _record(committed_app, clock, 1)
    upgraded = upgraded_app()
    _anchor(upgraded)
    assert _cli(upgraded, "audit", "verify").exit_code == 0
    upgraded.extensions["complaints.db"].engine.dispose()


def test_a_second_writer_waits_for_the_first(committed_app: Flask, clock: Clock) -> None:
    """Two anchor writers never interleave: the head is read and appended under an exclusive
    lock on the file, so the later writer reads a later head and links to the earlier line.
    Shown with a real process held at the lock, then let go."""
    _record(committed_app, clock, 2)
    _anchor(committed_app)
    path = _anchor_file(committed_app)
    with committed_app.app_context():
        settings = current_settings()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTS_")}
    environment.update(
        COMPLAINTS_ENV="testing",
        COMPLAINTS_SECRET_KEY=TEST_SECRET,
        COMPLAINTS_DATABASE_URL=settings.resolved_database_url,
        COMPLAINTS_KEYSTORE_PATH=str(settings.resolved_keystore_path),
        COMPLAINTS_INSTANCE_PATH=str(settings.instance_path),
        COMPLAINTS_LOG_FORMAT="console",
    )
    with path.open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        writer = subprocess.Popen(
            [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "audit", "anchor"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_until_blocked_on(path, writer)
            assert len(_lines(path)) == 1
            _record(committed_app, clock, 1)  # committed while the writer waits
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, out + err
    lines = _lines(path)
    assert [line["seq"] for line in lines] == [2, 3]  # the head as it was when the lock came
    assert lines[1]["prev"] == lines[0]["mac"]
    assert _cli(committed_app, "audit", "verify").exit_code == 0


def _wait_until_blocked_on(path: Path, process: subprocess.Popen[str]) -> None:
    """Until the kernel lists ``process`` as waiting for a lock on ``path`` (/proc/locks marks
    waiters with "->"), so the test does not depend on how fast the process starts."""
    inode = f":{path.stat().st_ino} "
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, "the second writer did not wait for the lock"
        for line in Path("/proc/locks").read_text().splitlines():
            if "->" in line and f" {process.pid} " in line and inode in line:
                return
        time.sleep(0.05)
    raise AssertionError("the second writer never reached the lock")
