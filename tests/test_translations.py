"""Every user-facing text is translatable, and Dutch (the default) has every translation."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

from babel.messages.pofile import read_po

from tests import test_authorization as matrix
from tests.pages import Page, Shown, shown, template_changed  # noqa: F401  (shown: a fixture)
from tests.test_authorization import world  # noqa: F401  (the matrix's world, as a fixture)

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


# No English on a Dutch page -------------------------------------------------------------------
# The main pages (tests/pages.py: the report form, the mailbox, the inbox, a case of every
# route, the committee's page, the account page and more), read in Dutch, are searched for
# words that only the English texts use: the words of every English message and of every
# English label in the configuration files, less every word the Dutch translations and Dutch
# labels use. A raw value ("colleague"), a text left out of the catalogue or an English label
# then shows up, whatever page it is on.

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
CONFIG = ROOT / "config"
# On a Dutch page on purpose: the language switch names English in English.
ENGLISH_ON_PURPOSE = frozenset({"english"})


def _words(texts: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for text in texts:
        found |= set(WORD.findall(PLACEHOLDER.sub(" ", text).lower()))
    return found


def _config_labels(language: str) -> list[str]:
    """Every label in ``language`` in the configuration files (keys ``en``, ``hint_en`` …)."""
    labels: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and (key == language or key.endswith(f"_{language}")):
                    labels.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in sorted(CONFIG.glob("*.toml")):
        walk(tomllib.loads(path.read_text(encoding="utf-8")))
    return labels


def english_only_words() -> set[str]:
    with DUTCH.open("rb") as handle:
        catalog = read_po(handle, locale="nl")

    def texts(field: str) -> Iterator[str]:
        for message in catalog:
            if not message.id:
                continue
            value = getattr(message, field)
            yield from (value if isinstance(value, tuple) else [value])

    english = _words(texts("id")) | _words(_config_labels("en"))
    dutch = _words(texts("string")) | _words(_config_labels("nl"))
    return {word for word in english - dutch if len(word) >= 3}


def english_on(page: Page, words: set[str]) -> list[str]:
    # E-mail addresses and addresses are not words of the page ("example" in s.devries@…).
    text = re.sub(r"\S+@\S+|https?://\S+", " ", page.text)
    return sorted((set(WORD.findall(text.lower())) & words) - ENGLISH_ON_PURPOSE)


def test_no_english_on_dutch_pages(shown: Shown, world: matrix.World) -> None:  # noqa: F811
    words = english_only_words()
    assert {"colleague", "manager", "closed", "the", "wrote"} <= words
    dutch = shown.in_language("nl")
    assert len(dutch) >= 20
    found = {str(page): english_on(page, words) for page in dutch}
    assert {page: english for page, english in found.items() if english} == {}
    # Controls: the same pages in English are found out, every one of them ...
    assert all(english_on(page, words) for page in shown.in_language("en"))
    # ... and so is the Dutch case page that showed the relation as stored ("colleague").
    name = "case: confidant (with messages)"
    with template_changed(world, "casework/case.html", _relation_as_stored):
        page = shown.again(name, "nl")
    assert "colleague" in english_on(page, words)


def _relation_as_stored(source: str) -> str:
    return source.replace(
        "relation_label(party.relation_to_complainant)", "party.relation_to_complainant"
    )
