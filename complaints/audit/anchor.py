"""Anchors: the audit chain's head, signed, in an append-only file outside the database.

The hash chain (:mod:`complaints.audit.services`) finds any change *inside* the chain, but not
events cut off its end: what remains is still a valid chain. So the head (sequence number and
hash) is written now and then to a file the database cannot reach, one JSON line per anchor,
HMAC-signed with a key-store secret of its own, each line naming the previous line's signature.
:func:`verify_anchors` then checks that every anchored event is still there, unchanged.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from complaints.audit.models import AuditCheckpoint, AuditEvent
from complaints.audit.services import GENESIS_HASH
from complaints.crypto.keystore import KeyStore, SecretPurpose

ANCHOR_FORMAT = 1
_FIELDS = ("v", "seq", "hash", "at", "prev")
# The last anchor is found by reading this much from the end; a line is about 250 bytes.
_TAIL_BYTES = 4096
_LOOKUP_BATCH = 1000


class AnchorError(RuntimeError):
    """The anchor file cannot be written, or the chain no longer holds what it anchored."""


@dataclass(frozen=True)
class Anchor:
    """One line of the anchor file: the chain ended at ``seq`` with ``hash`` at ``anchored_at``."""

    seq: int
    hash: str
    anchored_at: datetime
    prev: str  # the signature of the line before ("" for the first line)
    mac: str
    line: int = 0  # 1-based line number in the file, when read back

    def describe(self) -> str:
        return f"seq {self.seq} (anchored {self.anchored_at.isoformat()})"


@dataclass(frozen=True)
class AnchorReport:
    """What :func:`verify_anchors` found. ``problem`` is None when every anchor holds."""

    path: Path
    anchors: int
    last: Anchor | None
    newer_events: int
    file_missing: bool = False
    problem: str | None = None
    # Anchors later than the database's head, tolerated for a restored (older) copy.
    ahead: int = 0

    @property
    def ok(self) -> bool:
        return self.problem is None


def anchor_chain(session: Session, keys: KeyStore, path: Path, *, now: datetime) -> Anchor:
    """Append the chain's current head to the anchor file at ``path`` and return it.

    Call it after the caller's commit: an anchor must name only events that are durable. It
    refuses (AnchorError) to anchor a chain that no longer holds the last anchored event, so a
    cut-off chain is never blessed by a fresh anchor."""
    if now.tzinfo is None:
        raise ValueError("naive datetime given; use an aware UTC datetime")
    key = keys.secret(SecretPurpose.AUDIT_ANCHOR)
    with _locked_for_append(path) as fd:
        previous = _last_anchor(fd, key, path)
        head = session.execute(
            sa.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        ).first()
        seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
        if previous is not None:
            problem = _check_against_chain(session, [previous], tolerate_ahead=False)[0]
            if problem is not None:
                raise AnchorError(f"{problem}; not anchoring (run 'audit verify')")
        prev = previous.mac if previous else ""
        fields: dict[str, object] = {
            "v": ANCHOR_FORMAT,
            "seq": seq,
            "hash": head_hash,
            "at": now.isoformat(timespec="seconds"),
            "prev": prev,
        }
        mac = _sign(key, fields)
        line = json.dumps({**fields, "mac": mac}, separators=(",", ":")) + "\n"
        os.write(fd, line.encode())
        os.fsync(fd)
        if previous is None:
            _sync_directory(path.parent)  # the file itself is new: make its name durable too
    return Anchor(seq, head_hash, now.replace(microsecond=0), prev, mac)  # as the line has it


def read_anchors(path: Path, keys: KeyStore) -> list[Anchor]:
    """Every anchor in the file, each signature and link checked. Raises AnchorError on the
    first line that is damaged, forged, out of order or not linked to the line before."""
    key = keys.secret(SecretPurpose.AUDIT_ANCHOR)
    anchors: list[Anchor] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            anchor = _parse(key, raw, number, path)
            if anchors:
                before = anchors[-1]
                if anchor.prev != before.mac:
                    raise AnchorError(
                        f"{path} line {number}: does not follow line {before.line} "
                        "(a line was removed, inserted or reordered)"
                    )
                if anchor.seq < before.seq or (
                    anchor.seq == before.seq and anchor.hash != before.hash
                ):
                    raise AnchorError(
                        f"{path} line {number}: goes backwards (seq {anchor.seq} after "
                        f"{before.seq})"
                    )
            elif anchor.prev:
                raise AnchorError(f"{path} line 1: is not the first anchor (lines were removed)")
            anchors.append(anchor)
    return anchors


def verify_anchors(
    session: Session, keys: KeyStore, path: Path, *, restored_copy: bool = False
) -> AnchorReport:
    """Check the chain in the database against every anchor in ``path``.

    Fails when an anchored event is missing or differs (events cut off the end, or replaced),
    when a line is forged or out of order, or when the file is missing although the chain
    holds events. ``restored_copy``: the database is an older copy (a restored backup), so
    anchors beyond its head are expected and counted, and a missing file is only reported."""
    head = session.scalar(sa.select(sa.func.max(AuditEvent.seq))) or 0
    if not path.exists():
        problem = None
        if head and not restored_copy:
            problem = (
                f"no anchor file at {path}, but the chain holds events up to seq {head}: "
                "events cut off its end cannot be found (restore the file, or see "
                "docs/operations.md)"
            )
        return AnchorReport(path, 0, None, head, file_missing=True, problem=problem)
    try:
        anchors = read_anchors(path, keys)
    except AnchorError as exc:
        return AnchorReport(path, 0, None, 0, problem=str(exc))
    except OSError as exc:
        return AnchorReport(path, 0, None, 0, problem=f"cannot read {path}: {exc.strerror}")
    if not anchors:
        problem = None if not head or restored_copy else f"{path} holds no anchor"
        return AnchorReport(path, 0, None, head, problem=problem)
    last = anchors[-1]
    # One check per distinct head: a quiet system anchors the same head many times.
    distinct = list({anchor.seq: anchor for anchor in anchors}.values())
    problems = _check_against_chain(session, distinct, tolerate_ahead=restored_copy)
    ahead = 0
    for problem in problems:
        if problem == _AHEAD:
            ahead += 1
        elif problem is not None:
            return AnchorReport(path, len(anchors), last, 0, problem=problem)
    newer = session.scalar(
        sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.seq > last.seq)
    )
    return AnchorReport(path, len(anchors), last, newer or 0, ahead=ahead)


_AHEAD = "ahead"


def _check_against_chain(
    session: Session, anchors: Sequence[Anchor], *, tolerate_ahead: bool
) -> list[str | None]:
    """For each anchor: None if the chain holds its event unchanged (or pruned it under a
    checkpoint that agrees), else what is wrong."""
    checkpoints = dict(
        session.execute(sa.select(AuditCheckpoint.through_seq, AuditCheckpoint.hash)).all()
    )
    pruned_through = max(checkpoints, default=0)
    head = session.scalar(sa.select(sa.func.max(AuditEvent.seq))) or 0
    wanted = [anchor.seq for anchor in anchors if anchor.seq > 0]
    stored: dict[int, str] = {}
    for start in range(0, len(wanted), _LOOKUP_BATCH):
        batch = wanted[start : start + _LOOKUP_BATCH]
        stored.update(
            session.execute(
                sa.select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(batch))
            ).all()
        )
    results: list[str | None] = []
    for anchor in anchors:
        if anchor.seq == 0:
            results.append(None)  # anchored an empty chain: nothing can be missing from it
        elif anchor.seq in stored:
            same = hmac.compare_digest(stored[anchor.seq], anchor.hash)
            results.append(None if same else f"event {anchor.describe()} differs from its anchor")
        elif anchor.seq <= pruned_through and anchor.seq not in checkpoints:
            results.append(None)  # deleted by retention from the start of the chain
        elif anchor.seq in checkpoints:
            same = hmac.compare_digest(checkpoints[anchor.seq], anchor.hash)
            results.append(None if same else f"event {anchor.describe()} differs from its anchor")
        elif tolerate_ahead and anchor.seq > head:
            results.append(_AHEAD)
        else:
            results.append(
                f"events up to the anchored event {anchor.describe()} are missing: "
                f"the chain ends at seq {head}"
            )
    return results


def _sign(key: bytes, fields: dict[str, object]) -> str:
    canonical = json.dumps([fields[name] for name in _FIELDS], separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _parse(key: bytes, raw: bytes, number: int, path: Path) -> Anchor:
    where = f"{path} line {number}"
    try:
        data = json.loads(raw)
        fields = {name: data[name] for name in _FIELDS}
        mac = data["mac"]
        if set(data) != {*_FIELDS, "mac"} or fields["v"] != ANCHOR_FORMAT:
            raise ValueError
        seq, head_hash, prev = int(fields["seq"]), str(fields["hash"]), str(fields["prev"])
        at = datetime.fromisoformat(str(fields["at"]))
    except (ValueError, KeyError, TypeError):
        raise AnchorError(f"{where}: is not an anchor (damaged)") from None
    if not isinstance(mac, str) or not hmac.compare_digest(_sign(key, fields), mac):
        raise AnchorError(f"{where}: its signature does not verify (altered or forged)")
    return Anchor(seq, head_hash, at, prev, mac, number)


def _last_anchor(fd: int, key: bytes, path: Path) -> Anchor | None:
    size = os.fstat(fd).st_size
    if not size:
        return None
    start = max(0, size - _TAIL_BYTES)
    tail = os.pread(fd, size - start, start)
    if not tail.endswith(b"\n"):
        raise AnchorError(f"{path}: its last line is incomplete (damaged)")
    lines = tail.split(b"\n")[:-1]
    if start and len(lines) < 2:
        raise AnchorError(f"{path}: its last line cannot be read")
    return _parse(key, lines[-1], 0, path)


def _sync_directory(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextmanager
def _locked_for_append(path: Path) -> Iterator[int]:
    """The file opened for appending only, owner-only, and locked against a second writer, so
    two anchors are written in the order their heads were read."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)
