"""Key stores: where key-encryption keys (KEKs) and per-purpose secrets live, outside the database.

A :class:`KeyStore` wraps and unwraps data keys; the KEKs themselves never leave it, so a
KMS (Vault/OpenBao transit, a PKCS#11 HSM) can stand in for the local directory provider.
Everything fails closed: a missing or unreadable store raises :class:`KeyStoreUnavailable`,
and no method ever creates a key as a side effect of reading one.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
WRAP_FORMAT = b"\x01"
WRAP_AAD_PREFIX = b"complaints:dek-wrap:v1|"
STORE_FORMAT = 1
# Epoch keys wrap the data keys of closed cases that fall due on one day ("epoch-2028-11-30";
# stores from before day keys may hold keys of a whole month, "epoch-2028-11").
EPOCH_PREFIX = "epoch-"
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class KeyStoreError(RuntimeError):
    """Base class for key store failures."""


class KeyStoreUnavailable(KeyStoreError):
    """The key store cannot be reached or read; nothing may be encrypted or decrypted."""


class KeyStoreMissing(KeyStoreUnavailable):
    """No key store has been created at this place yet (``keys init`` creates it)."""


class KeyStoreExists(KeyStoreError):
    """``init`` was asked to create a store where one already exists."""


class UnknownKey(KeyStoreError):
    """A key id that the store does not hold (destroyed, or never existed)."""


class UnwrapFailed(KeyStoreError):
    """A wrapped key did not authenticate: tampered, or moved to another case."""


class SecretPurpose(StrEnum):
    """Each keyed hash or side secret has its own key, so one leaking does not expose another."""

    RECEIPT_INDEX = "receipt-index"
    ACCUSED_INDEX = "accused-index"
    COMPLAINANT_INDEX = "complainant-index"
    AUDIT_CHAIN = "audit-chain"
    # Signs the chain's head in the anchor file outside the database (complaints/audit/anchor.py).
    AUDIT_ANCHOR = "audit-anchor"
    ACCOUNT_SECRETS = "account-secrets"


class KekStatus(StrEnum):
    ACTIVE = "active"  # wraps new data keys
    PREVIOUS = "previous"  # unwraps only; its slots are waiting to be rewrapped
    RETIRED = "retired"  # no slot uses it any more; kept to read backups until the horizon
    EPOCH = "epoch"  # wraps the cases due for destruction on one day (retention)
    DESTROYED = "destroyed"  # gone for good: what it wrapped can never be read again


@dataclass(frozen=True)
class KekInfo:
    key_id: str
    status: KekStatus
    created_at: str
    # When the last slot left the key (ISO 8601): backups made before then may still need it,
    # so a retired key is destroyed only backup_retention_days later (crypto/lifecycle.py).
    released_at: str | None = None
    destroyed_at: str | None = None


@dataclass(frozen=True)
class WrappedKey:
    key_id: str
    blob: bytes


class KeyStore(Protocol):
    """What the application needs from a key store."""

    description: str

    def check(self) -> None:
        """Raise KeyStoreUnavailable unless every key the application needs can be read."""

    def active_kek_id(self) -> str: ...

    def wrap(self, dek: bytes, context: bytes, key_id: str | None = None) -> WrappedKey:
        """Wrap ``dek`` with the active KEK (or the epoch key ``key_id``), bound to ``context``
        (e.g. the case id)."""

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes: ...

    def secret(self, purpose: SecretPurpose) -> bytes: ...

    def keks(self) -> list[KekInfo]: ...

    def readable(self, key_id: str) -> bool:
        """Whether the key can be used now: listed in the store and its material readable."""

    def create_kek(self, now: datetime) -> str:
        """Create a new KEK and make it the active one; the old active KEK becomes previous."""

    def retire_kek(self, key_id: str, now: datetime | None = None) -> None:
        """Mark a previous KEK that no slot uses as retired; ``now`` records that moment as
        the one its last slot left it."""

    def mark_released(self, key_id: str, now: datetime, *, again: bool = False) -> None:
        """Record that no slot uses the key since ``now`` (kept if already recorded, unless
        ``again``: slots came back, from a restored backup say, and left once more)."""

    def epoch_kek(self, day: date, now: datetime) -> str:
        """The epoch key of the cases to be destroyed on ``day``, created when first asked
        for. Once that key has been destroyed, a new one (a case may still fall due that day,
        a hold lifted after the day's sweep): what the destroyed key wrapped stays lost."""

    def destroy_kek(self, key_id: str, now: datetime) -> None:
        """Destroy a retired or an epoch key: its file is overwritten and removed, its status
        kept. The active and previous keys are refused: slots may still need them."""


def epoch_key_id(day: date) -> str:
    return f"{EPOCH_PREFIX}{day.isoformat()}"


def epoch_last_day(key_id: str) -> date:
    """The last day of destruction an epoch key wraps cases for: its own day, or for a key of
    a whole month (as stores made before day keys hold them) the month's last day. The sweep
    of that day destroys those cases and then the key."""
    label = key_id.removeprefix(EPOCH_PREFIX)
    if _MONTH.match(label):
        year, month = (int(part) for part in label.split("-"))
        return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return date.fromisoformat(label.partition(".")[0])


def _epoch_generations(state: dict[str, Any], day: date) -> list[str]:
    """The epoch keys of ``day`` in the store, oldest first: "epoch-2028-11-30", then
    "epoch-2028-11-30.2" if a case fell due that day after its first key was destroyed."""
    first = epoch_key_id(day)
    found: list[str] = []
    while (key_id := first if not found else f"{first}.{len(found) + 1}") in state["keks"]:
        found.append(key_id)
    return found


def _live_epoch(state: dict[str, Any], day: date) -> str | None:
    generations = _epoch_generations(state, day)
    if generations and state["keks"][generations[-1]]["status"] == KekStatus.EPOCH:
        return generations[-1]
    return None


def _next_epoch(state: dict[str, Any], day: date) -> str:
    count = len(_epoch_generations(state, day))
    return epoch_key_id(day) if not count else f"{epoch_key_id(day)}.{count + 1}"


def _wrap_aad(key_id: str, context: bytes) -> bytes:
    return WRAP_AAD_PREFIX + key_id.encode() + b"|" + context


def wrap_with(kek: bytes, key_id: str, dek: bytes, context: bytes) -> bytes:
    """AES-256-GCM wrap of a data key: ``format | nonce | ciphertext+tag``."""
    nonce = os.urandom(NONCE_BYTES)
    return WRAP_FORMAT + nonce + AESGCM(kek).encrypt(nonce, dek, _wrap_aad(key_id, context))


def unwrap_with(kek: bytes, key_id: str, blob: bytes, context: bytes) -> bytes:
    if blob[:1] != WRAP_FORMAT or len(blob) != 1 + NONCE_BYTES + KEY_BYTES + 16:
        raise UnwrapFailed("wrapped key has an unknown format")
    nonce = blob[1 : 1 + NONCE_BYTES]
    try:
        return AESGCM(kek).decrypt(nonce, blob[1 + NONCE_BYTES :], _wrap_aad(key_id, context))
    except InvalidTag:
        raise UnwrapFailed("wrapped key failed authentication") from None


class LocalKeyStore:
    """Keys as files in a directory of their own (mode 0700, files 0600).

    Layout: ``keystore.json`` (which KEK is active, the status of each), ``kek/<id>.key`` and
    ``secret/<purpose>.key`` (base64). The state file is re-read when it changes, so a rotation
    done by the CLI reaches running workers without a restart.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.description = f"local key store at {self.path}"
        self._state_file = self.path / "keystore.json"
        self._lock = threading.Lock()
        self._state: dict[str, Any] | None = None
        self._state_version: tuple[int, int, int] | None = None
        self._keys: dict[str, bytes] = {}

    # Creation ---------------------------------------------------------------------------

    @classmethod
    def initialise(cls, path: Path, now: datetime, *, development: bool = False) -> LocalKeyStore:
        """Create a new store with one active KEK and a secret per purpose."""
        path = Path(path)
        if (path / "keystore.json").exists():
            raise KeyStoreExists(f"a key store already exists at {path}")
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        for sub in ("kek", "secret"):
            (path / sub).mkdir(mode=0o700, exist_ok=True)
        if development:
            _write_private(
                path / "README.txt",
                b"DEVELOPMENT KEY STORE - created automatically by 'make run'.\n"
                b"Do not use it for real complaints. In production create the key store with\n"
                b"'flask --app wsgi keys init' on protected storage, or use a KMS, and back it\n"
                b"up separately from the database.\n",
            )
        store = cls(path)
        store._save_state({"format": STORE_FORMAT, "active": None, "keks": {}})
        store.add_missing_secrets()
        store.create_kek(now)
        return store

    def add_missing_secrets(self) -> list[SecretPurpose]:
        """Create secrets for purposes this store does not have yet (after an upgrade)."""
        added = []
        for purpose in SecretPurpose:
            target = self.path / "secret" / f"{purpose.value}.key"
            if not target.exists():
                _write_key(target, secrets.token_bytes(KEY_BYTES))
                added.append(purpose)
        return added

    # KeyStore protocol ----------------------------------------------------------------------

    def check(self) -> None:
        state = self._current_state()
        active = state.get("active")
        if not active:
            raise KeyStoreUnavailable(f"{self.description} has no active key")
        self._kek(active)
        for purpose in SecretPurpose:
            self.secret(purpose)

    def active_kek_id(self) -> str:
        active = self._current_state().get("active")
        if not active:
            raise KeyStoreUnavailable(f"{self.description} has no active key")
        return str(active)

    def wrap(self, dek: bytes, context: bytes, key_id: str | None = None) -> WrappedKey:
        if key_id is None:
            key_id = self.active_kek_id()
        else:
            info = self._current_state()["keks"].get(key_id)
            if info is None or info["status"] not in (KekStatus.ACTIVE, KekStatus.EPOCH):
                raise KeyStoreError(f"{key_id} does not wrap new keys")
        return WrappedKey(key_id, wrap_with(self._kek(key_id), key_id, dek, context))

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        return unwrap_with(self._kek(wrapped.key_id), wrapped.key_id, wrapped.blob, context)

    def secret(self, purpose: SecretPurpose) -> bytes:
        self._current_state()  # a directory without its state file is not a key store
        return self._read_key(f"secret:{purpose.value}", "secret", f"{purpose}.key")

    def keks(self) -> list[KekInfo]:
        state = self._current_state()
        return [
            KekInfo(
                key_id,
                KekStatus(info["status"]),
                info["created_at"],
                info.get("released_at"),
                info.get("destroyed_at"),
            )
            for key_id, info in sorted(state["keks"].items(), key=lambda kv: kv[1]["created_at"])
        ]

    def readable(self, key_id: str) -> bool:
        self._keys.pop(f"kek:{key_id}", None)  # ask the disk, not this process's memory
        try:
            self._kek(key_id)
        except KeyStoreError:
            return False
        return True

    def create_kek(self, now: datetime) -> str:
        with self._lock:
            state = self._current_state(locked=True)
            key_id = f"kek-{now:%Y%m%d}-{secrets.token_hex(4)}"
            _write_key(self.path / "kek" / f"{key_id}.key", secrets.token_bytes(KEY_BYTES))
            for info in state["keks"].values():
                if info["status"] == KekStatus.ACTIVE:
                    info["status"] = KekStatus.PREVIOUS.value
            state["keks"][key_id] = {
                "status": KekStatus.ACTIVE.value,
                "created_at": now.isoformat(timespec="seconds"),
            }
            state["active"] = key_id
            self._save_state(state)
            return key_id

    def retire_kek(self, key_id: str, now: datetime | None = None) -> None:
        with self._lock:
            state = self._current_state(locked=True)
            info = state["keks"].get(key_id)
            if info is None:
                raise UnknownKey(key_id)
            if state["active"] == key_id:
                raise KeyStoreError("the active key cannot be retired")
            if info["status"] == KekStatus.DESTROYED:
                raise KeyStoreError(f"{key_id} has been destroyed")
            info["status"] = KekStatus.RETIRED.value
            if now is not None:
                info.setdefault("released_at", now.isoformat(timespec="seconds"))
            self._save_state(state)

    def mark_released(self, key_id: str, now: datetime, *, again: bool = False) -> None:
        with self._lock:
            state = self._current_state(locked=True)
            info = state["keks"].get(key_id)
            if info is None:
                raise UnknownKey(key_id)
            if info["status"] not in (KekStatus.RETIRED, KekStatus.EPOCH):
                raise KeyStoreError(f"{key_id} is {info['status']}: slots may still use it")
            if "released_at" in info and not again:
                return
            info["released_at"] = now.isoformat(timespec="seconds")
            self._save_state(state)

    def epoch_kek(self, day: date, now: datetime) -> str:
        if not isinstance(day, date) or isinstance(day, datetime):
            raise ValueError(f"not a day: {day!r}")
        key_id = _live_epoch(self._current_state(), day)
        if key_id is None:
            with self._lock:
                state = self._current_state(locked=True)
                key_id = _live_epoch(state, day)
                if key_id is None:
                    key_id = _next_epoch(state, day)
                    _write_key(self.path / "kek" / f"{key_id}.key", secrets.token_bytes(KEY_BYTES))
                    state["keks"][key_id] = {
                        "status": KekStatus.EPOCH.value,
                        "created_at": now.isoformat(timespec="seconds"),
                    }
                    self._save_state(state)
        return key_id

    def destroy_kek(self, key_id: str, now: datetime) -> None:
        with self._lock:
            state = self._current_state(locked=True)
            info = state["keks"].get(key_id)
            if info is None:
                raise UnknownKey(key_id)
            if info["status"] == KekStatus.DESTROYED:
                # Killed after the state was saved and before the file went: finish that.
                _shred(self.path / "kek" / f"{key_id}.key")
                return
            if info["status"] not in (KekStatus.EPOCH, KekStatus.RETIRED):
                raise KeyStoreError(
                    "only retired and epoch keys are destroyed; rotate and retire others first"
                )
            # The state first: from this moment no process of this store uses the key, even
            # one that still has it in memory (every use checks the status).
            info["status"] = KekStatus.DESTROYED.value
            info["destroyed_at"] = now.isoformat(timespec="seconds")
            self._save_state(state)
            self._keys.pop(f"kek:{key_id}", None)
            _shred(self.path / "kek" / f"{key_id}.key")

    # Internals ------------------------------------------------------------------------------

    def _kek(self, key_id: str) -> bytes:
        info = self._current_state()["keks"].get(key_id)
        if info is None or info["status"] == KekStatus.DESTROYED:
            self._keys.pop(f"kek:{key_id}", None)
            raise UnknownKey(key_id)
        return self._read_key(f"kek:{key_id}", "kek", f"{key_id}.key")

    def _read_key(self, cache_key: str, folder: str, name: str) -> bytes:
        cached = self._keys.get(cache_key)
        if cached is not None:
            return cached
        file = self.path / folder / name  # built on a miss only: paths are slow to make
        try:
            raw = base64.b64decode(file.read_bytes().strip(), validate=True)
        except FileNotFoundError:
            raise KeyStoreUnavailable(f"{self.description} lacks {file.name}") from None
        except (OSError, ValueError) as exc:
            raise KeyStoreUnavailable(f"{self.description}: cannot read {file.name}") from exc
        if len(raw) != KEY_BYTES:
            raise KeyStoreUnavailable(f"{self.description}: {file.name} is not a 256-bit key")
        self._keys[cache_key] = raw
        return raw

    def _current_state(self, *, locked: bool = False) -> dict[str, Any]:
        state_file = self._state_file
        try:
            info = state_file.stat()
        except FileNotFoundError:
            raise KeyStoreMissing(f"{self.description} is missing") from None
        except OSError:
            raise KeyStoreUnavailable(f"{self.description} is missing or unreadable") from None
        # The file is replaced, never edited: a new inode shows a change even when the
        # file system's clock is too coarse for the mtime to differ between two writes.
        version = (info.st_ino, info.st_mtime_ns, info.st_size)
        if self._state is None or version != self._state_version:
            try:
                state = json.loads(state_file.read_text())
            except (OSError, ValueError) as exc:
                raise KeyStoreUnavailable(f"{self.description}: keystore.json unreadable") from exc
            if not isinstance(state, dict) or state.get("format") != STORE_FORMAT:
                raise KeyStoreUnavailable(f"{self.description}: unknown keystore.json format")
            self._state, self._state_version = state, version
        if locked:
            # Callers that change the state get a private copy to edit.
            copy: dict[str, Any] = json.loads(json.dumps(self._state))
            return copy
        return self._state

    def _save_state(self, state: dict[str, Any]) -> None:
        _write_private(self.path / "keystore.json", json.dumps(state, indent=2).encode())
        self._state = None


def _shred(target: Path) -> None:
    """Overwrite a key file before removing it. On copy-on-write or journalling storage the old
    blocks may survive; the key store belongs on storage that is not backed up with the
    database (docs/keys.md), which is what makes destroying a key reach the backups."""
    try:
        size = target.stat().st_size
    except FileNotFoundError:
        return
    with target.open("r+b") as handle:
        handle.write(secrets.token_bytes(max(size, KEY_BYTES)))
        handle.flush()
        os.fsync(handle.fileno())
    target.unlink()
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write_key(target: Path, key: bytes) -> None:
    _write_private(target, base64.b64encode(key) + b"\n")


def _write_private(target: Path, content: bytes) -> None:
    """Write atomically with mode 0600: a crash leaves the old file or the new, never half."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
