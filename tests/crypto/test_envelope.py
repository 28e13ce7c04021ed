"""Field encryption: AES-256-GCM values bound to ``table.column:row-id``."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from complaints.crypto.envelope import (
    FIELD_FORMAT,
    TAG_BYTES,
    DecryptionFailed,
    FieldCipher,
    field_context,
    new_data_key,
    seal,
    unseal,
)
from complaints.crypto.keystore import KEY_BYTES, NONCE_BYTES

DEK = bytes(range(32))
CASE_ID = uuid.UUID("6f1c1c56-3a52-4d53-9a8e-2b7f4f3f0c11")
OTHER_CASE_ID = uuid.UUID("0b9d7f0e-8f5e-4c1a-b3f4-7e3c7e2f5a90")
TEXT = "Mijn leidinggevende maakte een opmerking over mijn afkomst."


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(DEK)


@pytest.fixture
def sealed(cipher: FieldCipher) -> bytes:
    return cipher.seal_text("cases", "description", CASE_ID, TEXT)


def test_round_trip(cipher: FieldCipher, sealed: bytes) -> None:
    assert cipher.open_text("cases", "description", CASE_ID, sealed) == TEXT


@given(text=st.text(max_size=300))
def test_round_trip_any_text(text: str) -> None:
    cipher = FieldCipher(DEK)
    sealed = cipher.seal_text("case_parties", "name", 7, text)
    assert cipher.open_text("case_parties", "name", 7, sealed) == text


def test_layout_is_format_nonce_ciphertext_tag(sealed: bytes) -> None:
    plaintext = TEXT.encode("utf-8")
    assert sealed[:1] == FIELD_FORMAT
    assert len(sealed) == 1 + NONCE_BYTES + len(plaintext) + TAG_BYTES
    assert plaintext not in sealed


def test_context_names_table_column_and_row() -> None:
    assert field_context("cases", "description", CASE_ID) == (
        f"cases.description:{CASE_ID}".encode()
    )
    assert field_context("case_parties", "name", 12) == b"case_parties.name:12"


@pytest.mark.parametrize(
    ("table", "column", "row_id"),
    [
        pytest.param("cases", "description", OTHER_CASE_ID, id="other-row"),
        pytest.param("cases", "incident_place", CASE_ID, id="other-column"),
        pytest.param("case_parties", "description", CASE_ID, id="other-table"),
        pytest.param("cases", "description", str(CASE_ID).upper(), id="row-id-spelled-otherwise"),
    ],
)
def test_value_moved_elsewhere_does_not_open(
    cipher: FieldCipher, sealed: bytes, table: str, column: str, row_id: uuid.UUID | str
) -> None:
    with pytest.raises(DecryptionFailed):
        cipher.open_text(table, column, row_id, sealed)


def test_other_data_key_does_not_open(sealed: bytes) -> None:
    other = FieldCipher(bytes(reversed(DEK)))
    with pytest.raises(DecryptionFailed):
        other.open_text("cases", "description", CASE_ID, sealed)


def test_every_flipped_bit_is_refused(cipher: FieldCipher) -> None:
    sealed = cipher.seal_text("cases", "incident_place", CASE_ID, "kamer 4.12")
    context = field_context("cases", "incident_place", CASE_ID)
    tried = 0
    for position in range(len(sealed)):
        for bit in range(8):
            tampered = bytearray(sealed)
            tampered[position] ^= 1 << bit
            with pytest.raises(DecryptionFailed):
                unseal(DEK, bytes(tampered), context)
            tried += 1
    assert tried == 8 * len(sealed)
    assert unseal(DEK, sealed, context) == b"kamer 4.12"


@given(
    text=st.text(min_size=0, max_size=64),
    data=st.data(),
)
def test_flipped_bits_anywhere_are_refused(text: str, data: st.DataObject) -> None:
    context = field_context("cases", "complainant", CASE_ID)
    sealed = seal(DEK, text.encode("utf-8"), context)
    position = data.draw(st.integers(0, len(sealed) - 1), label="position")
    mask = data.draw(st.integers(1, 255), label="mask")
    tampered = bytearray(sealed)
    tampered[position] ^= mask
    with pytest.raises(DecryptionFailed):
        unseal(DEK, bytes(tampered), context)


def test_every_truncation_is_refused(cipher: FieldCipher, sealed: bytes) -> None:
    context = field_context("cases", "description", CASE_ID)
    for length in range(len(sealed)):
        with pytest.raises(DecryptionFailed):
            unseal(DEK, sealed[:length], context)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda s: b"\x02" + s[1:], id="unknown-format-version"),
        pytest.param(lambda s: b"\x00" + s[1:], id="format-zero"),
        pytest.param(lambda s: s[1:], id="format-byte-dropped"),
        pytest.param(lambda s: s + b"\x00", id="byte-appended"),
        pytest.param(lambda s: s[:1] + s[2:], id="byte-removed-from-nonce"),
        pytest.param(lambda s: TEXT.encode(), id="plain-text"),
        pytest.param(lambda s: b"", id="empty"),
        pytest.param(lambda s: FIELD_FORMAT + bytes(NONCE_BYTES + TAG_BYTES), id="all-zero"),
    ],
)
def test_malformed_values_are_refused(
    cipher: FieldCipher, sealed: bytes, mangle: Callable[[bytes], bytes]
) -> None:
    with pytest.raises(DecryptionFailed):
        cipher.open_text("cases", "description", CASE_ID, mangle(sealed))


def test_same_text_encrypts_differently_each_time(cipher: FieldCipher) -> None:
    values = [cipher.seal_text("cases", "description", CASE_ID, TEXT) for _ in range(20)]
    assert len(set(values)) == len(values)
    nonces = {value[1 : 1 + NONCE_BYTES] for value in values}
    assert len(nonces) == len(values)
    assert all(cipher.open_text("cases", "description", CASE_ID, v) == TEXT for v in values)


def test_data_keys_are_random_256_bit() -> None:
    keys = {new_data_key() for _ in range(20)}
    assert len(keys) == 20
    assert all(len(key) == KEY_BYTES for key in keys)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_cipher_refuses_a_key_of_the_wrong_size(length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        FieldCipher(bytes(length))
