"""``flask --app wsgi keys init | rotate | rewrap | maintain | status``."""

from __future__ import annotations

from datetime import date, datetime

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from complaints import db, migrate
from complaints.audit.cli import anchor_after_operation
from complaints.audit.services import Actor, record_event
from complaints.clock import now
from complaints.crypto.keystore import (
    KekStatus,
    KeyStore,
    KeyStoreError,
    KeyStoreExists,
    LocalKeyStore,
)
from complaints.crypto.lifecycle import KeyLifecycle, key_lifecycle, maintain_keys
from complaints.crypto.models import KeySlot
from complaints.crypto.services import key_usage, keystore, rotate_keys
from complaints.maintenance import maintenance_role
from complaints.retention.cli import single_key_job
from complaints.settings import current_settings
from complaints.workflow.services import local_date

# What a rotation or rewrap leaves behind in the live files: slots as they were wrapped.
REWRAPPED_TABLES = (KeySlot.__tablename__,)

DEV_WARNING = """
  ******************************************************************************
  *  DEVELOPMENT KEY STORE created at {path}
  *  It lives next to the database and is NOT fit for real complaints.
  *  Production: create the key store on protected storage (or use a KMS) and
  *  back it up separately from the database. See docs/keys.md.
  ******************************************************************************
"""


group = AppGroup("keys", help="Key-encryption keys and per-purpose secrets (the key store).")


@group.command("init", help="Create the key store with a first active key.")
@click.option(
    "--dev", is_flag=True, help="Mark the store as a development store and say so loudly."
)
@click.option("--if-missing", is_flag=True, help="Do nothing if a key store already exists.")
def init_command(dev: bool, if_missing: bool) -> None:
    settings = current_settings()
    engine = db.database().engine
    if not migrate.is_current(engine):
        raise click.ClickException(
            "the database schema is not up to date; run 'flask --app wsgi db upgrade' first"
        )
    path = settings.resolved_keystore_path
    if (path / "keystore.json").exists():
        if not if_missing:
            raise click.ClickException(f"a key store already exists at {path}")
        added = LocalKeyStore(path).add_missing_secrets()
        if added:
            click.echo(
                f"key store at {path}: added secrets for {', '.join(p.value for p in added)}"
            )
        return
    with db.unit_of_work() as session:
        slots = session.scalar(sa.select(sa.func.count()).select_from(KeySlot)) or 0
    if slots:
        # Fail closed: new keys would not open existing cases, and would hide that they are lost.
        raise click.ClickException(
            f"the database holds {slots} wrapped case keys but there is no key store at {path}; "
            "restore the key store from its backup instead of creating new keys"
        )
    try:
        store = LocalKeyStore.initialise(path, now(), development=dev)
    except KeyStoreExists as exc:
        raise click.ClickException(str(exc)) from None
    # The application opened the store before it existed; let it read it now.
    with db.unit_of_work() as session:
        record_event(
            session,
            store,
            actor=Actor.operator(),
            action="keys.initialised",
            now=now(),
            object_type="kek",
            object_id=store.active_kek_id(),
        )
    if dev:
        click.echo(DEV_WARNING.format(path=path), err=True)
    click.echo(f"key store created at {path} (active key {store.active_kek_id()})")
    anchor_after_operation()


@group.command("rotate", help="Make a new key active and rewrap every case key under it.")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=None)
@maintenance_role  # VACUUM of the rewrapped tables needs their owner
def rotate_command(batch_size: int | None) -> None:
    _rotate(create_new=True, batch_size=batch_size)


@group.command(
    "rewrap", help="Finish an interrupted rotation: rewrap what is not yet under the active key."
)
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=None)
@maintenance_role  # VACUUM of the rewrapped tables needs their owner
def rewrap_command(batch_size: int | None) -> None:
    _rotate(create_new=False, batch_size=batch_size)


def _rotate(*, create_new: bool, batch_size: int | None) -> None:
    keys = keystore()
    _require(keys)
    session = db.session()
    with single_key_job():
        report = rotate_keys(
            session,
            keys,
            actor=Actor.operator(),
            now=now(),
            batch_size=batch_size or current_settings().rewrap_batch_size,
            create_new=create_new,
            commit=db.commit,
            on_progress=lambda done: click.echo(f"  rewrapped {done} key slots"),
        )
    db.compact_storage(db.database().engine, REWRAPPED_TABLES)
    if report.new_key_id:
        click.echo(f"new active key: {report.new_key_id}")
    click.echo(f"rewrapped {report.rewrapped} key slots")
    if report.retired:
        click.echo(f"retired: {', '.join(report.retired)}")
    anchor_after_operation()


