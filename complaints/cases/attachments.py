"""Checking uploaded files by their content, not by their name or the browser's word.

Only a short list of everyday formats is accepted: PDF, PNG, JPEG, Word (.docx), OpenDocument
text (.odt) and plain text. Images are decoded and saved again, which drops their metadata
(camera, location, author — things that can identify an anonymous complainant) and anything
smuggled in after the picture. Word files with macros are refused.

puremagic was tried for detection but cannot tell .docx from .pptx or recognise .odt, and the
decision here is an allowlist anyway, so the few signatures are checked directly.
"""

from __future__ import annotations

import io
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from PIL import Image, UnidentifiedImageError

MAX_NAME_LENGTH = 120
MAX_IMAGE_PIXELS = 40_000_000
PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
TEXT = "text/plain"
EXTENSIONS = {PDF: ".pdf", PNG: ".png", JPEG: ".jpg", DOCX: ".docx", ODT: ".odt", TEXT: ".txt"}


class UploadRejected(ValueError):
    """The file is not accepted; ``reason`` is a message key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content_type: str
    body: bytes


def check_upload(filename: str, data: bytes, *, max_bytes: int) -> CheckedFile:
    """Accept a file of an allowed type, cleaned; raise UploadRejected otherwise."""
    if not data:
        raise UploadRejected("empty")
    if len(data) > max_bytes:
        raise UploadRejected("too_large")
    content_type = _detect(data)
    if content_type in (PNG, JPEG):
        data = _reencode_image(data, content_type)
        if len(data) > max_bytes:
            raise UploadRejected("too_large")
    return CheckedFile(_clean_name(filename, content_type), content_type, data)


def _detect(data: bytes) -> str:
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04"):
        return _office(data)
    if _is_text(data):
        return TEXT
    raise UploadRejected("wrong_type")


def _office(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and archive.read("mimetype").strip() == ODT.encode():
                return ODT
            if "[Content_Types].xml" in names and "word/document.xml" in names:
                if any(name.lower().endswith("vbaproject.bin") for name in names):
                    raise UploadRejected("macros")
                return DOCX
    except (zipfile.BadZipFile, KeyError, RuntimeError):
        raise UploadRejected("damaged") from None
    raise UploadRejected("wrong_type")


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    control = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\r\n\t")
    return control == 0


def _reencode_image(data: bytes, content_type: str) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise UploadRejected("image_too_large")
                image.load()
                clean = image.convert("RGBA" if content_type == PNG else "RGB")
        except UploadRejected:
            raise
        except (
            UnidentifiedImageError,
            OSError,
            ValueError,
            Image.DecompressionBombWarning,
            Image.DecompressionBombError,
        ):
            raise UploadRejected("damaged") from None
    out = io.BytesIO()
    if content_type == PNG:
        clean.save(out, "PNG", optimize=True)
    else:
        clean.save(out, "JPEG", quality=90)
    return out.getvalue()


def _clean_name(filename: str, content_type: str) -> str:
    """A name to show, never to use on disk: no path, no control characters, the right ending."""
    base = PurePath(filename.replace("\\", "/")).name
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .")
    stem = PurePath(base).stem[:MAX_NAME_LENGTH] or "bestand"
    return stem + EXTENSIONS[content_type]
