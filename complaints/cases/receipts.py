"""Receipt codes: the complainant's only key to their report, so treated like a password.

24 characters of Crockford base32 (120 random bits) in six groups of four. Shown once, never
stored (only a keyed hash, the blind index), never put in a URL and never logged.
"""

from __future__ import annotations

import secrets

from complaints.crypto.blind_index import BlindIndexer
from complaints.crypto.keystore import SecretPurpose

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 24
GROUP = 4
# Crockford's decoding: letters that look like digits are read as those digits.
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})


def new_receipt_code() -> str:
    """A fresh code such as ``7KQ3-M9XD-…`` (120 bits from the operating system's CSPRNG)."""
    bits = secrets.randbits(LENGTH * 5)
    chars = [ALPHABET[(bits >> (5 * i)) & 31] for i in range(LENGTH)]
    return "-".join("".join(chars[i : i + GROUP]) for i in range(0, LENGTH, GROUP))


def normalise_receipt(typed: str) -> str | None:
    """The canonical form of what someone typed, forgiving case, spaces, dashes, I/L/O; or None."""
    cleaned = "".join(ch for ch in typed.upper() if ch not in " -\t\r\n").translate(_READ_AS)
    if len(cleaned) != LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def receipt_index(blind: BlindIndexer, code: str) -> bytes | None:
    """The blind index of a receipt code, or None if it cannot be a code at all."""
    canonical = normalise_receipt(code)
    if canonical is None:
        return None
    return blind.digest(SecretPurpose.RECEIPT_INDEX, canonical)
