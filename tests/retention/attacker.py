"""The thief of the proof test: every copy of the database that ever existed, plus a key store.

It uses nothing of the application but the published formats (complaints/crypto/keystore.py
and envelope.py), and reads the key store's files directly, as someone who copied the directory
would: a key file that is still there is a key, whatever ``keystore.json`` says about it.

1. Case ids: every UUID written anywhere in the copies (32 hex digits as SQLite stores them,
   or the dashed form of dumps and audit rows), pooled over all copies.
2. Wrapped data keys: every offset of every copy that holds the wrap format byte followed by
   60 bytes that look random (a real wrap fails that filter with a probability below 1e-9),
   tried under every key file of the store with the AAD of every case id found. The GCM tag
   decides, as it does for the application.
3. Fields: every offset that holds the field format byte followed by random-looking bytes,
   decrypted with every data key recovered. The attacker does not need the associated data or
   the tag for this: AES-GCM is counter mode underneath, so the counter stream alone turns the
   ciphertext back into the text. What comes out is searched for the words the test planted.
4. Clear text: the planted words themselves, searched in every byte of every copy.

Freed pages, WAL and dead tuples are just bytes to it: nothing is parsed, everything is read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import subprocess
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from complaints.crypto.envelope import FIELD_FORMAT, TAG_BYTES
from complaints.crypto.keystore import KEY_BYTES, NONCE_BYTES, WRAP_AAD_PREFIX, WRAP_FORMAT

WRAP_BYTES = 1 + NONCE_BYTES + KEY_BYTES + TAG_BYTES
# What "looks random" means, for the 60 bytes after a wrap's format byte: at least 36 distinct
# byte values (random bytes have 53 on average; fewer than 36: probability 4e-13) and fewer
# than 8 zero bytes (8 or more: 1.2e-10). Page headers, integers and text fail at once. This is
# what keeps the search to seconds.
WRAP_MIN_DISTINCT, WRAP_MAX_ZEROS = 36, 8
# The same for the nonce and the first 16 bytes after a field's format byte: at least 18
# distinct (fewer: 1.7e-9) and fewer than 6 zeros (6 or more: 1.2e-9).
FIELD_WINDOW = NONCE_BYTES + TAG_BYTES
FIELD_MIN_DISTINCT, FIELD_MAX_ZEROS = 18, 6
# How much of a value the attacker decrypts after each candidate nonce: every planted word
# starts within the first 100 bytes of its field's text.
FIELD_READ = 128
_COUNTERS = [(2 + block).to_bytes(4, "big") for block in range(FIELD_READ // 16)]

# UUIDs as SQLite stores them (32 hex digits) and as dumps and audit rows write them (dashed).
# A neighbouring byte may happen to be a hex digit, so every id in a run of up to 40 counts.
_H = ord("h")
_SHAPE = bytes(
    _H if chr(b) in "0123456789abcdef" else b if b == ord("-") else ord(".") for b in range(256)
)
_HEX = b"h" * 32
_DASHED = b"-".join(b"h" * n for n in (8, 4, 4, 4, 12))
_UUID_RUN = 40
# bytea in a plain-text dump: \x followed by hex digits.
_BYTEA_HEX = re.compile(rb"\\\\?x((?:[0-9a-f]{2})+)")


@dataclass(frozen=True)
class Findings:
    """What the thief finds in one file, before it holds any key."""

    case_ids: frozenset[uuid.UUID]
    wraps: frozenset[bytes]  # every stretch that may be a wrapped key
    fields: frozenset[bytes]  # every stretch that may be an encrypted value: nonce and onwards


# Most files of a data directory do not change between two copies: each content is searched
# once, however many copies and attacks hold it.
_FINDINGS: dict[bytes, Findings] = {}
_HOLDS: dict[tuple[bytes, bytes], bool] = {}


@dataclass(eq=False)
class Copy:
    """The raw bytes of one file of one copy, named for the report."""

    name: str
    data: bytes

    @cached_property
    def digest(self) -> bytes:
        return hashlib.blake2b(self.data, digest_size=32).digest()

    @property
    def findings(self) -> Findings:
        found = _FINDINGS.get(self.digest)
        if found is None:
            found = _FINDINGS[self.digest] = _search(self.data)
        return found

    def holds(self, raw: bytes) -> bool:
        """Whether the bytes ``raw`` are anywhere in the copy."""
        key = (self.digest, raw)
        held = _HOLDS.get(key)
        if held is None:
            held = _HOLDS[key] = raw in self.data
        return held


def _search(data: bytes) -> Findings:
    return Findings(
        frozenset(_case_ids(data)),
        frozenset(
            data[at : at + WRAP_BYTES]
            for at in _offsets(data, WRAP_FORMAT, WRAP_BYTES - 1, WRAP_MIN_DISTINCT, WRAP_MAX_ZEROS)
        ),
        frozenset(
            data[at + 1 : at + 1 + NONCE_BYTES + FIELD_READ]
            for at in _offsets(
                data, FIELD_FORMAT, FIELD_WINDOW, FIELD_MIN_DISTINCT, FIELD_MAX_ZEROS
            )
        ),
    )


def _case_ids(data: bytes) -> Iterator[uuid.UUID]:
    """Every UUID the bytes spell out, as 32 hex digits or in the dashed form. The bytes are
    mapped to their shape first (h for a hex digit), which bytes.find searches far faster
    than a regular expression searches the bytes."""
    shape = data.translate(_SHAPE)
    at = shape.find(_DASHED)
    while at != -1:
        yield uuid.UUID(data[at : at + len(_DASHED)].decode())
        at = shape.find(_DASHED, at + 1)
    at = shape.find(_HEX)
    while at != -1:
        end = at + len(_HEX)
        while end < len(shape) and shape[end] == _H:
            end += 1
        if end - at <= _UUID_RUN:  # a longer run is a hash or bytea, not an id
            for start in range(at, end - 31):
                yield uuid.UUID(data[start : start + 32].decode())
        at = shape.find(_HEX, end)


def file_copies(label: str, root: Path) -> list[Copy]:
    """Every file under ``root`` (or ``root`` itself), byte for byte."""
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    base = root.parent if root.is_file() else root
    return [Copy(f"{label}:{path.relative_to(base)}", path.read_bytes()) for path in files]


def dump_copies(label: str, dump: Path, pg_restore: Path) -> list[Copy]:
    """A ``pg_dump -Fc`` file: its compressed bytes as they are, the plain SQL that
    ``pg_restore`` turns it into, and every bytea value of that SQL decoded from hex."""
    text = subprocess.run(
        [str(pg_restore), "-f", "-", str(dump)], capture_output=True, check=True, timeout=120
    ).stdout
    decoded = b"\0".join(binascii.unhexlify(m.group(1)) for m in _BYTEA_HEX.finditer(text))
    return [
        Copy(f"{label}:dump", dump.read_bytes()),
        Copy(f"{label}:dump-as-sql", text),
        Copy(f"{label}:dump-bytea", decoded),
    ]


def stolen_keys(store: Path) -> dict[str, bytes]:
    """Every key file of a key store directory, by the key id its name gives."""
    keys = {}
    for path in sorted((store / "kek").glob("*.key")):
        try:
            raw = base64.b64decode(path.read_bytes().strip(), validate=True)
        except (OSError, ValueError):
            continue
        if len(raw) == KEY_BYTES:
            keys[path.stem] = raw
    return keys


@dataclass(frozen=True)
class RecoveredKey:
    case_id: uuid.UUID
    key_id: str
    dek: bytes
    found_in: str


@dataclass(frozen=True)
class RecoveredText:
    case_id: uuid.UUID
    found_in: str
    words: tuple[str, ...]


@dataclass
class Loot:
    case_ids: set[uuid.UUID] = field(default_factory=set)
    wrap_candidates: int = 0
    keys: list[RecoveredKey] = field(default_factory=list)
    texts: list[RecoveredText] = field(default_factory=list)
    in_clear: list[tuple[str, str]] = field(default_factory=list)

    def keys_of(self, case_id: uuid.UUID) -> list[RecoveredKey]:
        return [k for k in self.keys if k.case_id == case_id]

    def words_read(self) -> set[str]:
        return {word for text in self.texts for word in text.words}


def _offsets(
    data: bytes, marker: bytes, window: int, min_distinct: int, max_zeros: int
) -> Iterable[int]:
    """Offsets of ``marker`` followed by ``window`` random-looking bytes."""
    at = data.find(marker)
    while at != -1:
        end = at + 1 + window
        # Random bytes hold a zero about once in 256: a stretch with many is not random, and
        # counting them is cheaper than counting distinct values.
        if (
            end <= len(data)
            and data.count(0, at + 1, end) < max_zeros
            and len(set(data[at + 1 : end])) >= min_distinct
        ):
            yield at
        at = data.find(marker, at + 1)


def _opening(
    kek: bytes, key_id: str, blobs: list[bytes], ids: list[uuid.UUID]
) -> Iterator[tuple[bytes, uuid.UUID]]:
    """The (blob, case id) pairs whose GCM tag checks out under ``kek``: every blob against
    every id, at the cost of one AES call per blob and one per id instead of one per pair.

    GHASH is linear: a wrap's tag is ``E(J0) ^ G(aad) ^ G(ciphertext) ^ c``, where the part
    from the AAD and the part from the ciphertext can each be had from the library as the tag
    of an empty message whose AAD is those blocks (zero blocks in the other's place), under one
    fixed nonce; ``c`` comes from the lengths and is learnt from one wrap made here."""
    aead = AESGCM(kek)
    fixed = bytes(NONCE_BYTES)
    ecb = Cipher(algorithms.AES(kek), modes.ECB()).encryptor()  # noqa: S305

    def aad_of(case_id: uuid.UUID) -> bytes:
        return WRAP_AAD_PREFIX + f"{key_id}|key_slots:{case_id}".encode()

    def aad_part(case_id: uuid.UUID) -> int:
        aad = aad_of(case_id)
        padded = aad + bytes(-len(aad) % 16) + bytes(KEY_BYTES)
        return int.from_bytes(aead.encrypt(fixed, b"", padded))

    def ciphertext_part(blob: bytes) -> int:
        return int.from_bytes(aead.encrypt(fixed, b"", blob[1 + NONCE_BYTES : -TAG_BYTES]))

    def j0(blob: bytes) -> bytes:
        return blob[1 : 1 + NONCE_BYTES] + b"\0\0\0\1"

    sample_id = uuid.UUID(int=0)
    sample = WRAP_FORMAT + bytes([7] * NONCE_BYTES)
    sample += aead.encrypt(sample[1:], bytes(KEY_BYTES), aad_of(sample_id))
    lengths = (
        int.from_bytes(sample[-TAG_BYTES:])
        ^ int.from_bytes(ecb.update(j0(sample)))
        ^ aad_part(sample_id)
        ^ ciphertext_part(sample)
    )
    by_part: dict[int, list[uuid.UUID]] = {}
    for case_id in ids:
        by_part.setdefault(aad_part(case_id), []).append(case_id)
    starts = ecb.update(b"".join(j0(blob) for blob in blobs))
    for index, blob in enumerate(blobs):
        start = int.from_bytes(starts[index * 16 : index * 16 + 16])
        wanted = int.from_bytes(blob[-TAG_BYTES:]) ^ start ^ ciphertext_part(blob) ^ lengths
        for case_id in by_part.get(wanted, ()):
            yield blob, case_id


def attack(copies: Sequence[Copy], keys: dict[str, bytes], words: Sequence[str]) -> Loot:
    """Everything the thief gets out of ``copies`` with ``keys``; ``words`` are what the test
    planted in the cases, searched in clear and in everything decrypted."""
    findings = [(copy, copy.findings) for copy in copies]
    loot = Loot(case_ids=set().union(*(found.case_ids for _, found in findings)))
    planted = [(word, word.encode()) for word in words]
    for copy in copies:
        for word, raw in planted:
            if copy.holds(raw):
                loot.in_clear.append((copy.name, word))

    # Wrapped keys: each distinct candidate once, under every key and every case id.
    candidates: dict[bytes, str] = {}
    for copy, found in findings:
        for blob in found.wraps:
            candidates.setdefault(blob, copy.name)
    loot.wrap_candidates = len(candidates)
    deks: dict[uuid.UUID, set[bytes]] = {}
    ordered_ids = sorted(loot.case_ids)
    for key_id, kek in keys.items():
        for blob, case_id in _opening(kek, key_id, list(candidates), ordered_ids):
            aad = WRAP_AAD_PREFIX + f"{key_id}|key_slots:{case_id}".encode()
            dek = AESGCM(kek).decrypt(blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], aad)
            loot.keys.append(RecoveredKey(case_id, key_id, dek, candidates[blob]))
            deks.setdefault(case_id, set()).add(dek)

    # Fields: the counter stream of every recovered key after every candidate nonce, for all
    # candidates at once (one AES call per key, then one XOR, then a search per word).
    values: dict[bytes, str] = {}
    for copy, found in findings:
        for value in found.fields:
            values.setdefault(value, copy.name)
    if deks and values:
        ordered = list(values)
        counters = b"".join(v[:NONCE_BYTES] + c for v in ordered for c in _COUNTERS)
        bodies = b"".join(v[NONCE_BYTES:].ljust(FIELD_READ, b"\0") for v in ordered)
        for case_id, case_deks in deks.items():
            for dek in case_deks:
                # ECB of the counter blocks is exactly GCM's counter stream.
                aes = Cipher(algorithms.AES(dek), modes.ECB())  # noqa: S305
                stream = aes.encryptor().update(counters)
                plain = (int.from_bytes(bodies) ^ int.from_bytes(stream)).to_bytes(len(bodies))
                hits: dict[int, list[str]] = {}
                for word, raw in planted:
                    at = plain.find(raw)
                    while at != -1:
                        if at % FIELD_READ + len(raw) <= FIELD_READ:
                            hits.setdefault(at // FIELD_READ, []).append(word)
                        at = plain.find(raw, at + 1)
                for index, words_found in sorted(hits.items()):
                    loot.texts.append(
                        RecoveredText(case_id, values[ordered[index]], tuple(words_found))
                    )
    return loot
