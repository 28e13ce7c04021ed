"""Blind indexes: keyed hashes (HMAC-SHA256) for the few equality look-ups on secret values.

Each purpose has its own key from the key store, so the receipt index says nothing about the
accused index. Values are normalised first so that the same thing typed differently matches.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from complaints.crypto.keystore import KeyStore, SecretPurpose

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def normalise_name(name: str) -> str:
    """Fold case, accents, punctuation and word order: "de Vries, Jan" == "Jan de Vries"."""
    decomposed = unicodedata.normalize("NFKD", name)
    without_marks = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = _NON_WORD.sub(" ", without_marks.casefold()).split()
    return " ".join(sorted(words))


class BlindIndexer:
    """Computes blind indexes with the key store's per-purpose secrets."""

    def __init__(self, keystore: KeyStore) -> None:
        self._keystore = keystore

    def digest(self, purpose: SecretPurpose, value: str) -> bytes:
        key = self._keystore.secret(purpose)
        return hmac.new(key, value.encode("utf-8"), hashlib.sha256).digest()

    def person(self, person_id: int) -> bytes:
        """Index of a directory person named as accused."""
        return self.digest(SecretPurpose.ACCUSED_INDEX, f"person:{person_id}")

    def name(self, name: str) -> bytes:
        """Index of a name typed as free text, after normalisation."""
        return self.digest(SecretPurpose.ACCUSED_INDEX, f"name:{normalise_name(name)}")
