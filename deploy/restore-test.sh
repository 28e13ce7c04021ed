#!/bin/sh
# The regular restore test (docs/operations.md): restore a database backup and a key-store
# backup into scratch places, and prove that together they make a working service.
#
#   deploy/restore-test.sh DUMP KEYS_TAR SCRATCH_URL [ANCHORS]
#
# DUMP         a pg_dump -Fc file made by deploy/backup.sh database
# KEYS_TAR     a key-store archive made by deploy/backup.sh keys
# SCRATCH_URL  an EMPTY scratch database to restore into, as a libpq URL
#              (postgresql://complaints_restore@127.0.0.1/complaints_restore_test);
#              never the production database. Drop it afterwards.
# ANCHORS      optional: the live audit anchor file (/var/lib/complaints/audit/anchors.log),
#              read only. With it, the restored chain is checked against every anchor up to
#              the backup's last event; without it, the end of the chain is not checked (said so).
#
# The role in SCRATCH_URL (docs/operations.md, "The restore test"): a LOGIN role of its own,
# complaints_restore, that owns the scratch database (createdb --owner=complaints_restore) and
# has no right on the production database: no superuser, no CREATEDB, no membership of the
# production roles. It owns what pg_restore creates (--no-owner), so 'db upgrade' may migrate
# it. The user running the script needs read access to DUMP, KEYS_TAR and ANCHORS only.
#
# Run from the release directory (/srv/complaints). It sends no e-mail, runs no sweep, and
# writes nothing outside the scratch database and a private temporary folder, which it removes.
# Exit status 0 only if every check passed.
set -eu
umask 077

dump="${1:?usage: restore-test.sh DUMP KEYS_TAR SCRATCH_URL [ANCHORS]}"
keys_tar="${2:?usage: restore-test.sh DUMP KEYS_TAR SCRATCH_URL [ANCHORS]}"
scratch="${3:?usage: restore-test.sh DUMP KEYS_TAR SCRATCH_URL [ANCHORS]}"
anchors="${4:-}"
flask="${FLASK:-.venv/bin/flask}"
python="${PYTHON:-.venv/bin/python}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== restoring the key store into $work/keys"
tar --extract --file="$keys_tar" --directory="$work"
if [ ! -f "$work/keys/keystore.json" ]; then
    echo "restore test FAILED: $keys_tar holds no key store (keys/keystore.json)" >&2
    exit 1
fi

echo "== restoring the database into the scratch database"
pg_restore --exit-on-error --no-owner --no-privileges --dbname="$scratch" "$dump"

# Everything points at the copies; nothing reaches production or an SMTP server. The
# maintenance URL too: one loaded from /etc/complaints/maintenance.env would otherwise send
# 'db upgrade' to the production database.
COMPLAINTS_DATABASE_URL="$(printf '%s' "$scratch" | sed 's|^postgresql://|postgresql+psycopg://|')"
COMPLAINTS_MAINTENANCE_DATABASE_URL="$COMPLAINTS_DATABASE_URL"
COMPLAINTS_AUDIT_ANCHOR_PATH="${anchors:-$work/no-anchor-file-given}"
COMPLAINTS_KEYSTORE_PATH="$work/keys"
COMPLAINTS_INSTANCE_PATH="$work/instance"
COMPLAINTS_SMTP_HOST=127.0.0.1
COMPLAINTS_SMTP_PORT=9
COMPLAINTS_RATELIMIT_STORAGE_URI=memory://
export COMPLAINTS_DATABASE_URL COMPLAINTS_MAINTENANCE_DATABASE_URL COMPLAINTS_AUDIT_ANCHOR_PATH \
    COMPLAINTS_KEYSTORE_PATH COMPLAINTS_INSTANCE_PATH \
    COMPLAINTS_SMTP_HOST COMPLAINTS_SMTP_PORT COMPLAINTS_RATELIMIT_STORAGE_URI

echo "== schema"
# A backup from an older release is brought up to this release's schema, as on an upgrade.
$flask --app wsgi db upgrade

echo "== keys: every case key must be wrapped by a key the store holds"
$flask --app wsgi keys status

echo "== audit chain (and its anchors up to the backup's last event)"
# The backup is older than the anchor file: anchors after its last event are expected.
$flask --app wsgi audit verify --restored-copy

echo "== every case: unwrap its data key and decrypt its description (then discard it)"
"$python" - <<'PY'
import sys

import sqlalchemy as sa

from complaints import db
from complaints.cases.models import Case
from complaints.crypto.keystore import KekStatus, UnknownKey
from complaints.crypto.models import KeySlot, KeySlotKind
from complaints.crypto.services import case_cipher, keystore
from wsgi import app

with app.app_context():
    session = db.session()
    keys = keystore()
    destroyed = {k.key_id for k in keys.keks() if k.status is KekStatus.DESTROYED}
    rows = session.execute(
        sa.select(Case.id, Case.reference, Case.description, KeySlot.key_id).outerjoin(
            KeySlot, sa.and_(KeySlot.case_id == Case.id, KeySlot.kind == KeySlotKind.KEK)
        )
    )
    opened, shredded, failed = 0, 0, []
    for case_id, reference, description, key_id in rows:
        try:
            case_cipher(session, keys, case_id).open_text("cases", "description", case_id, description)
            opened += 1
        except UnknownKey:
            if key_id in destroyed:
                shredded += 1  # destroyed by retention after this backup was made: by design
            else:
                failed.append((reference, "UnknownKey"))
        except Exception as exc:  # noqa: BLE001 - report every failure, by kind, without content
            failed.append((reference, type(exc).__name__))
    session.rollback()
print(f"cases opened: {opened}; crypto-shredded since the backup: {shredded}; failed: {len(failed)}")
for reference, kind in failed:
    print(f"  cannot open {reference}: {kind}")
sys.exit(1 if failed else 0)
PY

echo "restore test passed"