@group.command(
    "maintain",
    help="The daily key lifecycle: rotate the active key when it is kek_rotation_days old, "
    "rewrap every case key, and destroy retired keys backup_retention_days after their last "
    "case key left them (and epoch keys of swept days). Safe to run again, also after an "
    "interruption. Fails, destroying nothing it names, when a key due for destruction is "
    "still in use.",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Judge the lifecycle as on this day (YYYY-MM-DD) instead of today in Amsterdam.",
)
@click.option(
    "--allow-future",
    is_flag=True,
    help="Accept an --as-of later than today. This destroys keys before their day: only for "
    "rehearsals on a copy of the data and the key store.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Key slots per transaction (default: the rewrap_batch_size setting).",
)
@maintenance_role  # VACUUM of the rewrapped tables needs their owner
def maintain_command(as_of: datetime | None, allow_future: bool, batch_size: int | None) -> None:
    keys = keystore()
    _require(keys)
    settings = current_settings()
    moment = now()
    today = local_date(moment)
    if as_of is not None and as_of.date() > today and not allow_future:
        raise click.ClickException(
            f"--as-of {as_of.date().isoformat()} is later than today ({today.isoformat()}): "
            "that would destroy keys before their day. Use 'keys status' to see the dates; add "
            "--allow-future only on a copy of the data and the key store."
        )
    judged_at = moment if as_of is None else datetime.combine(as_of.date(), moment.timetz())
    with single_key_job():
        try:
            report = maintain_keys(
                db.session(),
                keys,
                as_of=judged_at,
                now=moment,
                actor=Actor.operator(),
                rotation_days=settings.kek_rotation_days,
                backup_retention_days=settings.backup_retention_days,
                batch_size=batch_size or settings.rewrap_batch_size,
                commit=db.commit,
            )
        except BaseException:
            db.rollback()
            raise
    db.compact_storage(db.database().engine, REWRAPPED_TABLES)
    click.echo(f"as of {judged_at.date().isoformat()}: active key {keys.active_kek_id()}")
    if report.rotated_to:
        click.echo(f"rotated: new active key {report.rotated_to}")
    click.echo(f"rewrapped {report.rewrapped} key slots")
    if report.retired:
        click.echo(f"retired: {', '.join(report.retired)}")
    if report.destroyed:
        click.echo(f"destroyed: {', '.join(report.destroyed)}")
    for item in report.in_use:
        more = item.slots - len(item.case_ids)
        click.echo(
            f"NOT destroyed: {item.key_id} is due for destruction but {item.slots} key slot(s) "
            f"still use it, of cases {', '.join(item.case_ids)}"
            + (f" and {more} more" if more > 0 else ""),
            err=True,
        )
    anchor_after_operation()
    if not report.ok:
        raise click.ClickException(
            "keys due for destruction are still in use; find out why those cases were not "
            "destroyed or rewrapped (a restored backup? a sweep that did not run?)"
        )


@group.command(
    "status",
    help="List keys, their status, when each is rotated or destroyed, and how many case keys "
    "each wraps.",
)
def status_command() -> None:
    keys = keystore()
    _require(keys)
    settings = current_settings()
    today = local_date(now())
    with db.unit_of_work() as session:
        usage = key_usage(session, keys)
        lifecycle = {
            item.key_id: item
            for item in key_lifecycle(
                session,
                keys,
                as_of=today,
                rotation_days=settings.kek_rotation_days,
                backup_retention_days=settings.backup_retention_days,
            )
        }
    click.echo(f"{keys.description}")
    click.echo(f"{'key':<28} {'status':<10} {'created':<26} {'ends':<22} {'slots':>8}")
    missing = False
    for item in usage:
        status = item.status.value if item.status else "MISSING"
        missing = missing or item.status is None
        ends = _ends(lifecycle.get(item.key_id), today)
        click.echo(
            f"{item.key_id:<28} {status:<10} {item.created_at or '-':<26} {ends:<22} "
            f"{item.slots:>8}"
        )
    if missing:
        raise click.ClickException("some case keys are wrapped by a key the store does not hold")


def _ends(item: KeyLifecycle | None, today: date) -> str:
    """When the key ends, in a few words: the day it is rotated or destroyed."""
    if item is None:
        return "-"
    if item.rotates_on is not None:
        return f"rotates {item.rotates_on.isoformat()}"
    if item.destroyed_on is None:
        return "never while used"
    if item.status is KekStatus.DESTROYED:
        return f"destroyed {item.destroyed_on.isoformat()}"
    return f"destroy {max(item.destroyed_on, today).isoformat()}"


def _require(keys: KeyStore) -> None:
    try:
        keys.check()
    except KeyStoreError as exc:
        raise click.ClickException(f"key store unavailable: {exc}") from None
