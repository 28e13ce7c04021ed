"""``flask --app wsgi keys init | rotate | rewrap | status``."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from complaints import db, migrate
from complaints.audit.services import Actor, record_event
from complaints.clock import now
from complaints.crypto.keystore import KeyStore, KeyStoreError, KeyStoreExists, LocalKeyStore
from complaints.crypto.models import KeySlot
from complaints.crypto.services import key_usage, keystore, rotate_keys
from complaints.settings import current_settings

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


@group.command("rotate", help="Make a new key active and rewrap every case key under it.")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=None)
def rotate_command(batch_size: int | None) -> None:
    _rotate(create_new=True, batch_size=batch_size)


@group.command(
    "rewrap", help="Finish an interrupted rotation: rewrap what is not yet under the active key."
)
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=None)
def rewrap_command(batch_size: int | None) -> None:
    _rotate(create_new=False, batch_size=batch_size)


def _rotate(*, create_new: bool, batch_size: int | None) -> None:
    keys = keystore()
    _require(keys)
    session = db.session()
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
    if report.new_key_id:
        click.echo(f"new active key: {report.new_key_id}")
    click.echo(f"rewrapped {report.rewrapped} key slots")
    if report.retired:
        click.echo(f"retired: {', '.join(report.retired)}")


@group.command("status", help="List keys, their status, and how many case keys each wraps.")
def status_command() -> None:
    keys = keystore()
    _require(keys)
    with db.unit_of_work() as session:
        usage = key_usage(session, keys)
    click.echo(f"{keys.description}")
    click.echo(f"{'key':<28} {'status':<10} {'created':<26} {'slots':>8}")
    missing = False
    for item in usage:
        status = item.status.value if item.status else "MISSING"
        missing = missing or item.status is None
        click.echo(f"{item.key_id:<28} {status:<10} {item.created_at or '-':<26} {item.slots:>8}")
    if missing:
        raise click.ClickException("some case keys are wrapped by a key the store does not hold")


def _require(keys: KeyStore) -> None:
    try:
        keys.check()
    except KeyStoreError as exc:
        raise click.ClickException(f"key store unavailable: {exc}") from None
