"""Evidence files: accepted by what they contain, never by their name.

An upload is streamed to a temporary file on disk in chunks (hashing as it goes), inspected there,
and only then copied to the private "evidence" storage under a random name. Nothing is kept if any
check fails. Limits are module constants so tests and the benchmark can see them.
"""

import csv
import hashlib
import io
import re
import tempfile
import uuid
import zipfile
from dataclasses import dataclass

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction

CHUNK = 64 * 1024
HEAD = 8 * 1024
# Zip-based Office files: a DOCX or XLSX of evidence never needs more than this when unpacked.
ZIP_MAX_ENTRIES = 2000
ZIP_MAX_TOTAL_UNCOMPRESSED = 200 * 1024 * 1024
ZIP_MAX_RATIO = 200
MAX_NAME_LENGTH = 200

KINDS = {
    # kind: (content type, extensions that may carry it, what to call it in a message)
    "pdf": ("application/pdf", {".pdf"}, "a PDF"),
    "png": ("image/png", {".png"}, "a PNG image"),
    "jpeg": ("image/jpeg", {".jpg", ".jpeg"}, "a JPEG image"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", {".docx"},
             "a Word document (DOCX)"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", {".xlsx"},
             "an Excel workbook (XLSX)"),
    "csv": ("text/csv", {".csv"}, "a CSV file"),
    "txt": ("text/plain", {".txt"}, "a text file"),
}
ALLOWED_WORDS = "PDF, PNG, JPEG, DOCX, XLSX, CSV or TXT"

# Formats that are never evidence, recognised so the message can say what the file really is.
KNOWN_BAD_MAGIC = [
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a Linux program"),
    (b"\xcf\xfa\xed\xfe", "a macOS program"),
    (b"\xca\xfe\xba\xbe", "a Java class or macOS program"),
    (b"#!", "a script"),
    (b"\xd0\xcf\x11\xe0", "an old-style Office file (DOC/XLS) that can carry macros"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"GIF8", "a GIF image"),
    (b"{\\rtf", "an RTF document"),
]

# Markup that a browser or viewer could run; never allowed in text evidence, and its presence in
# a binary format means the file is a polyglot.
ACTIVE_MARKUP = re.compile(
    rb"<\s*(script|html|svg|iframe|object|embed|body|meta|style|link|form|base)\b|<!doctype|"
    rb"<\?xml|<\?php|javascript\s*:|vbscript\s*:|\bon(load|error|click|mouseover)\s*=",
    re.IGNORECASE)
PDF_ACTIVE = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile|OpenAction|AA|RichMedia)\b")
OVERLAP = 64  # bytes carried between chunks so a pattern split across two is still found
# Control characters text never holds (tab, newline, form feed and carriage return are fine).
BINARY_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


class EvidenceRefused(Exception):
    """The upload is not acceptable; the message says why in words for the uploader."""


@dataclass(frozen=True)
class Inspected:
    kind: str
    content_type: str
    size: int
    sha256: str


