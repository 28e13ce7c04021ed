"""Field encryption with per-case data keys (AES-256-GCM).

Every value is ``format | nonce | ciphertext+tag``; the associated data names the table,
column and row the value belongs to, so a ciphertext copied anywhere else does not decrypt.
"""

from __future__ import annotations

import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from complaints.crypto.keystore import KEY_BYTES, NONCE_BYTES

FIELD_FORMAT = b"\x01"
TAG_BYTES = 16


class DecryptionFailed(Exception):
    """A value did not authenticate: tampered with, truncated, or moved from elsewhere."""


def new_data_key() -> bytes:
    """A fresh random 256-bit data key (DEK) for one case."""
    return os.urandom(KEY_BYTES)


def field_context(table: str, column: str, row_id: uuid.UUID | int | str) -> bytes:
    """Associated data binding a value to ``table.column:row-id``."""
    return f"{table}.{column}:{row_id}".encode()


def seal(dek: bytes, plaintext: bytes, context: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return FIELD_FORMAT + nonce + AESGCM(dek).encrypt(nonce, plaintext, FIELD_FORMAT + context)


def unseal(dek: bytes, sealed: bytes, context: bytes) -> bytes:
    if sealed[:1] != FIELD_FORMAT or len(sealed) < 1 + NONCE_BYTES + TAG_BYTES:
        raise DecryptionFailed("unknown ciphertext format")
    nonce = sealed[1 : 1 + NONCE_BYTES]
    try:
        return AESGCM(dek).decrypt(nonce, sealed[1 + NONCE_BYTES :], FIELD_FORMAT + context)
    except InvalidTag:
        raise DecryptionFailed("ciphertext failed authentication") from None


class FieldCipher:
    """Seals and opens the text fields of one record family under one data key."""

    def __init__(self, dek: bytes) -> None:
        if len(dek) != KEY_BYTES:
            raise ValueError("a data key is 32 bytes")
        self._dek = dek

    def seal_text(self, table: str, column: str, row_id: uuid.UUID | int | str, text: str) -> bytes:
        return seal(self._dek, text.encode("utf-8"), field_context(table, column, row_id))

    def seal_bytes(
        self, table: str, column: str, row_id: uuid.UUID | int | str, data: bytes
    ) -> bytes:
        return seal(self._dek, data, field_context(table, column, row_id))

    def open_bytes(
        self, table: str, column: str, row_id: uuid.UUID | int | str, sealed: bytes
    ) -> bytes:
        return unseal(self._dek, sealed, field_context(table, column, row_id))

    def open_text(
        self, table: str, column: str, row_id: uuid.UUID | int | str, sealed: bytes
    ) -> str:
        return unseal(self._dek, sealed, field_context(table, column, row_id)).decode("utf-8")
