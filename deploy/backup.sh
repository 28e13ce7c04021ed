#!/bin/sh
# Back up the database or the key store of complaints, into BACKUP_DIR; see docs/operations.md.
#
#   backup.sh database   pg_dump -Fc of COMPLAINTS_DATABASE_URL -> complaints-<UTC time>.dump
#   backup.sh keys       tar of COMPLAINTS_KEYSTORE_PATH        -> keys-<UTC time>.tar
#
# The two go to different folders, shipped to different targets that different people can
# reach: the database alone is unreadable, the key store alone holds no case content.
# Backups older than KEEP_DAYS days are removed from BACKUP_DIR. KEEP_DAYS defaults to
# COMPLAINTS_BACKUP_RETENTION_DAYS (35), and may not be longer: 'keys maintain' destroys a
# retired key that many days after its last case key left it, so a database backup older than
# that can no longer be restored, by design (docs/operations.md, docs/keys.md).
set -eu
umask 077

what="${1:?usage: backup.sh database|keys}"
dir="${BACKUP_DIR:?set BACKUP_DIR}"
horizon="${COMPLAINTS_BACKUP_RETENTION_DAYS:-35}"
keep="${KEEP_DAYS:-$horizon}"
if [ "$keep" -gt "$horizon" ]; then
    echo "KEEP_DAYS=$keep is longer than COMPLAINTS_BACKUP_RETENTION_DAYS=$horizon:" \
        "backups that old cannot be restored (their keys are destroyed)" >&2
    exit 2
fi
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$dir"

case "$what" in
database)
    # SQLAlchemy's URL (postgresql+psycopg://...) as libpq takes it (postgresql://...).
    url="$(printf '%s' "${COMPLAINTS_DATABASE_URL:?set COMPLAINTS_DATABASE_URL}" | sed 's|^postgresql+psycopg://|postgresql://|')"
    target="$dir/complaints-$stamp.dump"
    pg_dump --format=custom --file="$target.partial" "$url"
    # A dump that pg_restore cannot list is no backup.
    pg_restore --list "$target.partial" >/dev/null
    mv "$target.partial" "$target"
    pattern='complaints-*.dump'
    ;;
keys)
    keys="${COMPLAINTS_KEYSTORE_PATH:?set COMPLAINTS_KEYSTORE_PATH}"
    target="$dir/keys-$stamp.tar"
    # The store's files are replaced atomically, never edited, so a copy is consistent unless
    # a rotation or a sweep runs at this moment: the timers keep them apart.
    tar --create --file="$target.partial" --directory="$(dirname "$keys")" "$(basename "$keys")"
    tar --list --file="$target.partial" >/dev/null
    mv "$target.partial" "$target"
    pattern='keys-*.tar'
    ;;
*)
    echo "usage: backup.sh database|keys" >&2
    exit 2
    ;;
esac

# Exactly KEEP_DAYS: in minutes, since find's -mtime rounds down to whole days (+35 would keep
# a backup for almost 36 days).
find "$dir" -maxdepth 1 -name "$pattern" -type f -mmin +"$((keep * 1440))" -delete
echo "backup written: $target"
