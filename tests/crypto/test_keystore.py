"""The local key store: created on purpose, private on disk, and failing closed."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from complaints.crypto.keystore import (
    KEY_BYTES,
    KekStatus,
    KeyStoreError,
    KeyStoreExists,
    KeyStoreUnavailable,
    LocalKeyStore,
    SecretPurpose,
    UnknownKey,
    UnwrapFailed,
    WrappedKey,
    epoch_last_day,
)
from tests.conftest import START, Clock

DEK = bytes(range(100, 132))
CONTEXT = b"key_slots:case-1"


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def store(store_path: Path) -> LocalKeyStore:
    return LocalKeyStore.initialise(store_path, START)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every file (with its content) and directory under ``root``."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


# Creation -----------------------------------------------------------------------------------


def test_initialise_makes_private_directory_and_files(store: LocalKeyStore) -> None:
    root = store.path
    assert _mode(root) == 0o700
    directories = [p for p in root.rglob("*") if p.is_dir()]
    files = [p for p in root.rglob("*") if p.is_file()]
    assert {p.name for p in directories} == {"kek", "secret"}
    assert all(_mode(p) == 0o700 for p in directories)
    assert len(files) == 1 + 1 + len(SecretPurpose)  # state, one KEK, one secret per purpose
    assert all(_mode(p) == 0o600 for p in files), {p.name: oct(_mode(p)) for p in files}
    assert not [p for p in files if p.name.endswith(".tmp")]


def test_initialise_ignores_a_permissive_umask(store_path: Path) -> None:
    old = os.umask(0)
    try:
        store = LocalKeyStore.initialise(store_path, START)
    finally:
        os.umask(old)
    assert _mode(store.path) == 0o700
    assert all(_mode(p) == (0o700 if p.is_dir() else 0o600) for p in store.path.rglob("*"))


def test_initialise_creates_one_active_kek_and_a_secret_per_purpose(
    store: LocalKeyStore,
) -> None:
    store.check()
    (kek,) = store.keks()
    assert kek.status is KekStatus.ACTIVE
    assert kek.key_id == store.active_kek_id()
    assert kek.key_id.startswith("kek-20260302-")
    assert kek.created_at == START.isoformat(timespec="seconds")
    secrets = {purpose: store.secret(purpose) for purpose in SecretPurpose}
    assert all(len(value) == KEY_BYTES for value in secrets.values())
    assert len(set(secrets.values())) == len(SecretPurpose), "each purpose has its own key"
    assert sorted(p.name for p in (store.path / "secret").iterdir()) == sorted(
        f"{purpose.value}.key" for purpose in SecretPurpose
    )


def test_state_file_holds_no_key_material(store: LocalKeyStore) -> None:
    state = (store.path / "keystore.json").read_text()
    kek_file = store.path / "kek" / f"{store.active_kek_id()}.key"
    kek = base64.b64decode(kek_file.read_bytes())
    assert len(kek) == KEY_BYTES
    assert base64.b64encode(kek).decode() not in state
    assert kek.hex() not in state
    for purpose in SecretPurpose:
        assert base64.b64encode(store.secret(purpose)).decode() not in state


def test_two_stores_have_different_keys(tmp_path: Path) -> None:
    one = LocalKeyStore.initialise(tmp_path / "one", START)
    two = LocalKeyStore.initialise(tmp_path / "two", START)
    assert one.secret(SecretPurpose.AUDIT_CHAIN) != two.secret(SecretPurpose.AUDIT_CHAIN)
    wrapped = one.wrap(DEK, CONTEXT)
    with pytest.raises((UnknownKey, UnwrapFailed)):
        two.unwrap(wrapped, CONTEXT)


def test_development_store_says_so(store_path: Path) -> None:
    store = LocalKeyStore.initialise(store_path, START, development=True)
    readme = store.path / "README.txt"
    assert "DEVELOPMENT KEY STORE" in readme.read_text()
    assert _mode(readme) == 0o600
    store.check()


def test_initialising_twice_is_refused_and_changes_nothing(store: LocalKeyStore) -> None:
    before = _tree(store.path)
    with pytest.raises(KeyStoreExists):
        LocalKeyStore.initialise(store.path, START)
    assert _tree(store.path) == before


def test_add_missing_secrets_fills_only_the_gaps(store: LocalKeyStore) -> None:
    kept = store.secret(SecretPurpose.RECEIPT_INDEX)
    (store.path / "secret" / "audit-chain.key").unlink()
    fresh = LocalKeyStore(store.path)
    with pytest.raises(KeyStoreUnavailable):
        fresh.check()
    assert fresh.add_missing_secrets() == [SecretPurpose.AUDIT_CHAIN]
    fresh.check()
    assert fresh.secret(SecretPurpose.RECEIPT_INDEX) == kept
    assert _mode(store.path / "secret" / "audit-chain.key") == 0o600
    assert fresh.add_missing_secrets() == []


# Failing closed -----------------------------------------------------------------------------

OPERATIONS: dict[str, Callable[[LocalKeyStore], object]] = {
    "check": lambda s: s.check(),
    "active_kek_id": lambda s: s.active_kek_id(),
    "wrap": lambda s: s.wrap(DEK, CONTEXT),
    "unwrap": lambda s: s.unwrap(WrappedKey("kek-20260302-00000000", bytes(61)), CONTEXT),
    "secret": lambda s: s.secret(SecretPurpose.AUDIT_CHAIN),
    "keks": lambda s: s.keks(),
    "create_kek": lambda s: s.create_kek(START),
    "retire_kek": lambda s: s.retire_kek("kek-20260302-00000000"),
}


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS.keys())
def test_missing_store_fails_closed_and_creates_nothing(
    tmp_path: Path, operation: Callable[[LocalKeyStore], object]
) -> None:
    path = tmp_path / "nowhere" / "keys"
    store = LocalKeyStore(path)
    with pytest.raises(KeyStoreUnavailable):
        operation(store)
    assert not (tmp_path / "nowhere").exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS.keys())
def test_empty_store_directory_fails_closed_and_stays_empty(
    tmp_path: Path, operation: Callable[[LocalKeyStore], object]
) -> None:
    path = tmp_path / "keys"
    path.mkdir()
    with pytest.raises(KeyStoreUnavailable):
        operation(LocalKeyStore(path))
    assert list(path.iterdir()) == []


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS.keys())
def test_store_that_lost_its_state_file_fails_closed(
    store: LocalKeyStore, operation: Callable[[LocalKeyStore], object]
) -> None:
    (store.path / "keystore.json").unlink()
    before = _tree(store.path)
    with pytest.raises(KeyStoreUnavailable):
        operation(LocalKeyStore(store.path))
    assert _tree(store.path) == before


BAD_KEY_FILES = {
    "not-base64": b"this is not a key\n",
    "short": base64.b64encode(bytes(16)) + b"\n",
    "long": base64.b64encode(bytes(KEY_BYTES + 1)) + b"\n",
    "empty": b"",
    "binary": bytes(range(256)),
    "base64-with-junk": base64.b64encode(bytes(KEY_BYTES)) + b"!!\n",
}


@pytest.mark.parametrize("content", BAD_KEY_FILES.values(), ids=BAD_KEY_FILES.keys())
def test_corrupt_kek_file_is_refused(store: LocalKeyStore, content: bytes) -> None:
    wrapped = store.wrap(DEK, CONTEXT)
    (store.path / "kek" / f"{wrapped.key_id}.key").write_bytes(content)
    reopened = LocalKeyStore(store.path)
    with pytest.raises(KeyStoreUnavailable):
        reopened.check()
    with pytest.raises(KeyStoreUnavailable):
        reopened.unwrap(wrapped, CONTEXT)
    with pytest.raises(KeyStoreUnavailable):
        reopened.wrap(DEK, CONTEXT)


@pytest.mark.parametrize("content", BAD_KEY_FILES.values(), ids=BAD_KEY_FILES.keys())
@pytest.mark.parametrize("purpose", list(SecretPurpose))
def test_corrupt_secret_file_is_refused(
    store: LocalKeyStore, purpose: SecretPurpose, content: bytes
) -> None:
    (store.path / "secret" / f"{purpose.value}.key").write_bytes(content)
    reopened = LocalKeyStore(store.path)
    with pytest.raises(KeyStoreUnavailable):
        reopened.secret(purpose)
    with pytest.raises(KeyStoreUnavailable):
        reopened.check()


def test_missing_kek_file_is_refused(store: LocalKeyStore) -> None:
    wrapped = store.wrap(DEK, CONTEXT)
    (store.path / "kek" / f"{wrapped.key_id}.key").unlink()
    reopened = LocalKeyStore(store.path)
    with pytest.raises(KeyStoreUnavailable):
        reopened.check()
    with pytest.raises(KeyStoreUnavailable):
        reopened.unwrap(wrapped, CONTEXT)
    assert not (store.path / "kek" / f"{wrapped.key_id}.key").exists()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b"", id="empty"),
        pytest.param(json.dumps({"format": 99, "active": None, "keks": {}}).encode(), id="v99"),
        pytest.param(json.dumps({"active": None, "keks": {}}).encode(), id="no-format"),
        pytest.param(b"[]", id="a-list"),
        pytest.param(b"null", id="null"),
    ],
)
def test_corrupt_state_file_is_refused(store: LocalKeyStore, content: bytes) -> None:
    (store.path / "keystore.json").write_bytes(content)
    reopened = LocalKeyStore(store.path)
    with pytest.raises(KeyStoreUnavailable):
        reopened.check()
    with pytest.raises(KeyStoreUnavailable):
        reopened.wrap(DEK, CONTEXT)


def test_state_without_an_active_key_is_refused(store: LocalKeyStore) -> None:
    state = json.loads((store.path / "keystore.json").read_text())
    state["active"] = None
    (store.path / "keystore.json").write_text(json.dumps(state))
    reopened = LocalKeyStore(store.path)
    with pytest.raises(KeyStoreUnavailable):
        reopened.check()
    with pytest.raises(KeyStoreUnavailable):
        reopened.wrap(DEK, CONTEXT)


# Wrapping -----------------------------------------------------------------------------------


def test_wrap_and_unwrap(store: LocalKeyStore) -> None:
    wrapped = store.wrap(DEK, CONTEXT)
    assert wrapped.key_id == store.active_kek_id()
    assert DEK not in wrapped.blob
    assert store.unwrap(wrapped, CONTEXT) == DEK
    assert LocalKeyStore(store.path).unwrap(wrapped, CONTEXT) == DEK
    assert store.wrap(DEK, CONTEXT).blob != wrapped.blob, "a fresh nonce every time"


def test_unknown_kek_id_is_refused(store: LocalKeyStore) -> None:
    wrapped = store.wrap(DEK, CONTEXT)
    with pytest.raises(UnknownKey):
        store.unwrap(WrappedKey("kek-20990101-deadbeef", wrapped.blob), CONTEXT)
    with pytest.raises(UnknownKey):
        store.retire_kek("kek-20990101-deadbeef")


def test_key_file_without_state_entry_is_unknown(store: LocalKeyStore) -> None:
    """A key file dropped into the directory is not a key of the store."""
    active = store.active_kek_id()
    stray = "kek-20990101-0badf00d"
    (store.path / "kek" / f"{stray}.key").write_bytes(
        (store.path / "kek" / f"{active}.key").read_bytes()
    )
    with pytest.raises(UnknownKey):
        store.unwrap(WrappedKey(stray, store.wrap(DEK, CONTEXT).blob), CONTEXT)


def test_wrapped_key_is_bound_to_its_context(store: LocalKeyStore) -> None:
    wrapped = store.wrap(DEK, b"key_slots:case-1")
    with pytest.raises(UnwrapFailed):
        store.unwrap(wrapped, b"key_slots:case-2")
    with pytest.raises(UnwrapFailed):
        store.unwrap(wrapped, b"")


def test_wrapped_key_is_bound_to_its_kek_id(store: LocalKeyStore, clock: Clock) -> None:
    """Relabelling a blob with another KEK id fails even if the store holds that KEK."""
    old = store.wrap(DEK, CONTEXT)
    store.create_kek(clock.advance(days=1))
    new = store.wrap(DEK, CONTEXT)
    assert new.key_id != old.key_id
    with pytest.raises(UnwrapFailed):
        store.unwrap(WrappedKey(new.key_id, old.blob), CONTEXT)
    with pytest.raises(UnwrapFailed):
        store.unwrap(WrappedKey(old.key_id, new.blob), CONTEXT)


def test_every_flipped_bit_in_a_wrapped_key_is_refused(store: LocalKeyStore) -> None:
    wrapped = store.wrap(DEK, CONTEXT)
    for position in range(len(wrapped.blob)):
        for bit in range(8):
            tampered = bytearray(wrapped.blob)
            tampered[position] ^= 1 << bit
            with pytest.raises(UnwrapFailed):
                store.unwrap(WrappedKey(wrapped.key_id, bytes(tampered)), CONTEXT)


def test_truncated_or_extended_wrapped_key_is_refused(store: LocalKeyStore) -> None:
    wrapped = store.wrap(DEK, CONTEXT)
    for length in range(len(wrapped.blob)):
        with pytest.raises(UnwrapFailed):
            store.unwrap(WrappedKey(wrapped.key_id, wrapped.blob[:length]), CONTEXT)
    with pytest.raises(UnwrapFailed):
        store.unwrap(WrappedKey(wrapped.key_id, wrapped.blob + b"\x00"), CONTEXT)


# Rotation and state -------------------------------------------------------------------------


def test_new_kek_becomes_active_and_old_one_still_unwraps(
    store: LocalKeyStore, clock: Clock
) -> None:
    first = store.active_kek_id()
    old = store.wrap(DEK, CONTEXT)
    second = store.create_kek(clock.advance(days=30))
    assert second != first
    assert store.active_kek_id() == second
    assert {k.key_id: k.status for k in store.keks()} == {
        first: KekStatus.PREVIOUS,
        second: KekStatus.ACTIVE,
    }
    assert [k.key_id for k in store.keks()] == [first, second], "oldest first"
    assert store.wrap(DEK, CONTEXT).key_id == second
    assert store.unwrap(old, CONTEXT) == DEK
    assert _mode(store.path / "kek" / f"{second}.key") == 0o600
    assert _mode(store.path / "keystore.json") == 0o600


def test_retired_kek_still_reads_backups(store: LocalKeyStore, clock: Clock) -> None:
    first = store.active_kek_id()
    old = store.wrap(DEK, CONTEXT)
    store.create_kek(clock.advance(days=1))
    store.retire_kek(first)
    assert {k.key_id: k.status for k in store.keks()}[first] is KekStatus.RETIRED
    assert store.unwrap(old, CONTEXT) == DEK
    store.check()


def test_active_kek_cannot_be_retired(store: LocalKeyStore, clock: Clock) -> None:
    store.create_kek(clock.advance(days=1))
    active = store.active_kek_id()
    with pytest.raises(KeyStoreError, match="active"):
        store.retire_kek(active)
    assert store.active_kek_id() == active
    assert {k.key_id: k.status for k in LocalKeyStore(store.path).keks()}[active] is (
        KekStatus.ACTIVE
    )


def test_second_instance_sees_keys_created_by_the_first(store: LocalKeyStore, clock: Clock) -> None:
    """A worker's store picks up a rotation done by the CLI, without a restart."""
    worker = LocalKeyStore(store.path)
    worker.check()
    for round_ in range(10):
        # No pause between writes: the reload must not depend on the clock ticking.
        before = worker.active_kek_id()
        new = store.create_kek(clock.advance(days=1))
        assert worker.active_kek_id() == new, f"round {round_}: still {before}"
        wrapped = store.wrap(DEK, CONTEXT)
        assert worker.unwrap(wrapped, CONTEXT) == DEK
        assert worker.wrap(DEK, CONTEXT).key_id == new
        store.retire_kek(before)
        assert {k.key_id: k.status for k in worker.keks()}[before] is KekStatus.RETIRED


