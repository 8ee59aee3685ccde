"""Factories for upload files the tests build on the fly: workbooks written as raw XML (fast to
make, slow to parse, as real ones are) and wide or long CSVs."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from xml.sax.saxutils import escape

import numpy as np

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>{sheets}</Types>'
)
SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)


def _cell(value: object) -> str:
    if value is None:
        return "<c/>"
    if isinstance(value, str):
        return f'<c t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'
    if isinstance(value, bool):
        return f'<c t="b"><v>{int(value)}</v></c>'
    return f"<c><v>{value}</v></c>"


def sheet_xml(rows: Sequence[Sequence[object]], merged: Sequence[str] = ()) -> str:
    """A worksheet's XML: one <row> per row (None is an empty cell), then merged ranges."""
    body = "".join("<row>" + "".join(_cell(v) for v in row) + "</row>" for row in rows)
    merges = ""
    if merged:
        refs = "".join(f'<mergeCell ref="{ref}"/>' for ref in merged)
        merges = f'<mergeCells count="{len(merged)}">{refs}</mergeCells>'
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}">'
        f"<sheetData>{body}</sheetData>{merges}</worksheet>"
    )


def _entry(archive: zipfile.ZipFile, name: str, data: str | bytes) -> None:
    """A zip entry with a fixed date, so the same content makes the same bytes."""
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def workbook(sheets: dict[str, str]) -> bytes:
    """An XLSX with these sheets (name → sheet XML), in order."""
    names = list(sheets)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        types = "".join(SHEET_TYPE.format(n=i + 1) for i in range(len(names)))
        _entry(archive, "[Content_Types].xml", CONTENT_TYPES.format(sheets=types))
        _entry(
            archive,
            "_rels/.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{RELS}">'
            f'<Relationship Id="rId1" Type="{DOC_RELS}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        entries = "".join(
            f'<sheet name="{escape(name)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
            for i, name in enumerate(names)
        )
        _entry(
            archive,
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" '
            f'xmlns:r="{DOC_RELS}"><sheets>{entries}</sheets></workbook>',
        )
        links = "".join(
            f'<Relationship Id="rId{i + 1}" Type="{DOC_RELS}/worksheet" '
            f'Target="worksheets/sheet{i + 1}.xml"/>'
            for i in range(len(names))
        )
        _entry(
            archive,
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{RELS}">{links}'
            "</Relationships>",
        )
        for i, name in enumerate(names):
            _entry(archive, f"xl/worksheets/sheet{i + 1}.xml", sheets[name])
    return buffer.getvalue()


def binary_rows(n_rows: int, n_products: int, seed: int = 0) -> list[list[object]]:
    """A header (id, p1..pK) and n_rows households with text IDs and random 0/1 purchases."""
    values = np.random.default_rng(seed).integers(0, 2, size=(n_rows, n_products)).tolist()
    header: list[object] = ["id", *[f"p{j + 1}" for j in range(n_products)]]
    return [header, *([f"H{i:06d}", *row] for i, row in enumerate(values))]


def large_xlsx(n_rows: int, n_products: int = 20) -> bytes:
    """A one-sheet workbook of n_rows households: openpyxl needs seconds for tens of thousands."""
    return workbook({"Sheet1": sheet_xml(binary_rows(n_rows, n_products))})
