"""Every user-facing text is translatable, and Dutch (the default) has every translation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
DUTCH = ROOT / "complaints" / "translations" / "nl" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _extracted(tmp_path: Path) -> list[str]:
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
        return [str(message.id) for message in read_po(handle) if message.id]


def test_every_message_has_a_dutch_translation(tmp_path: Path) -> None:
    messages = _extracted(tmp_path)
    assert len(messages) > 100
    with DUTCH.open("rb") as handle:
        catalog = read_po(handle, locale="nl")
    untranslated = []
    for msgid in messages:
        entry = catalog.get(msgid)
        if entry is None or not entry.string or entry.fuzzy:
            untranslated.append(msgid)
            continue
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(str(entry.string))), msgid
    assert untranslated == [], "run `make extract-messages` and translate these"
    stale = {str(m.id) for m in catalog if m.id} - set(messages)
    assert stale == set(), "translations for texts that no longer exist"


def test_no_obsolete_translations_linger() -> None:
    with DUTCH.open("rb") as handle:
        catalog = read_po(handle, locale="nl")
    assert not catalog.obsolete