def test_reload_does_not_depend_on_a_fine_grained_clock(store: LocalKeyStore, clock: Clock) -> None:
    """On a file system whose clock ticks coarsely two writes can share one mtime."""
    state_file = store.path / "keystore.json"
    worker = LocalKeyStore(store.path)
    first = worker.active_kek_id()
    seen = state_file.stat()
    new = store.create_kek(clock.advance(days=1))
    os.utime(state_file, ns=(seen.st_atime_ns, seen.st_mtime_ns))
    assert state_file.stat().st_mtime_ns == seen.st_mtime_ns
    assert worker.active_kek_id() == new
    assert {k.key_id: k.status for k in worker.keks()}[first] is KekStatus.PREVIOUS


def test_store_removed_after_start_fails_closed_for_state(store: LocalKeyStore) -> None:
    store.check()
    (store.path / "keystore.json").unlink()
    with pytest.raises(KeyStoreUnavailable):
        store.active_kek_id()
    with pytest.raises(KeyStoreUnavailable):
        store.wrap(DEK, CONTEXT)
    assert not (store.path / "keystore.json").exists()


# Epoch keys (retention) ---------------------------------------------------------------------


def test_epoch_key_is_made_once_per_day_and_wraps_on_request(store: LocalKeyStore) -> None:
    key_id = store.epoch_kek(date(2028, 11, 30), START)
    assert key_id == "epoch-2028-11-30"
    assert store.epoch_kek(date(2028, 11, 30), START) == key_id, "asked again, the same key"
    assert store.epoch_kek(date(2028, 12, 1), START) != key_id, "each day its own"
    assert _mode(store.path / "kek" / f"{key_id}.key") == 0o600
    statuses = {info.key_id: info.status for info in store.keks()}
    assert statuses[key_id] is KekStatus.EPOCH
    assert store.active_kek_id() != key_id, "an epoch key never becomes the active key"
    wrapped = store.wrap(DEK, CONTEXT, key_id=key_id)
    assert wrapped.key_id == key_id
    assert store.unwrap(wrapped, CONTEXT) == DEK
    assert store.wrap(DEK, CONTEXT).key_id == store.active_kek_id()


