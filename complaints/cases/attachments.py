"""Checking uploaded files by their content, not by their name or the browser's word.

Only a short list of everyday formats is accepted: PDF, PNG, JPEG, Word (.docx), OpenDocument
text (.odt) and plain text. Images are decoded and saved again, which drops their metadata
(camera, location, author — things that can identify an anonymous complainant) and anything
smuggled in after the picture. Documents lose their author, editors and comment authors, and
PDFs also what would run on opening (``metadata``). Word files with macros are refused.

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

from PIL import Image, ImageOps

from complaints.cases import metadata

MAX_NAME_LENGTH = 120
MAX_IMAGE_PIXELS = 40_000_000
MAX_MEMBER_BYTES = 1_000_000  # of the few archive members read to recognise a format
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
    elif content_type in STRIPPERS:
        data = _strip(data, content_type)
    if len(data) > max_bytes:
        raise UploadRejected("too_large")
    return CheckedFile(_clean_name(filename, content_type), content_type, data)


STRIPPERS = {PDF: metadata.strip_pdf, DOCX: metadata.strip_docx, ODT: metadata.strip_odt}


def _strip(data: bytes, content_type: str) -> bytes:
    """The document without its author, editors and (for PDF) anything that would run."""
    try:
        return STRIPPERS[content_type](data)
    except metadata.Encrypted:
        raise UploadRejected("encrypted") from None
    except metadata.Unreadable:
        raise UploadRejected("damaged") from None


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
            names = {info.filename for info in archive.infolist()}
            if "mimetype" in names and _member(archive, "mimetype").strip() == ODT.encode():
                # OpenDocument keeps Basic macros and scripts in these folders.
                if any(name.startswith(("Basic/", "Scripts/")) for name in names):
                    raise UploadRejected("macros")
                return ODT
            if "[Content_Types].xml" in names and "word/document.xml" in names:
                content_types = _member(archive, "[Content_Types].xml").lower()
                if b"macroenabled" in content_types or any(
                    name.lower().endswith("vbaproject.bin") for name in names
                ):
                    raise UploadRejected("macros")
                return DOCX
    except UploadRejected:
        raise
    except Exception:
        # A damaged archive can fail in many ways (BadZipFile, zlib.error, EOFError,
        # NotImplementedError for odd compression, RuntimeError when encrypted, ...).
        raise UploadRejected("damaged") from None
    raise UploadRejected("wrong_type")


def _member(archive: zipfile.ZipFile, name: str) -> bytes:
    """A small member, read with a bound: a declared size can lie and a member can be a bomb."""
    with archive.open(name) as member:
        content = member.read(MAX_MEMBER_BYTES + 1)
    if len(content) > MAX_MEMBER_BYTES:
        raise UploadRejected("damaged")
    return content


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if any(unicodedata.category(ch) == "Cc" and ch not in "\r\n\t" for ch in text):
        return False
    # Markup (HTML, SVG, XML) and scripts are programs a browser or shell would act on, even
    # when they arrive as "text": refuse them rather than store them under a harmless name.
    start = text.lstrip("\ufeff \t\r\n")
    return not start.startswith(("<", "#!"))


def _reencode_image(data: bytes, content_type: str) -> bytes:
    """Decode and draw the pixels into a new image: no metadata or trailing data survives."""
    image_format = "PNG" if content_type == PNG else "JPEG"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[image_format]) as image:
                # Before decoding: a small file can describe a picture of billions of pixels.
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise UploadRejected("image_too_large")
                image.load()
                # Turn the pixels the way the camera said, as the tag saying so is dropped.
                upright = ImageOps.exif_transpose(image)
                pixels = upright.convert(_clean_mode(upright.mode, image_format))
    except UploadRejected:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise UploadRejected("image_too_large") from None
    except Exception:
        # Pillow reports damaged input with many exception types (OSError, SyntaxError,
        # ValueError, struct.error, EOFError, ...); for an upload they all mean "damaged".
        raise UploadRejected("damaged") from None
    # A new image from the bare pixels: ``convert`` would carry ``info`` (comments, XMP, ICC,
    # text chunks) along, and the encoders write some of it back out.
    clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    if image_format == "PNG":
        clean.save(out, "PNG", optimize=True)
    else:
        clean.save(out, "JPEG", quality=90)
    return out.getvalue()


def _clean_mode(mode: str, image_format: str) -> str:
    if image_format == "PNG":
        return mode if mode in ("1", "L", "LA", "RGB", "RGBA") else "RGBA"
    return mode if mode in ("L", "RGB") else "RGB"


def _clean_name(filename: str, content_type: str) -> str:
    """A name to show, never to use on disk: no path, no control characters, the right ending."""
    base = PurePath(filename.replace("\\", "/")).name
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .")
    stem = PurePath(base).stem[:MAX_NAME_LENGTH].strip(" .") or "bestand"
    return stem + EXTENSIONS[content_type]
