"""Uploaded files are judged by their content, cleaned, and refused with a reason."""

from __future__ import annotations

import io
import struct
import time
import zipfile
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin
from pypdf import PdfReader

from complaints.cases.attachments import (
    DOCX,
    JPEG,
    MAX_IMAGE_PIXELS,
    ODT,
    PDF,
    PNG,
    TEXT,
    UploadRejected,
    check_upload,
)
from tests.factories import pdf_document

LIMIT = 2 * 1024 * 1024
GPS_IFD = 0x8825
ARTIST = 0x013B
ORIENTATION = 0x0112
IDENTIFYING = b"Jan Jansen"


# Sample files ----------------------------------------------------------------------------------


def png(size: tuple[int, int] = (40, 30), mode: str = "RGB", **save: object) -> bytes:
    out = io.BytesIO()
    image = Image.new(mode, size, "red" if mode in ("RGB", "RGBA") else 128)
    image.save(out, "PNG", **save)
    return out.getvalue()


def jpeg(size: tuple[int, int] = (40, 30), **save: object) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size)
    for x in range(size[0]):  # a picture with something in it, so orientation can be seen
        image.putpixel((x, 0), (255, 255, 255))
    image.save(out, "JPEG", quality=95, **save)
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[ARTIST] = IDENTIFYING.decode()
    exif[ORIENTATION] = 6  # rotated 90° clockwise
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 4.0, 48.0), 3: "E", 4: (4.0, 18.0, 36.0)})
    return jpeg(
        exif=exif.tobytes(),
        comment=b"gemaakt door " + IDENTIFYING,
        xmp=b"<x:xmpmeta><dc:creator>" + IDENTIFYING + b"</dc:creator></x:xmpmeta>",
    )


PDF_BODY = pdf_document()


def zip_file(members: dict[str, bytes], *, stored_first: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if stored_first:
            archive.writestr(stored_first, members[stored_first], zipfile.ZIP_STORED)
        for name, content in members.items():
            if name != stored_first:
                archive.writestr(name, content)
    return out.getvalue()


CONTENT_TYPES = (
    b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'content-types"><Override PartName="/word/document.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)


def docx(**extra: bytes) -> bytes:
    members = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": b"<Relationships/>",
        "word/document.xml": b"<w:document><w:body><w:p>Verslag</w:p></w:body></w:document>",
    }
    return zip_file({**members, **extra})


def odt(**extra: bytes) -> bytes:
    members = {
        "mimetype": ODT.encode(),
        "content.xml": b"<office:document-content>Verslag</office:document-content>",
        "META-INF/manifest.xml": b"<manifest:manifest/>",
    }
    return zip_file({**members, **extra}, stored_first="mimetype")


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 100
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 100


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header for an enormous grey picture, with almost no data after it."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024, 9))
        + png_chunk(b"IEND", b"")
    )


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# Accepted ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "content_type", "clean_name"),
    [
        ("klacht.pdf", PDF_BODY, PDF, "klacht.pdf"),
        ("foto.png", png(), PNG, "foto.png"),
        ("foto.jpeg", jpeg(), JPEG, "foto.jpg"),
        ("verslag.docx", docx(), DOCX, "verslag.docx"),
        ("verslag.odt", odt(), ODT, "verslag.odt"),
        (
            "notities.txt",
            "Één klacht, geüpload\r\nmet ‘aanhalingstekens’\t€\n".encode(),
            TEXT,
            "notities.txt",
        ),
        ("bom.txt", "\ufeffMet een BOM".encode(), TEXT, "bom.txt"),
    ],
)
def test_everyday_formats_are_accepted(
    name: str, data: bytes, content_type: str, clean_name: str
) -> None:
    checked = check_upload(name, data, max_bytes=LIMIT)
    assert (checked.content_type, checked.name) == (content_type, clean_name)
    if content_type in (PNG, JPEG):
        assert opened(checked.body).size == opened(data).size
    elif content_type == TEXT:
        assert checked.body == data  # text is stored exactly as given
    else:
        assert same_document(checked.body, data, content_type)


def same_document(cleaned: bytes, original: bytes, content_type: str) -> bool:
    """The same pages, or the same parts with the same text, after cleaning."""
    if content_type == PDF:
        return len(PdfReader(io.BytesIO(cleaned)).pages) == len(
            PdfReader(io.BytesIO(original)).pages
        )
    main = "word/document.xml" if content_type == DOCX else "content.xml"
    with zipfile.ZipFile(io.BytesIO(cleaned)) as a, zipfile.ZipFile(io.BytesIO(original)) as b:
        if content_type == ODT and a.infolist()[0].filename != "mimetype":
            return False
        return set(a.namelist()) == set(b.namelist()) and a.read(main) == b.read(main)


