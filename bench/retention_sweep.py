"""Benchmark the retention sweep on PostgreSQL: place 100,000 finished cases under their epoch
key, then destroy them all; print cases per second and memory per 10,000 cases.

    .venv/bin/python bench/retention_sweep.py [--cases 100000] [--batch-size 500] [--tracemalloc]
        [--json PATH]

It creates a database of its own (dropped at the end) on the loopback PostgreSQL named by
COMPLAINTS_BENCH_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres)
and a key store in a temporary directory. Rows are bulk-inserted and realistic in shape: per
case a key slot (a real data key, wrapped), two events, a deadline, a message and a grant.
Target: at least 2,000 cases/s, and memory that stays flat as the cases go by.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import time
import tracemalloc
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from report import at_least, at_most, environment, figure, postgres_version, write_json
from support import bench_app, scratch_database

from complaints import db
from complaints.audit.services import Actor
from complaints.cases.models import (
    AuthorKind,
    Case,
    CaseAccessGrant,
    CaseEvent,
    Deadline,
    Disclosure,
    GrantRole,
    Message,
    Route,
)
from complaints.clock import set_clock
from complaints.crypto.envelope import new_data_key
from complaints.crypto.keystore import KeyStore
from complaints.crypto.models import KeySlot, KeySlotKind
from complaints.crypto.services import STORE_HOLDER, keystore
from complaints.directory.models import OrgUnit, OrgUnitKind, Person
from complaints.retention.policy import retention_policy
from complaints.retention.sweep import SweepReport, apply
from complaints.workflow.config import workflow

TARGET_RATE = 2000.0
FLAT_MIB = 32.0  # resident memory may grow this much at most between the first and last mark
CLOSED = datetime(2026, 3, 2, 10, tzinfo=UTC)  # confidant: due 2028-03-02..2028-03-29
SEED_CHUNK = 5000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace Python allocations (slower)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    with scratch_database() as (url, tmp):
        run(url, tmp, args.cases, args.batch_size, args.tracemalloc, args.json)


def run(
    url: str, tmp: Path, cases: int, batch_size: int, trace: bool, json_path: str | None = None
) -> None:
    app = bench_app(url, tmp, CLOSED)
    clock_now = [datetime(2026, 4, 1, 9, tzinfo=UTC)]
    set_clock(app, lambda: clock_now[0])
    with app.app_context():
        started = time.perf_counter()
        seed(db.session(), cases)
        db.commit()
        print(f"seeded {cases:,} finished cases in {time.perf_counter() - started:.1f} s")

        # 1. The sweep after closing: every case's key goes under its day's epoch key.
        report, rewrap = sweep(date(2026, 4, 1), batch_size, trace, "rewrap into epoch keys")
        assert report.rewrapped == cases, report
        # 2. Two years on, past the month they fell due: destroy them all, then the key.
        clock_now[0] = datetime(2028, 4, 1, 9, tzinfo=UTC)
        report, destroy = sweep(date(2028, 4, 1), batch_size, trace, "destroy")
        assert report.cases_destroyed == cases, report
        assert report.epoch_keys_destroyed == ["epoch-2028-03"], report
        left = db.session().scalar(sa.select(sa.func.count()).select_from(Case))
        assert left == 0, left
        versions = {"postgresql": postgres_version(db.session())}
    app.extensions["complaints.db"].engine.dispose()
    results = [
        at_least("destroy rate", destroy.rate, "cases/s", TARGET_RATE),
        figure("rewrap into epoch keys rate", rewrap.rate, "cases/s"),
        at_most("memory growth while destroying", destroy.growth, "MiB", FLAT_MIB),
        figure("memory growth while rewrapping", rewrap.growth, "MiB"),
        figure("peak RSS", destroy.peak, "MiB"),
    ]
    env = environment(
        cases=cases,
        batch_size=batch_size,
        rss_marks=[{"cases": done, "rss_mib": round(rss, 1)} for done, rss in destroy.marks],
        **versions,
    )
    write_json(json_path, "retention_sweep", results, env)


@dataclass
class SweepFigures:
    rate: float  # cases per second
    marks: list[tuple[int, float]]  # (cases done, resident MiB) every 10,000 cases
    peak: float  # peak resident MiB of the process

    @property
    def growth(self) -> float:
        """Resident memory gained from the first mark to the last."""
        return self.marks[-1][1] - self.marks[0][1] if self.marks else 0.0


def sweep(
    as_of: date, batch_size: int, trace: bool, label: str
) -> tuple[SweepReport, SweepFigures]:
    print(f"\n{label} (as of {as_of}, batches of {batch_size}):")
    print(f"{'cases':>9} {'cases/s':>9} {'rss MiB':>9} {'traced MiB':>11} {'peak MiB':>9}")
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    next_mark = [10_000]
    marks: list[tuple[int, float]] = []

    def progress(report: SweepReport) -> None:
        done = report.cases_destroyed or report.rewrapped
        if done >= next_mark[0]:
            next_mark[0] += 10_000
            marks.append((done, print_line(done, started, trace)))

    report = apply(
        db.session(),
        retention_policy(),
        workflow(),
        keystore(),
        as_of=as_of,
        now=datetime.now(UTC),
        actor=Actor.operator(),
        batch_size=batch_size,
        commit=db.commit,
        on_batch=progress,
    )
    elapsed = time.perf_counter() - started
    done = report.cases_destroyed or report.rewrapped
    marks.append((done, print_line(done, started, trace)))
    print(f"total: {done:,} cases in {elapsed:.1f} s = {done / elapsed:,.0f} cases/s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the process: {peak:.0f} MiB")
    if trace:
        tracemalloc.stop()
    return report, SweepFigures(done / elapsed, marks, peak)


def print_line(done: int, started: float, trace: bool) -> float:
    """Print the rate and memory so far; returns the resident memory (MiB)."""
    rate = done / max(time.perf_counter() - started, 1e-9)
    rss = _rss_mib()
    if trace:
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        traced = f"{current / 2**20:>11.1f} {peak / 2**20:>9.1f}"
    else:
        traced = f"{'-':>11} {'-':>9}"
    print(f"{done:>9,} {rate:>9,.0f} {rss:>9.1f} {traced}")
    return rss


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def seed(session: sa.orm.Session, cases: int) -> None:
    keys = keystore()
    unit = OrgUnit(
        code="BENCH", name="Bench", kind=OrgUnitKind.MINISTRY, active=True, updated_at=CLOSED
    )
    session.add(unit)
    session.flush()
    person = Person(
        employee_number="bench",
        name="Bench handler",
        email="bench@example.org",
        unit_id=unit.id,
        active=True,
        updated_at=CLOSED,
    )
    session.add(person)
    session.flush()
    for start in range(0, cases, SEED_CHUNK):
        rows: dict[type, list[dict[str, object]]] = {
            model: [] for model in (Case, KeySlot, CaseEvent, Deadline, Message, CaseAccessGrant)
        }
        for number in range(start, min(start + SEED_CHUNK, cases)):
            _seed_case(rows, keys, number, person.id)
        for model, values in rows.items():
            session.execute(sa.insert(model), values)
        session.commit()


def _seed_case(
    rows: dict[type, list[dict[str, object]]],
    keys: KeyStore,
    number: int,
    person_id: int,
) -> None:
    case_id = uuid.uuid4()
    closed = CLOSED + timedelta(days=number % 28, seconds=number)
    wrapped = keys.wrap(new_data_key(), f"key_slots:{case_id}".encode())
    rows[Case].append(
        {
            "id": case_id,
            "reference": f"2026-{number:04X}-{secrets.token_hex(2).upper()}"[:24],
            "route": Route.CONFIDANT,
            "state": "closed",
            "category": "discrimination",
            "grounds": ["race"],
            "disclosure": Disclosure.CONFIDENTIAL,
            "submitted_at": closed - timedelta(days=30),
            "updated_at": closed,
            "closed_at": closed,
            "receipt_index": secrets.token_bytes(32),
            "description": secrets.token_bytes(400),
            "incident_period": secrets.token_bytes(40),
            "incident_place": secrets.token_bytes(40),
            "desired_outcome": secrets.token_bytes(80),
            "complainant": secrets.token_bytes(120),
            "version": 1,
        }
    )
    rows[KeySlot].append(
        {
            "case_id": case_id,
            "kind": KeySlotKind.KEK,
            "holder": STORE_HOLDER,
            "key_id": wrapped.key_id,
            "wrapped_key": wrapped.blob,
            "created_at": closed,
        }
    )
    for kind, to_state, moment in (
        ("submitted", "submitted", closed - timedelta(days=30)),
        ("state_changed", "closed", closed),
    ):
        rows[CaseEvent].append(
            {
                "id": uuid.uuid4(),
                "case_id": case_id,
                "occurred_at": moment,
                "kind": kind,
                "to_state": to_state,
                "remark": secrets.token_bytes(60),
            }
        )
    rows[Deadline].append(
        {
            "case_id": case_id,
            "name": "acknowledge",
            "started_at": closed - timedelta(days=30),
            "due_on": (closed - timedelta(days=25)).date(),
            "met_at": closed - timedelta(days=29),
        }
    )
    rows[Message].append(
        {
            "id": uuid.uuid4(),
            "case_id": case_id,
            "author_kind": AuthorKind.HANDLER,
            "body": secrets.token_bytes(300),
            "created_at": closed - timedelta(days=10),
        }
    )
    rows[CaseAccessGrant].append(
        {
            "case_id": case_id,
            "person_id": person_id,
            "role": GrantRole.CONFIDANT,
            "granted_at": closed - timedelta(days=30),
        }
    )


if __name__ == "__main__":
    main()
