"""Removing what documents say about who wrote them.

A Word file, an OpenDocument text or a PDF carries its author's name, often the organisation,
the names of everyone who commented or changed it, and sometimes an e-mail address. For an
anonymous report that can be the one thing that gives the complainant away, so these are
removed before a file is stored. The text itself is left as it is: what someone writes in the
body is theirs to decide. Images are cleaned in ``attachments`` by drawing them again.

PDFs are also stripped of what would run when a handler opens them: actions on opening,
JavaScript and embedded files.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable

from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject

# A document's parts are read whole here, so bound what they may unpack to.
MAX_UNPACKED_BYTES = 200_000_000
MAX_MEMBERS = 5_000

OOXML_CORE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    b'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"/>'
)
OOXML_APP = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'extended-properties"/>'
)
OOXML_CUSTOM = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'custom-properties"/>'
)
OOXML_PEOPLE = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<w15:people xmlns:w15="http://schemas.microsoft.com/office/word/2012/wordml"/>'
)
ODF_META = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    b'office:version="1.2"><office:meta/></office:document-meta>'
)
# Who made a comment or a tracked change: attributes in Word, elements in OpenDocument.
WORD_PEOPLE = re.compile(rb'(\bw[0-9]*:(?:author|initials|userId|providerId))="[^"]*"')
ODF_PEOPLE = re.compile(rb"<dc:creator>[^<]*</dc:creator>")


class Unreadable(ValueError):
    """The document could not be taken apart to clean it."""


class Encrypted(ValueError):
    """The document is protected with a password, so it cannot be cleaned."""


def strip_docx(data: bytes) -> bytes:
    def clean(name: str, content: bytes) -> bytes:
        if name == "docProps/core.xml":
            return OOXML_CORE
        if name == "docProps/app.xml":
            return OOXML_APP
        if name == "docProps/custom.xml":
            return OOXML_CUSTOM
        if name == "word/people.xml":
            return OOXML_PEOPLE
        if name.startswith("word/") and name.endswith(".xml"):
            return WORD_PEOPLE.sub(rb'\1=""', content)
        return content

    return _rewrite_archive(data, clean)


def strip_odt(data: bytes) -> bytes:
    def clean(name: str, content: bytes) -> bytes:
        if name == "meta.xml":
            return ODF_META
        if name in ("content.xml", "styles.xml"):
            return ODF_PEOPLE.sub(b"<dc:creator></dc:creator>", content)
        return content

    return _rewrite_archive(data, clean)


def _rewrite_archive(data: bytes, clean: Callable[[str, bytes], bytes]) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as source:
            members = source.infolist()
            if len(members) > MAX_MEMBERS:
                raise Unreadable("too many parts")
            if sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
                raise Unreadable("unpacks too large")
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
                for member in members:
                    if member.is_dir():
                        continue
                    with source.open(member) as part:
                        # A declared size can lie: never read more than it claims.
                        content = part.read(member.file_size + 1)
                    if len(content) > member.file_size:
                        raise Unreadable("a part is larger than it says")
                    # OpenDocument needs "mimetype" first and uncompressed; keep each part's
                    # own compression so that holds.
                    info = zipfile.ZipInfo(member.filename, date_time=(1980, 1, 1, 0, 0, 0))
                    info.compress_type = member.compress_type
                    target.writestr(info, clean(member.filename, content))
    except Unreadable:
        raise
    except Exception:
        # Damaged archives fail in many ways (BadZipFile, zlib.error, EOFError, ...).
        raise Unreadable("damaged archive") from None
    return out.getvalue()


def strip_pdf(data: bytes) -> bytes:
    """The PDF written anew without document information, XMP, scripts or embedded files.

    Writing it anew also drops earlier revisions kept by incremental saves.
    """
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise Encrypted("password protected")
        writer = PdfWriter(clone_from=reader)
        writer.metadata = None
        root = writer._root_object
        for key in ("/Metadata", "/OpenAction", "/AA", "/PieceInfo"):
            root.pop(NameObject(key), None)
        names = root.get("/Names")
        if names is not None:
            names = names.get_object()
            for key in ("/JavaScript", "/EmbeddedFiles"):
                names.pop(NameObject(key), None)
        for page in writer.pages:
            for key in ("/AA", "/Metadata", "/PieceInfo"):
                page.pop(NameObject(key), None)
            _drop_active_annotations(page)
        # What was cut loose above (a script, an embedded file) would otherwise still be
        # written out as an unreferenced object: drop every object nothing refers to.
        writer.compress_identical_objects()
        out = io.BytesIO()
        writer.write(out)
    except Encrypted:
        raise
    except Exception:
        # pypdf reports broken files with many exception types.
        raise Unreadable("damaged pdf") from None
    return out.getvalue()


ACTIVE = {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/RichMediaExecute"}


def _drop_active_annotations(page: DictionaryObject) -> None:
    """Remove annotations that run something (links that start a program or a script)."""
    annotations = page.get("/Annots")
    if annotations is None:
        return
    kept = ArrayObject()
    for reference in annotations.get_object():
        annotation = reference.get_object()
        action = annotation.get("/A")
        kind = action.get_object().get("/S") if action is not None else None
        if kind in ACTIVE or annotation.get("/Subtype") == "/FileAttachment":
            continue
        annotation.pop(NameObject("/AA"), None)
        kept.append(reference)
    page[NameObject("/Annots")] = kept
