"""Where a form may send the browser next: only to a path on this site."""

from __future__ import annotations

from urllib.parse import urlsplit


def is_safe_next(target: str | None) -> bool:
    """True for a local path such as ``/zaken?pagina=2``; false for anything that leaves the site.

    Browsers treat ``//host``, ``/\\host`` and URLs with control characters or a scheme as
    external, so those are refused outright rather than "cleaned".
    """
    if not target or len(target) > 2000 or not target.startswith("/"):
        return False
    if target.startswith(("//", "/\\")) or "\\" in target:
        return False
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str) -> str:
    return target if target is not None and is_safe_next(target) else default
