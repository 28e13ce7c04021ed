"""Benchmark the encryption cost per case: the envelope of a new case, opening it again, and
attachments of 1 MB and 5 MB; then the same work through create_case/open_case on PostgreSQL.

    .venv/bin/python bench/encryption.py [--cases 2000] [--stored 300] [--json PATH]
        [--submission-json bench/results/submission.json]

The envelope is what complaints/crypto does for every report: a new data key (DEK), wrapped
under the active KEK of the key store into a key slot, each sensitive field sealed with
AES-256-GCM under the DEK (description, period, place, desired outcome, complainant, and an
accused party's reference, name and relation), the blind indexes of the receipt code and of
the accused. Opening is the reverse: unwrap the DEK, open every field. These are timed on the
real functions without a database. Then ``create_case`` + commit and ``open_case`` (grant
check, audit event) are timed on a scratch database, which shows what share of storing a
report the cryptography is; given the submission benchmark's JSON, also its share of a whole
submission through gunicorn.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from report import Result, environment, figure, percentile, postgres_version, write_json
from support import bench_app, scratch_database

from complaints import db
from complaints.audit.services import Actor
from complaints.cases.models import Disclosure, GrantRole, PartyKind, Route
from complaints.cases.receipts import new_receipt_code, receipt_index
from complaints.cases.services import (
    NewCase,
    NewGrant,
    NewParty,
    create_case,
    open_case,
)
from complaints.crypto.blind_index import BlindIndexer
from complaints.crypto.envelope import FieldCipher, new_data_key
from complaints.crypto.keystore import KeyStore, WrappedKey
from complaints.crypto.services import indexer, keystore
from tests.factories import make_org, make_person

DESCRIPTION = (
    "Tijdens het wekelijkse werkoverleg maakte mijn leidinggevende opnieuw opmerkingen over "
    "mijn afkomst. Collega's lachten mee. Dit gebeurt sinds maart ongeveer eens per week. "
) * 12  # about 2,000 characters, a typical report
FIELDS = {
    "description": DESCRIPTION,
    "incident_period": "maart tot en met mei 2026",
    "incident_place": "vergaderzaal 4.12, gebouw De Resident",
    "desired_outcome": "Dat het stopt, en een gesprek onder begeleiding van een vertrouwens"
    "persoon.",
    "complainant": json.dumps(
        {"name": "A. Melder", "email": "a.melder@example.org", "phone": "06 12345678"}
    ),
}
PARTY = {"person_ref": "4711", "name": "Jan de Vries", "relation_to_complainant": "leidinggevende"}
MIB = 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000, help="envelopes timed in memory")
    parser.add_argument("--stored", type=int, default=300, help="cases stored and opened")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--submission-json",
        metavar="PATH",
        help="the submission benchmark's JSON, to show the share of a whole submission",
    )
    args = parser.parse_args()
    with scratch_database() as (url, tmp):
        run(url, tmp, args.cases, args.stored, args.json, args.submission_json)


def run(
    url: str,
    tmp: Path,
    cases: int,
    stored: int,
    json_path: str | None,
    submission_json: str | None,
) -> None:
    now = datetime.now(UTC)
    app = bench_app(url, tmp, now)
    results: list[Result] = []
    with app.app_context():
        keys, blind = keystore(), indexer()
        seal_times, open_times = envelopes(keys, blind, cases)
        seal_us = percentile(seal_times, 0.5) * 1e6
        open_us = percentile(open_times, 0.5) * 1e6
        print(f"{'per case, in memory':<48} {'p50 µs':>9} {'p95 µs':>9}")
        for label, times in (("create envelope (DEK, wrap, 8 fields, 2 indexes)", seal_times),
                             ("open envelope (unwrap, 8 fields)", open_times)):  # fmt: skip
            p50, p95 = (percentile(times, s) * 1e6 for s in (0.5, 0.95))
            print(f"{label:<48} {p50:>9.1f} {p95:>9.1f}")
        results += [
            figure("create envelope p50", seal_us, "µs/case"),
            figure("create envelope p95", percentile(seal_times, 0.95) * 1e6, "µs/case"),
            figure("open envelope p50", open_us, "µs/case"),
            figure("open envelope p95", percentile(open_times, 0.95) * 1e6, "µs/case"),
        ]

        print(
            f"\n{'attachment':<14} {'seal MB/s':>10} {'open MB/s':>10} "
            f"{'seal ms':>9} {'open ms':>9}"
        )
        attachment_ms: dict[int, float] = {}
        for size_mib in (1, 5):
            seal_rate, open_rate, seal_ms, open_ms = attachment(keys, size_mib)
            attachment_ms[size_mib] = seal_ms
            print(f"{f'{size_mib} MiB':<14} {seal_rate:>10,.0f} {open_rate:>10,.0f} "
                  f"{seal_ms:>9.2f} {open_ms:>9.2f}")  # fmt: skip
            results += [
                figure(f"seal {size_mib} MiB attachment", seal_rate, "MB/s"),
                figure(f"open {size_mib} MiB attachment", open_rate, "MB/s"),
            ]

        store_times, read_times = through_services(keys, blind, stored, now)
        store_ms = percentile(store_times, 0.5) * 1000
        read_ms = percentile(read_times, 0.5) * 1000
        share = seal_us / 1000 / store_ms
        versions = {"postgresql": postgres_version(db.session())}
        print(f"\n{'through the services (PostgreSQL)':<48} {'p50 ms':>9} {'p95 ms':>9}")
        for label, times in (("create_case + commit", store_times),
                             ("open_case + commit (audited)", read_times)):  # fmt: skip
            p50, p95 = (percentile(times, s) * 1000 for s in (0.5, 0.95))
            print(f"{label:<48} {p50:>9.2f} {p95:>9.2f}")
        print(f"cryptography's share of storing a report: {share:.1%}")
        results += [
            figure("create_case + commit p50", store_ms, "ms"),
            figure("open_case + commit p50", read_ms, "ms"),
            figure("crypto share of create_case", share * 100, "%"),
            figure("crypto share of open_case", open_us / 1000 / read_ms * 100, "%"),
        ]
    app.extensions["complaints.db"].engine.dispose()

    per_submission = submission_ms(submission_json)
    if per_submission:
        whole = seal_us / 1000 / per_submission
        print(
            f"share of a submission through gunicorn ({per_submission:.1f} ms of a worker's "
            f"time each): {whole:.2%}"
        )
        with_file = (seal_us / 1000 + attachment_ms[1]) / per_submission
        print(f"... with a 1 MiB attachment sealed as well: {with_file:.2%}")
        results.append(figure("crypto share of a submission", whole * 100, "%"))
    write_json(
        json_path, "encryption", results, environment(cases=cases, stored=stored, **versions)
    )


def envelopes(keys: KeyStore, blind: BlindIndexer, cases: int) -> tuple[list[float], list[float]]:
    """Seal and open ``cases`` envelopes with the real functions; the times of each."""
    sealed_cases = []
    seal_times = []
    for _ in range(cases + 50):
        started = time.perf_counter()
        case_id = uuid.uuid4()
        party_id = uuid.uuid4()
        dek = new_data_key()
        context = f"key_slots:{case_id}".encode()
        wrapped = keys.wrap(dek, context)
        cipher = FieldCipher(dek)
        fields = {c: cipher.seal_text("cases", c, case_id, v) for c, v in FIELDS.items()}
        party = {c: cipher.seal_text("case_parties", c, party_id, v) for c, v in PARTY.items()}
        receipt_index(blind, new_receipt_code())
        blind.name(PARTY["name"])
        seal_times.append(time.perf_counter() - started)
        sealed_cases.append((case_id, party_id, wrapped, context, fields, party))
    open_times = []
    for case_id, party_id, wrapped, context, fields, party in sealed_cases:
        started = time.perf_counter()
        cipher = FieldCipher(keys.unwrap(WrappedKey(wrapped.key_id, wrapped.blob), context))
        opened = {c: cipher.open_text("cases", c, case_id, v) for c, v in fields.items()}
        opened_party = {
            c: cipher.open_text("case_parties", c, party_id, v) for c, v in party.items()
        }
        open_times.append(time.perf_counter() - started)
        assert opened == FIELDS
        assert opened_party == PARTY
    return seal_times[50:], open_times[50:]  # the first ones warm the caches


def attachment(keys: KeyStore, size_mib: int) -> tuple[float, float, float, float]:
    """Seal and open one attachment of ``size_mib`` MiB repeatedly: MB/s both ways, and ms."""
    body = bytes(size_mib * MIB)
    cipher = FieldCipher(new_data_key())
    attachment_id = uuid.uuid4()
    rounds = max(5, 60 // size_mib)
    seal_times, open_times = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        sealed = cipher.seal_bytes("attachments", "body", attachment_id, body)
        seal_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        opened = cipher.open_bytes("attachments", "body", attachment_id, sealed)
        open_times.append(time.perf_counter() - started)
        assert len(opened) == len(body)
    seal_s, open_s = percentile(seal_times, 0.5), percentile(open_times, 0.5)
    megabytes = len(body) / 1e6
    return megabytes / seal_s, megabytes / open_s, seal_s * 1000, open_s * 1000


def through_services(
    keys: KeyStore, blind: BlindIndexer, stored: int, now: datetime
) -> tuple[list[float], list[float]]:
    """create_case + commit, and open_case + commit, on PostgreSQL: the times of each."""
    session = db.session()
    org = make_org(session, now)
    handler = make_person(session, org.directorate, now)
    handler_id = handler.id
    db.commit()
    draft = NewCase(
        route=Route.CONFIDANT,
        category="discrimination",
        grounds=("race",),
        disclosure=Disclosure.CONFIDENTIAL,
        description=FIELDS["description"],
        incident_period=FIELDS["incident_period"],
        incident_place=FIELDS["incident_place"],
        desired_outcome=FIELDS["desired_outcome"],
        complainant={"name": "A. Melder", "email": "a.melder@example.org"},
        parties=(
            NewParty(PartyKind.ACCUSED, name=PARTY["name"], relation_to_complainant="collega"),
        ),
    )
    case_ids = []
    store_times = []
    for _ in range(stored + 10):
        started = time.perf_counter()
        case = create_case(
            session,
            keys,
            blind,
            draft,
            grants=[NewGrant(handler_id, GrantRole.CONFIDANT)],
            now=now,
            receipt_index=receipt_index(blind, new_receipt_code()),
        )
        case_ids.append(case.id)
        db.commit()
        store_times.append(time.perf_counter() - started)
    read_times = []
    for case_id in case_ids:
        started = time.perf_counter()
        content = open_case(
            session,
            keys,
            blind,
            case_id=case_id,
            reader_person_id=handler_id,
            actor=Actor.operator(),
            now=now,
        )
        db.commit()
        read_times.append(time.perf_counter() - started)
        assert content.description == FIELDS["description"]
    return store_times[10:], read_times[10:]


def submission_ms(path: str | None) -> float | None:
    """What one submission costs the server (ms), from the submission benchmark's JSON: the
    busy time per submit step (workers / submit steps per second), which leaves out the time
    requests wait in the queue; failing that, the submit step's p50 latency."""
    if not path or not Path(path).exists():
        return None
    document: dict[str, Any] = json.loads(Path(path).read_text())
    workers = document.get("environment", {}).get("workers")
    found: dict[str, float] = {}
    for result in document.get("results", []):
        metric = str(result.get("metric", "")).lower()
        if not metric.startswith("submit step"):
            continue
        if result.get("unit") == "req/s" and metric.startswith("submit step rate ("):
            found["rate"] = float(result["value"])
        elif "p50" in metric and result.get("unit") == "ms":
            found["p50"] = float(result["value"])
    if workers and found.get("rate"):
        return float(workers) * 1000 / found["rate"]
    return found.get("p50")


if __name__ == "__main__":
    main()
