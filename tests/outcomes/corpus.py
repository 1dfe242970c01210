"""Malformed returns and hostile evidence files, generated in code (no binaries in the repo).

Each entry: (name, file bytes, file name, a problem code or message fragment expected).
"""

import io
import os
import struct
import zipfile
import zlib

HEADER = ("participant_ref,ni_number,date_of_birth,segment,start_date,outcome,achieved,started,"
          "step_from,step_to,grade,criteria_met,criteria_total,value,subcontractor,evidence")
GOOD = "CASE-1,AB123456C,1990-05-01,JSA_18_24,2011-06-15,attachment,2011-06-15,,,,,,,,,"


def csv_bytes(*lines, header=HEADER, encoding="utf-8"):
    return ("\n".join([header, *lines]) + "\n").encode(encoding)


def good_row(**changes):
    names = HEADER.split(",")
    values = dict(zip(names, GOOD.split(","), strict=True))
    values.update(changes)
    return ",".join(values[n] for n in names)


def zip_bytes(entries, compression=zipfile.ZIP_DEFLATED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bomb(extra=None):
    """One entry that inflates to 300 MB from a few hundred KB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(300):
                member.write(block)
    return buffer.getvalue()


def xlsx_bytes(rows):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def malformed_returns():
    junk = os.urandom(10 * 1024 * 1024)
    header_cells = HEADER.split(",")
    return [
        ("latin-1 encoding", csv_bytes(good_row(participant_ref="CAFÉ-1"), encoding="latin-1"),
         "r.csv", "bad-encoding"),
        ("utf-16 encoding", csv_bytes(good_row(), encoding="utf-16"), "r.csv", "bad-encoding"),
        ("10 MB of junk", junk, "r.csv", "bad-encoding"),
        ("NUL bytes", csv_bytes(good_row(participant_ref="CA\x00SE")), "r.csv", "binary-data"),
        ("empty file", b"", "r.csv", "empty"),
        ("PDF instead of CSV", b"%PDF-1.4\n%%EOF\n", "r.csv", "not-a-table"),
        ("missing outcome column",
         csv_bytes("CASE-1,AB123456C,1990-05-01,JSA_18_24,2011-06-15,2011-06-15",
                   header="participant_ref,ni_number,date_of_birth,segment,start_date,achieved"),
         "r.csv", "missing-column"),
        ("extra column", csv_bytes(good_row() + ",hello", header=HEADER + ",notes"), "r.csv",
         "unknown-column"),
        ("duplicate column", csv_bytes(good_row() + ",x", header=HEADER + ",outcome"), "r.csv",
         "duplicate-column"),
        ("blank heading", csv_bytes(good_row() + ",x", header=HEADER + ","), "r.csv",
         "blank-heading"),
        ("more cells than columns", csv_bytes(good_row() + ",surplus"), "r.csv", "extra-cell"),
        ("impossible date", csv_bytes(good_row(achieved="2012-02-30")), "r.csv",
         "impossible-date"),
        ("impossible month", csv_bytes(good_row(achieved="31/13/2012")), "r.csv",
         "impossible-date"),
        ("words for a date", csv_bytes(good_row(achieved="next tuesday")), "r.csv",
         "date-format"),
        ("future date", csv_bytes(good_row(achieved="2099-01-01")), "r.csv", "future-date"),
        ("after the period", csv_bytes(good_row(achieved="2013-07-01")), "r.csv",
         "after-period"),
        ("before the contract", csv_bytes(good_row(achieved="2010-01-01")), "r.csv",
         "before-contract"),
        ("negative value", csv_bytes(good_row(value="-5")), "r.csv", "negative"),
        ("negative criteria", csv_bytes(good_row(criteria_met="-1", criteria_total="3")),
         "r.csv", "negative"),
        ("value not a number", csv_bytes(good_row(value="lots")), "r.csv", "not-a-number"),
        ("value with too many places", csv_bytes(good_row(value="1.234")), "r.csv",
         "too-many-places"),
        ("unknown outcome", csv_bytes(good_row(outcome="world_peace")), "r.csv",
         "unknown-outcome"),
        ("unknown segment", csv_bytes(good_row(segment="VIP")), "r.csv", "unknown-segment"),
        ("unknown subcontractor", csv_bytes(good_row(subcontractor="NOBODY")), "r.csv",
         "unknown-subcontractor"),
        ("unknown evidence", csv_bytes(good_row(evidence="E999999")), "r.csv",
         "unknown-evidence"),
        ("steps on a one-off outcome", csv_bytes(good_row(step_from="1", step_to="2")), "r.csv",
         "steps-not-allowed"),
        ("duplicate rows", csv_bytes(good_row(), good_row()), "r.csv", "duplicate-row"),
        ("formula =", csv_bytes(good_row(participant_ref='"=HYPERLINK(""http://x"",""y"")"')),
         "r.csv", "formula"),
        ("formula +", csv_bytes(good_row(outcome="+cmd|' /C calc'!A0")), "r.csv", "formula"),
        ("formula @", csv_bytes(good_row(grade="@SUM(1+1)")), "r.csv", "formula"),
        ("formula -", csv_bytes(good_row(subcontractor="-2+3+cmd|' /C calc'!A0")), "r.csv",
         "formula"),
        ("bad NI number", csv_bytes(good_row(ni_number="123")), "r.csv", "bad-ni-number"),
        ("NI number without date of birth", csv_bytes(good_row(date_of_birth="")), "r.csv",
         "identifiers-incomplete"),
        ("new person without identifiers",
         csv_bytes(good_row(ni_number="", date_of_birth="")), "r.csv", "identifiers-required"),
        ("date of birth in the future", csv_bytes(good_row(date_of_birth="2090-01-01")),
         "r.csv", "impossible-date"),
        ("start date before the contract", csv_bytes(good_row(start_date="2001-01-01")),
         "r.csv", "start-out-of-range"),
        ("control characters", csv_bytes(good_row(participant_ref="CASE\x07")), "r.csv",
         "control-characters"),
        ("one bad row among good ones",
         csv_bytes(good_row(), good_row(participant_ref="CASE-2", ni_number="AB123457C",
                                        achieved="2011-13-01")), "r.csv", "impossible-date"),
        ("xlsx formula cell", xlsx_bytes([header_cells, [
            "CASE-1", "AB123456C", "1990-05-01", "JSA_18_24", "2011-06-15", "attachment",
            "2011-06-15", None, None, None, None, None, None, "=1+1"]]), "r.xlsx", "formula"),
        ("xlsx zip bomb", zip_bomb(), "r.xlsx", "bad-xlsx"),
        ("zip that is not a workbook", zip_bytes({"a.txt": "hello"}), "r.xlsx", "bad-xlsx"),
        ("indicator unknown", csv_bytes("nope,,5", header="indicator,measure_period,value"),
         "i.csv", "unknown-indicator"),
    ]


# --- evidence --------------------------------------------------------------------------------


def png_bytes(trailer=b""):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"") + trailer)


def jpeg_bytes(middle=b""):
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + middle \
        + b"\xff\xd9"


def pdf_bytes(body=b"1 0 obj << /Type /Catalog >> endobj\n"):
    return b"%PDF-1.4\n" + body + b"trailer << /Root 1 0 R >>\n%%EOF\n"


def docx_bytes(extra=None):
    entries = {"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>"}
    entries.update(extra or {})
    return zip_bytes(entries)


def hostile_evidence():
    return [
        ("Windows program renamed .pdf", b"MZ\x90\x00" + b"\x00" * 200, "report.pdf",
         "Windows program"),
        ("Linux program renamed .png", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "photo.png",
         "Linux program"),
        ("shell script as .txt", b"#!/bin/sh\nrm -rf /\n", "notes.txt", "script"),
        ("HTML page as .txt", b"<html><body><script>alert(1)</script></body></html>",
         "notes.txt", "web page"),
        ("SVG with script as .png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)'
         b"</script></svg>", "photo.png", "web page"),
        ("SVG as .svg", b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>', "a.svg",
         "web page"),
        ("PHP in a text file", b"hello <?php system($_GET['c']); ?>", "a.txt", "web page"),
        ("javascript: link in CSV", b"name,link\nx,javascript:alert(1)\n", "a.csv",
         "web page"),
        ("CSV with formula cells", b"name,total\nx,=1+1\n", "a.csv", "formula"),
        ("zip bomb as .docx", zip_bomb({"word/document.xml": "<w:document/>"}), "big.docx",
         "archive bomb"),
        ("path traversal inside .docx", docx_bytes({"../../evil.sh": "boom"}), "a.docx",
         "unsafe path"),
        ("macro-enabled document", docx_bytes({"word/vbaProject.bin": "macro"}), "a.docx",
         "macros"),
        ("plain zip as .docx", zip_bytes({"a.txt": "hello"}), "a.docx", "not a Word"),
        ("old OLE Office file", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "a.docx",
         "macros"),
        ("GIF with script (GIFAR)", b"GIF89a<script>alert(1)</script>", "a.png", "GIF"),
        ("PDF with JavaScript", pdf_bytes(b"1 0 obj << /OpenAction << /S /JavaScript /JS "
                                          b"(app.alert(1)) >> >> endobj\n"), "a.pdf",
         "active content"),
        ("PDF with a zip appended (polyglot)", pdf_bytes() + zip_bytes({"x.txt": "x"}),
         "a.pdf", "archive hidden"),
        ("PDF with HTML inside (polyglot)", pdf_bytes(b"<html><script>x</script></html>\n"),
         "a.pdf", "web page"),
        ("PNG with HTML after the end", png_bytes(b"<script>alert(1)</script>"), "a.png",
         "after its end"),
        ("JPEG with script inside", jpeg_bytes(b"<script>alert(1)</script>"), "a.jpg",
         "web page"),
        ("PNG renamed .pdf", png_bytes(), "a.pdf", "name ends .pdf"),
        ("path traversal in the name", b"hello", "../../etc/passwd.txt", "folder path"),
        ("backslash path in the name", b"hello", "..\\..\\boot.txt", "folder path"),
        ("absolute path in the name", b"hello", "/etc/passwd.txt", "folder path"),
        ("hidden dot name", b"hello", ".htaccess", "folder path"),
        ("control character in the name", b"hello", "a\x00b.txt", "control characters"),
        ("no extension", b"hello", "README", "must end with its type"),
        ("empty file", b"", "a.txt", "empty"),
        ("latin-1 text", "café".encode("latin-1"), "a.txt", "not UTF-8"),
        ("binary junk as .txt", b"\x01\x02\x03\x04" * 100, "a.txt", "binary data"),
    ]


def good_evidence():
    return [
        ("a.pdf", pdf_bytes(), "application/pdf"),
        ("a.png", png_bytes(), "image/png"),
        ("a.jpg", jpeg_bytes(b"\x00" * 20), "image/jpeg"),
        ("a.docx", docx_bytes(), "application/vnd.openxmlformats-officedocument."
                                 "wordprocessingml.document"),
        ("a.xlsx", xlsx_bytes([["a", 1]]), "application/vnd.openxmlformats-officedocument."
                                            "spreadsheetml.sheet"),
        ("a.csv", b"name,total\nx,-5\ny,12\n", "text/csv"),
        ("a.txt", "Letter confirming tenancy, £5 — thanks\n".encode(), "text/plain"),
    ]
