"""Every user-facing text is translatable, and Dutch (the default) has every translation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
DUTCH = ROOT / "complaints" / "translations" / "nl" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


MessageId = str | tuple[str, ...]  # a tuple: singular and plural


def _extracted(tmp_path: Path) -> list[MessageId]:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "--no-location",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    with pot.open("rb") as handle:
        return [message.id for message in read_po(handle) if message.id]


def test_every_message_has_a_dutch_translation(tmp_path: Path) -> None:
    messages = _extracted(tmp_path)
    assert len(messages) > 100
    with DUTCH.open("rb") as handle:
        catalog = read_po(handle, locale="nl")
    untranslated = []
    for msgid in messages:
        entry = catalog.get(msgid)
        forms = entry.string if entry is not None and isinstance(msgid, tuple) else None
        if entry is None or entry.fuzzy or not all(forms or [entry.string]):
            untranslated.append(msgid)
            continue
        for source, translated in zip(
            msgid if isinstance(msgid, tuple) else [msgid],
            forms or [entry.string],
            strict=False,
        ):
            # Dutch has the same two forms as English: singular and plural.
            assert set(PLACEHOLDER.findall(source)) == set(PLACEHOLDER.findall(translated)), msgid
    assert untranslated == [], "run `make extract-messages` and translate these"
    stale = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id} - {
        m if isinstance(m, str) else m[0] for m in messages
    }
    assert stale == set(), "translations for texts that no longer exist"


def test_no_obsolete_translations_linger() -> None:
    with DUTCH.open("rb") as handle:
        catalog = read_po(handle, locale="nl")
    assert not catalog.obsolete