# Who wrote it is not kept --------------------------------------------------------------------

WORD_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def test_a_pdf_loses_its_author_and_what_would_run_on_opening() -> None:
    from pypdf import PdfWriter
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_document(author="Jan Jansen"))))
    writer.add_metadata({"/Producer": "Microsoft Word voor Jan Jansen"})
    script = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.launchURL('https://tracker.example/');"),
        }
    )
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(script)
    writer.add_attachment("bijlage.exe", b"MZ" + b"\x00" * 64)
    out = io.BytesIO()
    writer.write(out)
    data = out.getvalue()
    assert b"Jan Jansen" in data
    cleaned = check_upload("klacht.pdf", data, max_bytes=LIMIT).body
    assert b"Jan Jansen" not in cleaned
    assert b"tracker.example" not in cleaned
    assert b"bijlage.exe" not in cleaned
    reader = PdfReader(io.BytesIO(cleaned))
    assert len(reader.pages) == 1
    assert not reader.metadata
    assert "/OpenAction" not in reader.trailer["/Root"]


def test_a_word_file_loses_its_author_editors_and_commenters() -> None:
    data = docx(
        **{
            "docProps/core.xml": b"<cp:coreProperties><dc:creator>Jan Jansen</dc:creator>"
            b"<cp:lastModifiedBy>Jan Jansen</cp:lastModifiedBy></cp:coreProperties>",
            "docProps/app.xml": b"<Properties><Company>Ministerie van BZK</Company>"
            b"<Manager>Jan Jansen</Manager></Properties>",
            "docProps/custom.xml": b"<Properties><property>Jan Jansen</property></Properties>",
            "word/comments.xml": f'<w:comments {WORD_NS}><w:comment w:id="0" '
            'w:author="Jan Jansen" w:initials="JJ"><w:p>Klopt dit?</w:p></w:comment>'
            "</w:comments>".encode(),
            "word/people.xml": b'<w15:people><w15:person w15:author="Jan Jansen">'
            b'<w15:presenceInfo w15:providerId="AD" w15:userId="j.jansen@bzk.example"/>'
            b"</w15:person></w15:people>",
        }
    )
    cleaned = check_upload("verslag.docx", data, max_bytes=LIMIT).body
    with zipfile.ZipFile(io.BytesIO(cleaned)) as archive:
        everything = b"".join(archive.read(name) for name in archive.namelist())
        assert archive.read("word/document.xml") == b"<w:document><w:body><w:p>Verslag</w:p>" + (
            b"</w:body></w:document>"
        )
    for identifying in (b"Jan Jansen", b"JJ", b"j.jansen@bzk.example", b"Ministerie van BZK"):
        assert identifying not in everything
    assert b"Klopt dit?" in everything  # what was written stays


def test_an_opendocument_text_loses_its_author_and_editors() -> None:
    data = odt(
        **{
            "meta.xml": b"<office:document-meta><office:meta><meta:initial-creator>Jan Jansen"
            b"</meta:initial-creator><dc:creator>Jan Jansen</dc:creator></office:meta>"
            b"</office:document-meta>",
            "content.xml": b"<office:document-content><office:annotation><dc:creator>Jan "
            b"Jansen</dc:creator><text:p>Opmerking</text:p></office:annotation>Verslag"
            b"</office:document-content>",
        }
    )
    cleaned = check_upload("verslag.odt", data, max_bytes=LIMIT).body
    with zipfile.ZipFile(io.BytesIO(cleaned)) as archive:
        first = archive.infolist()[0]
        assert (first.filename, first.compress_type) == ("mimetype", zipfile.ZIP_STORED)
        everything = b"".join(archive.read(name) for name in archive.namelist())
    assert b"Jan Jansen" not in everything
    assert b"Opmerking" in everything


def test_a_pdf_with_a_password_or_that_cannot_be_read_is_refused() -> None:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_document())))
    writer.encrypt("geheim")
    out = io.BytesIO()
    writer.write(out)
    for data, reason in ((out.getvalue(), "encrypted"), (b"%PDF-1.4\nniets\n", "damaged")):
        with pytest.raises(UploadRejected) as refused:
            check_upload("klacht.pdf", data, max_bytes=LIMIT)
        assert refused.value.reason == reason


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
def test_pngs_of_every_kind_come_through_as_pictures(mode: str) -> None:
    checked = check_upload("plaatje.png", png(mode=mode), max_bytes=LIMIT)
    assert opened(checked.body).size == (40, 30)