@pytest.mark.parametrize("day", ["2028-11-30", "2028-11", datetime(2028, 11, 30, tzinfo=UTC)])
def test_epoch_key_day_must_be_a_date(store: LocalKeyStore, day: object) -> None:
    with pytest.raises(ValueError, match="not a day"):
        store.epoch_kek(day, START)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key_id", "last_day"),
    [
        ("epoch-2028-11-30", date(2028, 11, 30)),
        ("epoch-2028-11-30.2", date(2028, 11, 30)),
        # A key of a whole month, from a store made before day keys: its month's last day.
        ("epoch-2028-11", date(2028, 11, 30)),
        ("epoch-2028-12", date(2028, 12, 31)),
        ("epoch-2028-02", date(2028, 2, 29)),
    ],
)
def test_an_epoch_key_ends_on_its_day_or_the_last_day_of_its_month(
    key_id: str, last_day: date
) -> None:
    assert epoch_last_day(key_id) == last_day


def test_destroyed_epoch_key_is_gone_for_every_process(store: LocalKeyStore) -> None:
    key_id = store.epoch_kek(date(2028, 11, 30), START)
    wrapped = store.wrap(DEK, CONTEXT, key_id=key_id)
    other_worker = LocalKeyStore(store.path)
    assert other_worker.unwrap(wrapped, CONTEXT) == DEK  # it now has the key in memory
    store.destroy_kek(key_id, START)
    assert not (store.path / "kek" / f"{key_id}.key").exists()
    assert not any(key_id in p.name for p in store.path.rglob("*")), "no copy left behind"
    for worker in (store, other_worker, LocalKeyStore(store.path)):
        with pytest.raises(UnknownKey):
            worker.unwrap(wrapped, CONTEXT)
        with pytest.raises(KeyStoreError):
            worker.wrap(DEK, CONTEXT, key_id=key_id)
    statuses = {info.key_id: info.status for info in store.keks()}
    assert statuses[key_id] is KekStatus.DESTROYED, "the record that it existed stays"
    # A case that falls due that day after all (a hold lifted after the sweep) gets a new key;
    # what the destroyed one wrapped stays lost.
    again = store.epoch_kek(date(2028, 11, 30), START)
    assert again == "epoch-2028-11-30.2"
    assert store.epoch_kek(date(2028, 11, 30), START) == again
    with pytest.raises(UnknownKey):
        LocalKeyStore(store.path).unwrap(wrapped, CONTEXT)
    store.destroy_kek(key_id, START)  # a second time changes nothing
    store.destroy_kek(again, START)
    assert store.epoch_kek(date(2028, 11, 30), START) == "epoch-2028-11-30.3"