def check_name(name):
    """Refuse names that could escape a folder or confuse a download."""
    if not name or not name.strip():
        raise EvidenceRefused("The file has no name.")
    if len(name) > MAX_NAME_LENGTH:
        raise EvidenceRefused(f"The file name must be {MAX_NAME_LENGTH} characters or fewer.")
    if "/" in name or "\\" in name or ".." in name or name.startswith("."):
        raise EvidenceRefused("The file name must not contain a folder path (/, \\ or ..). "
                              "Rename the file and upload it again.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise EvidenceRefused("The file name contains control characters. Rename the file.")
    if "." not in name:
        raise EvidenceRefused(f"The file name must end with its type, for example .pdf. "
                              f"Allowed types: {ALLOWED_WORDS}.")
    return name.strip()


def _extension(name):
    return "." + name.rsplit(".", 1)[-1].lower()


def _chunks(source):
    if hasattr(source, "chunks"):
        yield from source.chunks(CHUNK)
        return
    while True:
        block = source.read(CHUNK)
        if not block:
            return
        yield block


def spool(source, max_bytes):
    """Copy the upload to a temporary file in chunks; return (file, size, sha256).

    Stops as soon as the limit is passed, so an oversized upload never fills the disk either.
    """
    digest = hashlib.sha256()
    size = 0
    tmp = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
    try:
        for block in _chunks(source):
            size += len(block)
            if size > max_bytes:
                raise EvidenceRefused(f"The file must be smaller than {_mb(max_bytes)}.")
            digest.update(block)
            tmp.write(block)
    except Exception:
        tmp.close()
        raise
    tmp.seek(0)
    return tmp, size, digest.hexdigest()


def _mb(n):
    return f"{n / (1024 * 1024):g} MB"


def _scan(tmp, pattern):
    """First match of a bytes pattern anywhere in the file, read in chunks."""
    tmp.seek(0)
    tail = b""
    while True:
        block = tmp.read(CHUNK)
        if not block:
            return None
        window = tail + block
        match = pattern.search(window)
        if match:
            return match
        tail = window[-OVERLAP:]


def _tail(tmp, size, n=64 * 1024):
    tmp.seek(max(0, size - n))
    return tmp.read(n)


def _detect(head):
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    for magic, what in KNOWN_BAD_MAGIC:
        if head.startswith(magic):
            raise EvidenceRefused(f"The file is {what}, which cannot be evidence. Upload a "
                                  f"{ALLOWED_WORDS} file.")
    return "text"


def _no_polyglot(tmp, size, what):
    tail = _tail(tmp, size)
    if b"PK\x05\x06" in tail or b"PK\x03\x04" in tail:
        raise EvidenceRefused(f"The file is {what} with an archive hidden inside it. Save it "
                              "again from the program that made it.")
    if _scan(tmp, ACTIVE_MARKUP):
        raise EvidenceRefused(f"The file is {what} but also contains web page or script code. "
                              "Save it again from the program that made it.")


def _check_pdf(tmp, size):
    if b"%%EOF" not in _tail(tmp, size, 2048):
        raise EvidenceRefused("The PDF is incomplete or damaged (no end-of-file marker).")
    found = _scan(tmp, PDF_ACTIVE)
    if found:
        raise EvidenceRefused("The PDF contains active content (JavaScript, launch actions or "
                              "embedded files). Print it to a new PDF and upload that.")
    _no_polyglot(tmp, size, "a PDF")


def _check_png(tmp, size):
    tmp.seek(8)
    if tmp.read(8)[4:] != b"IHDR":
        raise EvidenceRefused("The PNG image is damaged (no image header).")
    if not _tail(tmp, size, 12).startswith(b"\x00\x00\x00\x00IEND"):
        raise EvidenceRefused("The PNG image has data after its end, or is damaged. Save it "
                              "again from an image program.")
    _no_polyglot(tmp, size, "a PNG image")


def _check_jpeg(tmp, size):
    if b"\xff\xd9" not in _tail(tmp, size, 1024):
        raise EvidenceRefused("The JPEG image is incomplete or has data after its end.")
    _no_polyglot(tmp, size, "a JPEG image")


def inspect_zip(fileobj, *, max_total=ZIP_MAX_TOTAL_UNCOMPRESSED, max_entries=ZIP_MAX_ENTRIES,
                max_ratio=ZIP_MAX_RATIO):
    """Refuse archives that would unpack to too much, or that name paths outside themselves.

    Returns the entry names. Declared sizes are checked first (cheap), then every entry is
    decompressed in chunks with a running total, because declared sizes can lie.
    """
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise EvidenceRefused("The file looks like an Office document but is damaged.") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > max_entries:
            raise EvidenceRefused(f"The document holds {len(infos)} parts; at most {max_entries} "
                                  "are allowed. It may be an archive bomb.")
        declared = 0
        for info in infos:
            name = info.filename
            if name.startswith(("/", "\\")) or ".." in name.split("/") or "\\" in name \
                    or ":" in name:
                raise EvidenceRefused(f"The document contains a part with an unsafe path "
                                      f"({name[:80]}).")
            if info.flag_bits & 0x1:
                raise EvidenceRefused("The document is encrypted. Remove the password and upload "
                                      "it again.")
            declared += info.file_size
            if info.compress_size and info.file_size / info.compress_size > max_ratio:
                raise EvidenceRefused("The document unpacks to far more than its size (an "
                                      "archive bomb).")
        if declared > max_total:
            raise EvidenceRefused(f"The document would unpack to more than {_mb(max_total)}.")
        total = 0
        for info in infos:
            try:
                with archive.open(info) as member:
                    while block := member.read(CHUNK):
                        total += len(block)
                        if total > max_total:
                            raise EvidenceRefused(f"The document would unpack to more than "
                                                  f"{_mb(max_total)}.")
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                raise EvidenceRefused("The document is damaged and cannot be opened.") from exc
        return [i.filename for i in infos]


def _check_office(tmp):
    names = set(inspect_zip(tmp))
    if "[Content_Types].xml" not in names:
        raise EvidenceRefused("The file is a zip archive, not a Word or Excel document.")
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise EvidenceRefused("The document contains macros. Save it as a normal .docx or .xlsx "
                              "without macros.")
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    raise EvidenceRefused("The file is a zip archive, not a Word or Excel document.")


def _check_csv_cells(tmp):
    tmp.seek(0)
    text = io.TextIOWrapper(tmp, encoding="utf-8-sig", newline="")
    try:
        for line, row in enumerate(csv.reader(text), start=1):
            for cell in row:
                if looks_like_formula(cell):
                    raise EvidenceRefused(f"Line {line} of the CSV file has a cell that starts "
                                          "with =, +, - or @, which spreadsheets run as a "
                                          "formula. Remove it and upload the file again.")
    except csv.Error as exc:
        raise EvidenceRefused(f"The CSV file cannot be read: {exc}.") from exc
    finally:
        text.detach()


def looks_like_formula(cell):
    """A cell a spreadsheet would evaluate; plain signed numbers are data, not formulas."""
    stripped = cell.lstrip(" ")
    if not stripped or stripped[0] not in "=+-@\t\r":
        return False
    return not re.fullmatch(r"[+-]?\d+(\.\d+)?", stripped)


def _check_text(tmp, size, extension):
    """UTF-8 text with no markup that a browser could run; CSV cells must not be formulas."""
    tmp.seek(0)
    decoder_tail = b""
    for block in iter(lambda: tmp.read(CHUNK), b""):
        data = decoder_tail + block
        try:
            text = data.decode("utf-8")
            decoder_tail = b""
        except UnicodeDecodeError as exc:
            # A multi-byte character may be split at the chunk edge; only that is forgiven.
            if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
                text = data[:exc.start].decode("utf-8")
                decoder_tail = data[exc.start:]
            else:
                raise EvidenceRefused("The file is not a recognised document type, or is text "
                                      f"that is not UTF-8. Upload a {ALLOWED_WORDS} file; save "
                                      "text as UTF-8.") from exc
        if BINARY_IN_TEXT.search(text):
            raise EvidenceRefused("The file contains binary data, so it is not a text or CSV "
                                  f"file. Upload a {ALLOWED_WORDS} file.")
    if decoder_tail:
        raise EvidenceRefused("The file is text that is not UTF-8 (it ends part-way through a "
                              "character). Save it as UTF-8.")
    if _scan(tmp, ACTIVE_MARKUP):
        raise EvidenceRefused("The file contains web page, SVG or script code, which is not "
                              "allowed in evidence.")
    if extension == ".csv":
        _check_csv_cells(tmp)
    if extension not in (".csv", ".txt"):
        raise EvidenceRefused(f"The file is text, so its name must end .txt or .csv, not "
                              f"{extension}.")
    return "csv" if extension == ".csv" else "txt"


def inspect(tmp, size, name):
    """Work out what the file is from its bytes; refuse anything not allowed."""
    if size == 0:
        raise EvidenceRefused("The selected file is empty.")
    extension = _extension(name)
    tmp.seek(0)
    kind = _detect(tmp.read(HEAD))
    if kind == "pdf":
        _check_pdf(tmp, size)
    elif kind == "png":
        _check_png(tmp, size)
    elif kind == "jpeg":
        _check_jpeg(tmp, size)
    elif kind == "zip":
        kind = _check_office(tmp)
    else:
        kind = _check_text(tmp, size, extension)
    content_type, extensions, words = KINDS[kind]
    if extension not in extensions:
        raise EvidenceRefused(f"The file is {words} but its name ends {extension}. Rename it to "
                              f"end {sorted(extensions)[0]} and upload it again.")
    return kind, content_type


def store(source, name, *, organisation, uploaded_by=None, evidence_type=""):
    """Check and store one upload; return the EvidenceFile. Raises EvidenceRefused.

    Identical content already held by the organisation is not stored twice: the existing record
    is returned, so one upload serves every claim it supports.
    """
    from pbr import audit

    from .models import EvidenceFile

    name = check_name(name)
    tmp, size, sha256 = spool(source, settings.EVIDENCE_MAX_BYTES)
    with tmp:
        kind, content_type = inspect(tmp, size, name)
        existing = EvidenceFile.objects.filter(organisation=organisation, sha256=sha256,
                                               evidence_type=evidence_type).first()
        if existing is not None:
            return existing
        storage = storages["evidence"]
        stored_name = f"{organisation.pk}/{uuid.uuid4().hex}{sorted(KINDS[kind][1])[0]}"
        tmp.seek(0)
        stored_name = storage.save(stored_name, File(tmp))
    try:
        with transaction.atomic():
            evidence = EvidenceFile.objects.create(
                organisation=organisation, evidence_type=evidence_type, original_name=name,
                stored_name=stored_name, content_type=content_type, size=size, sha256=sha256,
                uploaded_by=uploaded_by)
            audit.record("evidence.uploaded", actor=uploaded_by, obj=evidence,
                         organisation=organisation,
                         after={"sha256": sha256, "size": size, "content_type": content_type})
    except Exception:
        storage.delete(stored_name)
        raise
    return evidence


def open_stored(evidence):
    return storages["evidence"].open(evidence.stored_name, "rb")
