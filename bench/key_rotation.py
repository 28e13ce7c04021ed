"""Benchmark KEK rotation on PostgreSQL: rewrap 100,000 key slots under a new key-encryption
key with the code behind ``flask keys rotate``; print slots per second and memory as it goes.

    .venv/bin/python bench/key_rotation.py [--slots 100000] [--batch-size N] [--json PATH]

It creates a database of its own (dropped at the end) on the loopback PostgreSQL named by
COMPLAINTS_BENCH_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres)
and a key store in a temporary directory, seeds (with COPY) one case per slot and the slot
itself holding a real data key wrapped under the first KEK, then runs ``rotate_keys`` (from
complaints/crypto/services.py) with the configured ``rewrap_batch_size`` unless told
otherwise. Afterwards it checks that no slot is left under the old KEK, that the old KEK was
retired, and that a sample of slots unwraps under the new one to the very data key seeded.
Targets: at least 10,000 slots/s, and memory that does not grow with the number of slots.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from inbox import CpuMeter, copy_rows
from report import Result, at_least, at_most, environment, figure, postgres_version, write_json
from support import bench_app, scratch_database

from complaints import db
from complaints.audit.services import Actor
from complaints.crypto.envelope import new_data_key
from complaints.crypto.keystore import KekStatus, WrappedKey
from complaints.crypto.models import KeySlot
from complaints.crypto.services import STORE_HOLDER, keystore, rotate_keys
from complaints.settings import current_settings

TARGET_RATE = 10_000.0
FLAT_MIB = 32.0  # resident memory may grow this much at most between the first and last mark
SAMPLE = 2000
SEED_CHUNK = 10_000
CASE_COLUMNS = ("id", "reference", "route", "state", "category", "grounds", "disclosure",
                "submitted_at", "updated_at", "out_of_term", "version", "description")  # fmt: skip
SLOT_COLUMNS = ("case_id", "kind", "holder", "key_id", "wrapped_key", "created_at")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=100_000)
    parser.add_argument(
        "--batch-size", type=int, default=None, help="default: the rewrap_batch_size setting"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    with scratch_database() as (url, tmp):
        run(url, tmp, args.slots, args.batch_size, args.json)


def run(url: str, tmp: Path, slots: int, batch_size: int | None, json_path: str | None) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    app = bench_app(url, tmp, now - timedelta(days=400))
    with app.app_context():
        session = db.session()
        keys = keystore()
        old_key = keys.active_kek_id()
        batch_size = batch_size or current_settings().rewrap_batch_size
        started = time.perf_counter()
        deks = seed(session, slots, now)
        print(
            f"seeded {slots:,} key slots under {old_key} in {time.perf_counter() - started:.1f} s"
        )
        versions = {"postgresql": postgres_version(session)}

        print(f"\nrotate (batches of {batch_size}):")
        print(f"{'slots':>9} {'slots/s':>9} {'rss MiB':>9}")
        marks: list[tuple[int, float]] = []
        next_mark = [10_000]
        meter = CpuMeter(app)
        started = time.perf_counter()
        cpu_started = time.process_time()
        both_started = meter.seconds()

        def progress(done: int) -> None:
            if done >= next_mark[0] or done == slots:
                next_mark[0] += 10_000
                rss = rss_mib()
                marks.append((done, rss))
                rate = done / max(time.perf_counter() - started, 1e-9)
                print(f"{done:>9,} {rate:>9,.0f} {rss:>9.1f}")

        report = rotate_keys(
            session,
            keys,
            actor=Actor.operator(),
            now=now,
            batch_size=batch_size,
            commit=db.commit,
            on_progress=progress,
        )
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        both = meter.seconds() - both_started
        meter.engine.dispose()
        rate = report.rewrapped / elapsed
        print(f"total: {report.rewrapped:,} slots in {elapsed:.1f} s = {rate:,.0f} slots/s")
        print(f"CPU time of this process: {cpu:.1f} s = {cpu / report.rewrapped * 1e6:.0f} µs/slot")
        print(
            f"... and of its PostgreSQL backend as well: {both:.1f} s = "
            f"{both / report.rewrapped * 1e6:.0f} µs/slot, {report.rewrapped / both:,.0f} slots "
            "per CPU second"
        )
        growth = marks[-1][1] - marks[0][1] if marks else 0.0
        print(f"resident memory from the first mark to the last: {growth:+.1f} MiB")

        verified = verify(session, report.new_key_id, old_key, deks, slots)
        assert report.rewrapped == slots, report
        print(f"verified: none left under {old_key} (retired), {verified} sampled slots open "
              f"under {report.new_key_id} to the data key seeded")  # fmt: skip
        session.rollback()
    app.extensions["complaints.db"].engine.dispose()

    results: list[Result] = [
        at_least("rewrap rate", rate, "slots/s", TARGET_RATE),
        figure("rewrap time", elapsed, "s"),
        figure("application CPU per slot", cpu / max(slots, 1) * 1e6, "µs"),
        figure("application + PostgreSQL CPU per slot", both / max(slots, 1) * 1e6, "µs"),
        figure("slots per CPU second (application + PostgreSQL)", slots / both, "slots/s"),
        at_most("memory growth during rewrap", growth, "MiB", FLAT_MIB),
        figure("peak RSS", max((m[1] for m in marks), default=0.0), "MiB"),
        Result("slots left under the old KEK", 0, "slots", "0", True),
        Result("sampled slots verified under the new KEK", verified, "slots", None, None),
    ]
    env = environment(
        slots=slots,
        batch_size=batch_size,
        rss_marks=[{"slots": done, "rss_mib": round(rss, 1)} for done, rss in marks],
        **versions,
    )
    write_json(json_path, "key_rotation", results, env)


def seed(session: sa.orm.Session, slots: int, now: datetime) -> dict[uuid.UUID, bytes]:
    """One minimal case per slot, each slot a real data key wrapped under the active KEK.

    Returns a sample of the data keys by case id, to check the rotation against."""
    keys = keystore()
    rng = random.Random(11)
    sample = set(rng.sample(range(slots), min(SAMPLE, slots)))
    deks: dict[uuid.UUID, bytes] = {}
    for start in range(0, slots, SEED_CHUNK):
        cases: list[tuple[Any, ...]] = []
        key_slots: list[tuple[Any, ...]] = []
        for number in range(start, min(start + SEED_CHUNK, slots)):
            case_id = uuid.uuid4()
            dek = new_data_key()
            if number in sample:
                deks[case_id] = dek
            wrapped = keys.wrap(dek, f"key_slots:{case_id}".encode())
            submitted = now - timedelta(minutes=number)
            cases.append(
                (case_id, f"R-{number:08d}", "confidant", "acknowledged", "bullying", "[]",
                 "anonymous", submitted, submitted, False, 1, secrets.token_bytes(64))
            )  # fmt: skip
            key_slots.append(
                (case_id, "kek", STORE_HOLDER, wrapped.key_id, wrapped.blob, submitted)
            )
        copy_rows(session, {"cases": (CASE_COLUMNS, cases), "key_slots": (SLOT_COLUMNS, key_slots)})
        db.commit()
    session.execute(sa.text("ANALYZE cases"))
    session.execute(sa.text("ANALYZE key_slots"))
    db.commit()
    return deks


def verify(
    session: sa.orm.Session,
    new_key: str | None,
    old_key: str,
    deks: dict[uuid.UUID, bytes],
    slots: int,
) -> int:
    """No slot under the old KEK, the old KEK retired, the sample opens under the new KEK."""
    keys = keystore()
    left = session.scalar(
        sa.select(sa.func.count()).select_from(KeySlot).where(KeySlot.key_id != new_key)
    )
    assert left == 0, f"{left} slots not under {new_key}"
    total = session.scalar(sa.select(sa.func.count()).select_from(KeySlot))
    assert total == slots, total
    status = {info.key_id: info.status for info in keys.keks()}
    assert status[old_key] is KekStatus.RETIRED, status
    assert status[new_key or ""] is KekStatus.ACTIVE, status
    rows = session.execute(
        sa.select(KeySlot.case_id, KeySlot.key_id, KeySlot.wrapped_key).where(
            KeySlot.case_id.in_(list(deks))
        )
    ).all()
    assert len(rows) == len(deks)
    for case_id, key_id, blob in rows:
        dek = keys.unwrap(WrappedKey(key_id, blob), f"key_slots:{case_id}".encode())
        assert dek == deks[case_id]
    return len(rows)


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


if __name__ == "__main__":
    main()