def test_only_retired_and_epoch_keys_are_destroyed(store: LocalKeyStore) -> None:
    first = store.active_kek_id()
    with pytest.raises(KeyStoreError, match="only retired and epoch keys"):
        store.destroy_kek(first, START)
    store.create_kek(START)
    with pytest.raises(KeyStoreError, match="only retired and epoch keys"):
        store.destroy_kek(first, START)  # previous: slots may still need it
    with pytest.raises(UnknownKey):
        store.destroy_kek("epoch-2030-01-31", START)
    assert store.unwrap(store.wrap(DEK, CONTEXT), CONTEXT) == DEK


def test_a_retired_key_records_when_it_was_released_and_is_destroyed_on_disk(
    store: LocalKeyStore, store_path: Path
) -> None:
    first = store.active_kek_id()
    wrapped = store.wrap(DEK, CONTEXT)
    store.create_kek(START)
    store.retire_kek(first, START)
    store.mark_released(first, START.replace(year=2027))  # kept: recorded already
    info = next(i for i in store.keks() if i.key_id == first)
    assert (info.status, info.released_at) == (KekStatus.RETIRED, START.isoformat())
    store.destroy_kek(first, START)
    assert not (store_path / "kek" / f"{first}.key").exists()
    with pytest.raises(UnknownKey):
        store.unwrap(wrapped, CONTEXT)
    with pytest.raises(UnknownKey):
        LocalKeyStore(store_path).unwrap(wrapped, CONTEXT)
    info = next(i for i in store.keks() if i.key_id == first)
    assert (info.status, info.destroyed_at) == (KekStatus.DESTROYED, START.isoformat())


def test_destroying_again_removes_a_file_a_killed_run_left(
    store: LocalKeyStore, store_path: Path
) -> None:
    key_id = store.epoch_kek(date(2028, 11, 30), START)
    key_file = store_path / "kek" / f"{key_id}.key"
    left = key_file.read_bytes()
    store.destroy_kek(key_id, START)
    key_file.write_bytes(left)  # as if killed after the state was saved, before the shred
    store.destroy_kek(key_id, START)
    assert not key_file.exists()


def test_a_previous_key_does_not_wrap_new_keys(store: LocalKeyStore) -> None:
    old = store.active_kek_id()
    store.create_kek(START)
    with pytest.raises(KeyStoreError, match="does not wrap"):
        store.wrap(DEK, CONTEXT, key_id=old)
