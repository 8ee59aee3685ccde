"""What an upload is, from its first bytes (and a zip's table of contents), not its name.

CSV (any delimiter, UTF-8/UTF-16/Windows-1252), XLSX and Parquet are read. Formats people often
have instead — ODS, legacy XLS, JSON, HTML, PDF, … — are named in a 415 that says how to get one
of the three; a name that promises XLSX or Parquet over other content is called renamed.
"""

from __future__ import annotations

import re
import zipfile
from typing import BinaryIO

from backend.errors import InvalidInput, UnsupportedFormat

ACCEPTED = "CSV (comma, semicolon, tab or | separated), XLSX or Parquet"
EXTENSIONS = {
    "csv": "csv",
    "tsv": "csv",
    "txt": "csv",
    "xlsx": "xlsx",
    "parquet": "parquet",
    "pq": "parquet",
}
SAVE_AS_XLSX = "open it in a spreadsheet and save it as Excel Workbook (.xlsx) or CSV"
EXPORT_CSV = "export the table as CSV, one row per household and one 0/1 column per product"

# Leading bytes → what the file is, how to turn it into something accepted.
MAGIC: list[tuple[bytes, str, str]] = [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls)", SAVE_AS_XLSX),
    (b"\x1f\x8b", "a gzip-compressed file", "decompress it and upload the file inside"),
    (b"BZh", "a bzip2-compressed file", "decompress it and upload the file inside"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "decompress it and upload the file inside"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it and upload the file inside"),
    (b"Rar!", "a RAR archive", "extract it and upload the file inside"),
    (b"%PDF", "a PDF document", EXPORT_CSV + " from the program that made the PDF"),
    (b"SQLite format 3\x00", "an SQLite database", EXPORT_CSV),
    (b"ARROW1", "an Arrow/Feather file", "save it as Parquet (pandas: DataFrame.to_parquet)"),
    (b"\x89PNG", "a PNG image", EXPORT_CSV),
    (b"\xff\xd8\xff", "a JPEG image", EXPORT_CSV),
    (b"GIF8", "a GIF image", EXPORT_CSV),
    (b"$FL2", "an SPSS data file (.sav)", EXPORT_CSV),
    (b"{\\rtf", "an RTF document", EXPORT_CSV),
]
HTML_START = re.compile(rb"<(!doctype\s+html|html|head|body|table|meta|div|title)\b", re.I)
ZIP_KINDS: list[tuple[str, str, str]] = [
    ("word/", "a Word document (.docx)", EXPORT_CSV),
    ("ppt/", "a PowerPoint presentation (.pptx)", EXPORT_CSV),
    ("xl/workbook.bin", "an Excel binary workbook (.xlsb)", SAVE_AS_XLSX),
    ("Index/Document.iwa", "an Apple Numbers file", "in Numbers, File › Export To › Excel or CSV"),
]
OPEN_DOCUMENT = {
    "application/vnd.oasis.opendocument.spreadsheet": (
        "an OpenDocument spreadsheet (.ods)",
        "in LibreOffice or OpenOffice, File › Save As › Excel 2007-365 (.xlsx) or Text CSV",
    ),
}


def unsupported(filename: str | None, what: str, how: str) -> UnsupportedFormat:
    named = f'"{filename}"' if filename else "The file"
    return UnsupportedFormat(
        f"{named} is {what}, which this service does not read. Upload {ACCEPTED}: {how}."
    )


def detect_format(source: BinaryIO, filename: str | None) -> str:
    """The format to read ("csv", "xlsx" or "parquet"); anything else is refused naming it."""
    source.seek(0)
    head = source.read(4096)
    source.seek(0)
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:2] == b"PK":
        return _zip_kind(source, filename)
    for magic, what, how in MAGIC:
        if head.startswith(magic):
            raise unsupported(filename, what, how)
    _refuse_markup(head, filename)
    ext = (filename or "").rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
    if EXTENSIONS.get(ext, "csv") != "csv":
        raise InvalidInput(f'"{filename}" does not look like a {ext.upper()} file; was it renamed?')
    return "csv"


def _refuse_markup(head: bytes, filename: str | None) -> None:
    """JSON, HTML and XML, recognised after a byte-order mark and leading white space."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"{") or re.match(rb"\[\s*([\[{\"\]]|-?\d|true|false|null)", text):
        raise unsupported(filename, "JSON", EXPORT_CSV + " (pandas: pd.read_json(...).to_csv())")
    if HTML_START.match(text):
        raise unsupported(
            filename, "an HTML page", "open it in a spreadsheet and save the table as XLSX or CSV"
        )
    if text.startswith(b"<?xml"):
        if b"urn:schemas-microsoft-com:office:spreadsheet" in head:
            raise unsupported(filename, "an Excel 2003 XML spreadsheet", SAVE_AS_XLSX)
        raise unsupported(filename, "an XML document", EXPORT_CSV)


def _zip_kind(source: BinaryIO, filename: str | None) -> str:
    """A zip is an XLSX when it holds a workbook; ODS, DOCX, … are named; the rest is damaged."""
    try:
        with zipfile.ZipFile(source) as archive:
            names = archive.namelist()
            mimetype = ""
            if "mimetype" in names:
                with archive.open("mimetype") as entry:  # read 100 bytes of it, however large
                    mimetype = entry.read(100).decode("ascii", "replace").strip()
    except (zipfile.BadZipFile, OSError, KeyError):
        return "xlsx"  # refused as a damaged workbook by the XLSX reader
    finally:
        source.seek(0)
    if "xl/workbook.xml" in names:
        return "xlsx"
    if mimetype in OPEN_DOCUMENT:
        raise unsupported(filename, *OPEN_DOCUMENT[mimetype])
    if mimetype.startswith("application/vnd.oasis.opendocument"):
        raise unsupported(filename, "an OpenDocument file that is not a spreadsheet", EXPORT_CSV)
    for prefix, what, how in ZIP_KINDS:
        if any(name.startswith(prefix) for name in names):
            raise unsupported(filename, what, how)
    if (filename or "").lower().endswith(".xlsx"):
        listed = ", ".join(names[:3]) or "nothing"
        raise InvalidInput(
            f"The XLSX file could not be read: the zip archive holds no workbook "
            f"(xl/workbook.xml), only {listed}."
        )
    listed = ", ".join(f'"{n}"' for n in names[:3]) or "nothing"
    raise unsupported(filename, f"a zip archive (holding {listed})", "extract the file inside")
