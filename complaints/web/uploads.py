"""How the pages talk about files: sizes for people, and why a file was refused.

The report form and the follow-up mailbox both take files; they say the same things about them.
"""

from __future__ import annotations

from pathlib import PurePath

from flask_babel import format_number

from complaints.cases.attachments import DOCX, JPEG, ODT, PDF, PNG, TEXT
from complaints.web.i18n import _

SHOWN_NAME_LENGTH = 80


def size_text(size: int) -> str:
    """A file size for people: "812 bytes", "14 kB", "2.5 MB"."""
    if size < 1024:
        return _("%(size)s bytes", size=format_number(size))
    if size < 1024 * 1024:
        return _("%(size)s kB", size=format_number(round(size / 1024)))
    return _("%(size)s MB", size=format_number(round(size / (1024 * 1024), 1)))


def shown_name(filename: str) -> str:
    """A file's name as typed by the browser, fit to show: no path, no control characters."""
    base = PurePath(filename.replace("\\", "/")).name
    shown = "".join(ch for ch in base if ch.isprintable()).strip()
    return shown[:SHOWN_NAME_LENGTH] or _("(no name)")


def upload_message(reason: str, name: str, max_size: str) -> str:
    """Why a file was refused (``UploadRejected.reason``), naming the file."""
    messages = {
        "empty": _("“%(name)s” is empty. Choose a file that has something in it.", name=name),
        "too_large": _(
            "“%(name)s” is too large. A file may be at most %(size)s.", name=name, size=max_size
        ),
        "wrong_type": _(
            "“%(name)s” is not a type of file we accept. Add a PDF, a photo (PNG or JPEG), a "
            "Word or OpenDocument text, or a plain text file.",
            name=name,
        ),
        "macros": _(
            "“%(name)s” contains macros, which we do not accept for safety. Save it as a "
            "document without macros, or as a PDF, and add it again.",
            name=name,
        ),
        "encrypted": _(
            "“%(name)s” is protected with a password, so we cannot check it. Save a copy "
            "without the password and add that.",
            name=name,
        ),
        "damaged": _(
            "“%(name)s” could not be read; it may be damaged. Open it on your own device to "
            "check, or save it again.",
            name=name,
        ),
        "image_too_large": _(
            "“%(name)s” is a picture with too many pixels. Make it smaller and add it again.",
            name=name,
        ),
    }
    return messages.get(reason, _("“%(name)s” cannot be added.", name=name))


# Endings that mean the same kind of file as the one given to a stored file.
_SAME_ENDING = {".jpeg": ".jpg", ".jpe": ".jpg", ".text": ".txt"}


def renamed(typed_name: str, stored_name: str) -> bool:
    """Whether the file was stored with another ending than the one it was given."""
    typed = PurePath(typed_name.replace("\\", "/")).suffix.lower()
    return _SAME_ENDING.get(typed, typed) != PurePath(stored_name).suffix.lower()


def rename_notice(typed_name: str, stored_name: str, content_type: str, *, names: bool) -> str:
    """Why a file is kept under another ending: the ending follows what the file contains.

    ``names=False`` leaves the file's name out, for a message that goes through the cookie
    (a flash message): file names stay out of cookies like every other part of a report.
    """
    kinds = {
        TEXT: _("text"),
        PDF: _("a PDF document"),
        PNG: _("a PNG picture"),
        JPEG: _("a JPEG picture"),
        DOCX: _("a Word document"),
        ODT: _("an OpenDocument text"),
    }
    kind = kinds.get(content_type, content_type)
    if names:
        return _(
            "“%(typed)s” was stored as “%(stored)s”, because its content is %(kind)s.",
            typed=shown_name(typed_name),
            stored=stored_name,
            kind=kind,
        )
    return _(
        "A file was stored with the ending “%(ending)s”, because its content is %(kind)s. "
        "You can see it in the list of files.",
        ending=PurePath(stored_name).suffix,
        kind=kind,
    )