@pytest.mark.parametrize(
    ("name", "data", "content_type", "clean_name"),
    [
        ("foto.jpg", PDF_BODY, PDF, "foto.pdf"),
        ("brief.pdf", png(), PNG, "brief.png"),
        ("scan.png", jpeg(), JPEG, "scan.jpg"),
        ("verslag.zip", docx(), DOCX, "verslag.docx"),
        ("verslag.doc", odt(), ODT, "verslag.odt"),
        ("notities", b"Gewoon tekst.", TEXT, "notities.txt"),
    ],
)
def test_a_renamed_file_is_judged_by_its_content(
    name: str, data: bytes, content_type: str, clean_name: str
) -> None:
    checked = check_upload(name, data, max_bytes=LIMIT)
    assert (checked.content_type, checked.name) == (content_type, clean_name)


# Refused -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("programma.exe", WINDOWS_EXE, "wrong_type"),
        ("programma.pdf", WINDOWS_EXE, "wrong_type"),
        ("programma", ELF, "wrong_type"),
        (
            "pagina.html",
            b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
            "wrong_type",
        ),
        ("pagina.txt", b"\n  <html><head><title>x</title></head></html>", "wrong_type"),
        (
            "tekening.txt",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
            "wrong_type",
        ),
        ("script.txt", b"#!/bin/sh\nrm -rf ~\n", "wrong_type"),
        ("archief.zip", zip_file({"a.txt": b"hallo", "b.txt": b"wereld"}), "wrong_type"),
        (
            "presentatie.docx",
            zip_file({"[Content_Types].xml": CONTENT_TYPES, "ppt/presentation.xml": b"<p/>"}),
            "wrong_type",
        ),
        ("macro.docx", docx(**{"word/vbaProject.bin": b"\xd0\xcf\x11\xe0 VBA"}), "macros"),
        (
            "macro.docx",
            docx(
                **{
                    "[Content_Types].xml": CONTENT_TYPES.replace(
                        b"document.main", b"document.macroEnabled.main"
                    )
                }
            ),
            "macros",
        ),
        ("macro.odt", odt(**{"Basic/Standard/Module1.xml": b"<script:module/>"}), "macros"),
        ("kapot.zip", b"PK\x03\x04" + b"\x00" * 40, "damaged"),
        ("kapot.docx", docx()[:-30], "damaged"),
        ("kapot.png", png()[:60], "damaged"),
        ("kapot.jpg", jpeg()[:200], "damaged"),
        ("kapot.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "damaged"),
        ("leeg.pdf", b"", "empty"),
        ("binair.txt", b"tekst\x00met een nul", "wrong_type"),
        ("latin1.txt", "Één klacht".encode("latin-1"), "wrong_type"),
        ("escape.txt", b"tekst met \x1b[31m kleur", "wrong_type"),
    ],
)
def test_what_is_refused_and_why(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(UploadRejected) as refused:
        check_upload(name, data, max_bytes=LIMIT)
    assert refused.value.reason == reason


def test_an_oversized_file_is_refused_before_it_is_read() -> None:
    data = pdf_document(size=4096)
    assert check_upload("a.pdf", data, max_bytes=len(data)).content_type == PDF
    with pytest.raises(UploadRejected) as refused:
        check_upload("a.pdf", data + b"x", max_bytes=len(data))
    assert refused.value.reason == "too_large"


def test_an_archive_member_that_expands_enormously_is_not_read() -> None:
    bomb = zip_file({"mimetype": b" " * 50_000_000, "content.xml": b"<x/>"})
    assert len(bomb) < 100_000
    with pytest.raises(UploadRejected) as refused:
        check_upload("bom.odt", bomb, max_bytes=LIMIT)
    assert refused.value.reason == "damaged"


@pytest.mark.parametrize(
    ("width", "height"), [(100_000, 100_000), (20_000, 20_000), (8_000, 5_001)]
)
def test_a_decompression_bomb_is_refused_without_decoding_it(width: int, height: int) -> None:
    data = png_bomb(width, height)
    assert len(data) < 200
    assert width * height > MAX_IMAGE_PIXELS
    started = time.perf_counter()
    with pytest.raises(UploadRejected) as refused:
        check_upload("bom.png", data, max_bytes=LIMIT)
    assert refused.value.reason == "image_too_large"
    assert time.perf_counter() - started < 1  # decoding even the smallest would take longer


# Cleaned ------------------------------------------------------------------------------------


def test_exif_and_other_metadata_are_removed_from_a_jpeg() -> None:
    data = jpeg_with_exif()
    original = opened(data)
    assert original.getexif()[ARTIST] == IDENTIFYING.decode()
    assert original.getexif().get_ifd(GPS_IFD)
    assert IDENTIFYING in data
    checked = check_upload("vakantie.jpg", data, max_bytes=LIMIT)
    clean = opened(checked.body)
    assert clean.format == "JPEG"
    assert dict(clean.getexif()) == {}
    assert IDENTIFYING not in checked.body
    for marker in (b"Exif\x00\x00", b"http://ns.adobe.com/xap", b"<x:xmpmeta", b"\xff\xfe"):
        assert marker not in checked.body, marker
    assert "comment" not in clean.info
    assert "xmp" not in clean.info
    # The picture was turned the way the dropped orientation tag said.
    assert (original.size, clean.size) == ((40, 30), (30, 40))


def test_text_chunks_and_data_after_the_end_are_removed_from_a_png() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", IDENTIFYING.decode())
    info.add_itxt("Description", "opgenomen bij " + IDENTIFYING.decode())
    exif = Image.Exif()
    exif[ARTIST] = IDENTIFYING.decode()
    appended = b"PK\x03\x04 een verstopt archief " + IDENTIFYING
    data = png(pnginfo=info, exif=exif.tobytes()) + appended
    assert data.count(IDENTIFYING) >= 3
    checked = check_upload("scherm.png", data, max_bytes=LIMIT)
    assert IDENTIFYING not in checked.body
    assert checked.body.endswith(png_chunk(b"IEND", b""))
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf"):
        assert chunk not in checked.body
    clean = opened(checked.body)
    assert (clean.format, clean.size) == ("PNG", (40, 30))
    assert clean.getpixel((0, 0)) == (255, 0, 0)


def test_a_picture_that_grows_past_the_limit_when_cleaned_is_refused() -> None:
    # Noise compresses badly: re-encoding a small, heavily compressed JPEG makes it bigger.
    noisy = Image.frombytes("RGB", (300, 300), bytes(range(256)) * 1055)
    out = io.BytesIO()
    noisy.save(out, "JPEG", quality=5)
    data = out.getvalue()
    with pytest.raises(UploadRejected) as refused:
        check_upload("ruis.jpg", data, max_bytes=len(data) + 10)
    assert refused.value.reason == "too_large"


@pytest.mark.parametrize(
    ("given", "content", "expected"),
    [
        ("../../etc/passwd", b"root:x:0:0", "passwd.txt"),
        ("C:\\Users\\sanne\\Documents\\verslag.pdf", PDF_BODY, "verslag.pdf"),
        ("/home/../verslag.pdf", PDF_BODY, "verslag.pdf"),
        ("ver\x00slag\r\n.pdf", PDF_BODY, "verslag.pdf"),
        ("factuur\u202egpj.exe", PDF_BODY, "factuurgpj.pdf"),  # right-to-left override
        ("rapport.exe", PDF_BODY, "rapport.pdf"),
        ("rapport.pdf.exe", PDF_BODY, "rapport.pdf.pdf"),
        (".htaccess", b"tekst", "htaccess.txt"),
        ("...", PDF_BODY, "bestand.pdf"),
        ("", png(), "bestand.png"),
        ("  foto met spaties .png  ", png(), "foto met spaties.png"),
        ("x" * 300 + ".pdf", PDF_BODY, "x" * 120 + ".pdf"),
        ("Één verslag.PDF", PDF_BODY, "Één verslag.pdf"),
    ],
)
def test_names_are_cleaned_and_get_the_right_ending(
    given: str, content: bytes, expected: str
) -> None:
    assert check_upload(given, content, max_bytes=LIMIT).name == expected


# Damaged input never escapes as anything but a refusal --------------------------------------------

SAMPLES = [png(), jpeg(), docx(), odt(), PDF_BODY, png(mode="P")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(SAMPLES),
    cut=st.integers(min_value=1, max_value=4000),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), max_size=6),
)
def test_damaged_files_are_refused_not_crashed_on(
    sample: bytes, cut: int, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(sample[: max(1, len(sample) - cut % len(sample))])
    for position, mask in flips:
        data[position % len(data)] ^= mask
    try:
        checked = check_upload("x", bytes(data), max_bytes=LIMIT)
    except UploadRejected as refused:
        reason = refused.reason
    else:
        reason = None
        assert checked.content_type in {PDF, PNG, JPEG, DOCX, ODT, TEXT}
        if checked.content_type in (PNG, JPEG):
            opened(checked.body)  # what comes out is a picture that opens
    assert reason in {None, "empty", "wrong_type", "damaged", "macros", "image_too_large"}
