"""The hostile upload corpus (tests/corpus/hostile/): each case is a file, the form fields sent
with it, and what must happen — stored with exactly these values, or refused with a 4xx whose
detail holds these words.

The files are built here and written by `python tests/corpus/make_hostile.py`;
tests/test_hostile_uploads.py checks that the committed files are what these builders make.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tests.support.uploads import sheet_xml, workbook

# Twelve households: IDs with leading zeros, three products (none constant).
IDS = ["007", "008", "009", "010", "011", "012", "013", "014", "015", "016", "017", "018"]
P1 = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1]
P2 = [0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 1, 0]
P3 = [1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 1]
HEADER = ["id", "p1", "p2", "p3"]
ROWS = [[i, a, b, c] for i, a, b, c in zip(IDS, P1, P2, P3, strict=True)]
LONG = [str(10**18 + 7 * k) for k in range(12)]  # 19 digits: a float keeps 15-17 of them


@dataclass(frozen=True)
class Stored:
    """Accepted: every stored column in order, value by value (text as str, products as 0/1,
    None for missing), the blank rows counted, and words some note must hold."""

    columns: dict[str, list[Any]]
    n_blank_rows: int = 0
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refused:
    status: int
    words: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    filename: str
    build: Callable[[], bytes]
    expect: Stored | Refused
    form: dict[str, str] = field(default_factory=dict)


def reference(ids: list[Any] = IDS, **extra: list[Any]) -> dict[str, list[Any]]:
    return {"id": list(ids), "p1": P1, "p2": P2, "p3": P3, **extra}


def csv(
    rows: list[list[Any]] = ROWS,
    header: list[str] = HEADER,
    sep: str = ",",
    eol: str = "\n",
    before: str = "",
    encoding: str = "utf-8",
) -> Callable[[], bytes]:
    def build() -> bytes:
        lines = [sep.join(header)] + [
            sep.join("" if v is None else str(v) for v in r) for r in rows
        ]
        return (before + eol.join(lines) + eol).encode(encoding)

    return build


def raw(text: str | bytes, encoding: str = "utf-8") -> Callable[[], bytes]:
    return lambda: text if isinstance(text, bytes) else text.encode(encoding)


def xlsx(
    sheets: dict[str, list[list[Any]]], merged: dict[str, list[str]] | None = None
) -> Callable[[], bytes]:
    merged = merged or {}
    return lambda: workbook({n: sheet_xml(rows, merged.get(n, [])) for n, rows in sheets.items()})


def parquet(table: Callable[[], pa.Table]) -> Callable[[], bytes]:
    def build() -> bytes:
        buffer = io.BytesIO()
        pq.write_table(table(), buffer)
        return buffer.getvalue()

    return build


def zipped(entries: dict[str, str | bytes]) -> Callable[[], bytes]:
    def build() -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in entries.items():
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                archive.writestr(info, data)
        return buffer.getvalue()

    return build


def products_frame(ids: list[Any]) -> pd.DataFrame:
    return pd.DataFrame({"p1": P1, "p2": P2, "p3": P3}, index=pd.Index(ids, name="household_id"))


def arrow(**columns: pa.Array) -> Callable[[], pa.Table]:
    return lambda: pa.table(columns)


def ints(values: list[int]) -> pa.Array:
    return pa.array(values, pa.int64())


def reference_parquet(**columns: pa.Array) -> Callable[[], bytes]:
    """The reference purchases as Parquet (text IDs, int64 products), with `columns` in place
    of its own: the one column a case changes."""
    table = {"id": pa.array(IDS), "p1": ints(P1), "p2": ints(P2), "p3": ints(P3)}
    unknown = set(columns) - set(table)
    assert not unknown, f"reference_parquet replaces columns, it does not add {unknown}"
    return parquet(arrow(**{**table, **columns}))


def refused(status: int, *words: str) -> Refused:
    return Refused(status, words)


ODS_MIME = "application/vnd.oasis.opendocument.spreadsheet"
CSV_TEXT = csv()().decode()
BLANK_MID = "\n".join([",".join(HEADER)] + [",".join(map(str, r)) for r in ROWS[:5]])
SHEET = [HEADER, *ROWS]
HASH_ROWS = [[f"#{i}", a, b, c] for i, a, b, c in zip(IDS, P1, P2, P3, strict=True)]
SPACED = [["H 1", *ROWS[0][1:]], *ROWS[1:]]
UNICODE_IDS = ["Zoë", "東京-1", "naïve", "Ωmega", "ß", "😀", "a\u00a0b", "Ä", "ø", "é", "ñ", "ç"]
FORMULA_IDS = ["=1+1", "-5", "+3", "@SUM(A1)", "=HYPERLINK(1)", *IDS[5:]]
NUMBERISH = ["1e3", "1.50", "+7", "0x1F", "-0", "1_000", "0.0", "1.0", "inf", "nan1", "٣", "07"]
DUPLICATE_IDS = [*IDS[:10], IDS[2], IDS[2]]
MISSING_IDS = [*IDS[:4], None, *IDS[5:9], None, *IDS[10:]]


def _rows(ids: list[Any]) -> list[list[Any]]:
    return [[i, a, b, c] for i, a, b, c in zip(ids, P1, P2, P3, strict=True)]


def _blank_csv(line: str, at: tuple[int, ...], eol: str = "\n") -> Callable[[], bytes]:
    def build() -> bytes:
        lines = [",".join(HEADER)]
        for k, row in enumerate(ROWS):
            lines += [line] * at.count(k)
            lines.append(",".join(map(str, row)))
        return (eol.join(lines) + eol).encode()

    return build


CASES: list[Case] = [
    # --- CSV: IDs are text exactly as written ---
    Case("leading_zero_ids.csv", csv(), Stored(reference())),
    Case(
        "long_ids_one_blank.csv",
        csv(_rows([*LONG[:3], None, *LONG[4:]])),
        Stored(reference([*LONG[:3], None, *LONG[4:]])),
    ),
    Case(
        "long_ids_one_blank_as_id.csv",
        csv(_rows([*LONG[:3], None, *LONG[4:]])),
        refused(422, '"id"', "1 row(s) have no ID", "line 5"),
        {"id_column": "id"},
    ),
    Case("number_like_ids.csv", csv(_rows(NUMBERISH)), Stored(reference(NUMBERISH))),
    Case(
        "seven_and_007.csv",
        csv(_rows(["7", "007", *IDS[2:]])),
        Stored(reference(["7", "007", *IDS[2:]])),
        {"id_column": "id"},
    ),
    Case(
        "case_differs.csv",
        csv(_rows(["h1", "H1", *IDS[2:]])),
        Stored(reference(["h1", "H1", *IDS[2:]])),
        {"id_column": "id"},
    ),
    Case("unicode_ids.csv", csv(_rows(UNICODE_IDS)), Stored(reference(UNICODE_IDS))),
    Case(
        "cp1252_ids.csv",
        csv(_rows(["Zoë", "Müller", *IDS[2:]]), encoding="cp1252"),
        Stored(reference(["Zoë", "Müller", *IDS[2:]])),
    ),
    Case("formula_like_ids.csv", csv(_rows(FORMULA_IDS)), Stored(reference(FORMULA_IDS))),
    Case(
        "quoted_ids_with_commas.csv",
        csv(_rows(['"A,1"', '"B ""2"""', *IDS[2:]])),
        Stored(reference(["A,1", 'B "2"', *IDS[2:]])),
    ),
    Case("inner_spaces_kept.csv", csv(SPACED), Stored(reference(["H 1", *IDS[1:]]))),
    Case("hash_ids_are_data.csv", csv(HASH_ROWS), Stored(reference([f"#{i}" for i in IDS]))),
    Case(
        "utf16_tabs_leading_zeros.txt",
        csv(sep="\t", eol="\r\n", encoding="utf-16"),
        Stored(reference()),
    ),
    Case(
        "numeric_feature_is_text.csv",
        csv([[*r, f"{5 * k:04d}"] for k, r in enumerate(ROWS)], [*HEADER, "income"]),
        Stored(reference(income=[f"{5 * k:04d}" for k in range(12)])),
    ),
    Case("id_column_checked_ok.csv", csv(), Stored(reference()), {"id_column": "id"}),
    # --- CSV: Excel's sep= hint, comment lines ---
    Case(
        "sep_hint_semicolon.csv",
        csv(sep=";", before="sep=;\n"),
        Stored(reference(), notes=("sep=;",)),
    ),
    Case(
        "sep_hint_pipe.csv",
        csv(sep="|", before="sep=|\r\n", eol="\r\n"),
        Stored(reference(), notes=("sep=|",)),
    ),
    Case(
        "sep_hint_tab.csv",
        csv(sep="\t", before="sep=\t\n"),
        Stored(reference(), notes=("delimiter",)),
    ),
    Case(
        "bom_then_sep_hint.csv",
        lambda: b"\xef\xbb\xbf" + csv(sep=";", before="sep=;\n")(),
        Stored(reference(), notes=("sep=;",)),
    ),
    Case(
        "sep_hint_contradicted.csv",
        csv(before="sep=;\n"),
        refused(422, 'single column named "id,p1,p2,p3"', 'separated by ","', '"sep=;"'),
    ),
    Case(
        "comment_lines_on_top.csv",
        csv(before="# exported 2024-01-01\n#by tool x\n"),
        Stored(reference(), notes=("2 comment line(s)", "line 1, 2")),
    ),
    Case(
        "comment_line_in_data.csv",
        raw(BLANK_MID + "\n# subtotal\n" + CSV_TEXT.split("\n", 6)[6]),
        Stored(reference(), notes=("1 comment line(s)", "line 7")),
    ),
    Case("comments_only.csv", raw("# nothing\n# here\n"), refused(422, "only comment lines")),
    Case("sep_hint_only.csv", raw("sep=;\n"), refused(422, "empty")),
    # --- CSV: blank lines are dropped and counted ---
    Case(
        "blank_lines_between.csv",
        _blank_csv("", (3, 3, 8)),
        Stored(reference(), n_blank_rows=3, notes=("3 blank line(s)",)),
    ),
    Case(
        "delimiter_only_lines.csv", _blank_csv(",,,", (2, 9)), Stored(reference(), n_blank_rows=2)
    ),
    Case("whitespace_lines.csv", _blank_csv("   ", (1,)), Stored(reference(), n_blank_rows=1)),
    Case(
        "crlf_blank_lines.csv",
        _blank_csv("", (4, 5), eol="\r\n"),
        Stored(reference(), n_blank_rows=2),
    ),
    Case(
        "cr_only_blank_lines.csv",
        _blank_csv("", (6,), eol="\r"),
        Stored(reference(), n_blank_rows=1),
    ),
    Case(
        "trailing_blank_lines.csv", raw(CSV_TEXT + "\n\n,,,\n"), Stored(reference(), n_blank_rows=0)
    ),
    Case("leading_blank_lines.csv", raw("\n\n" + CSV_TEXT), Stored(reference())),
    Case(
        "only_blank_data.csv", raw(",".join(HEADER) + "\n\n\n,,,\n"), refused(422, "0 data row(s)")
    ),
    # --- CSV: products as 0/1/missing ---
    Case(
        "na_tokens_in_products.csv",
        csv(
            [
                [r[0], "NA" if k == 1 else r[1], "" if k == 2 else r[2], "null" if k == 3 else r[3]]
                for k, r in enumerate(ROWS)
            ]
        ),
        Stored(
            reference(
                p1=[None if k == 1 else v for k, v in enumerate(P1)],
                p2=[None if k == 2 else v for k, v in enumerate(P2)],
                p3=[None if k == 3 else v for k, v in enumerate(P3)],
            )
        ),
    ),
    Case(
        "true_false_any_case.csv",
        csv([[r[0], ["false", "True"][r[1]], ["FALSE", "TRUE"][r[2]], r[3]] for r in ROWS]),
        Stored(reference()),
    ),
    Case(
        "decimal_spellings.csv",
        csv(
            [
                [r[0], ["0.000", "1.00"][r[1]], ["-0", "+1"][r[2]], ["0e0", "1E0"][r[3]]]
                for r in ROWS
            ]
        ),
        Stored(reference()),
    ),
    # --- CSV: IDs checked when named at upload ---
    Case(
        "duplicate_ids.csv",
        csv(_rows(DUPLICATE_IDS)),
        refused(422, '"id"', "1 ID(s) are repeated", '"009" (3 rows)'),
        {"id_column": "id"},
    ),
    Case(
        "missing_ids.csv",
        csv(_rows(MISSING_IDS)),
        refused(422, "2 row(s) have no ID", "line 6, 11"),
        {"id_column": "id"},
    ),
    Case(
        "binary_id_column.csv", csv(), refused(422, '"p1"', "only 0/1 values"), {"id_column": "p1"}
    ),
    Case(
        "unknown_id_column.csv",
        csv(),
        refused(422, '"household"', "ID"),
        {"id_column": "household"},
    ),
    Case("sheet_field_on_csv.csv", csv(), refused(422, '"sheet"', "XLSX"), {"sheet": "Data"}),
    # --- not CSV, XLSX or Parquet: named, with how to get one ---
    Case(
        "export.json",
        raw('[{"id": "007", "p1": 1}]'),
        refused(415, "JSON", "CSV", "XLSX", "Parquet"),
    ),
    Case("json_named_csv.csv", raw('{"households": []}'), refused(415, "JSON")),
    Case("lines.jsonl", raw('{"id": "007"}\n{"id": "008"}\n'), refused(415, "JSON")),
    Case(
        "page.html",
        raw("<!DOCTYPE html><html><body><table><tr><td>id</td></tr></table></body></html>"),
        refused(415, "HTML page"),
    ),
    Case(
        "table_fragment.csv",
        raw("<table><tr><th>id</th><th>p1</th></tr></table>"),
        refused(415, "HTML page"),
    ),
    Case(
        "excel_2003.xml",
        raw(
            '<?xml version="1.0"?>'
            '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>'
        ),
        refused(415, "Excel 2003 XML"),
    ),
    Case(
        "plain.xml",
        raw('<?xml version="1.0"?><rows><row id="007"/></rows>'),
        refused(415, "XML document"),
    ),
    Case(
        "legacy.xls",
        raw(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)),
        refused(415, "Excel 97-2003", ".xlsx"),
    ),
    Case(
        "sheet.ods",
        zipped({"mimetype": ODS_MIME, "content.xml": "<office:document-content/>"}),
        refused(415, "OpenDocument spreadsheet", "Save As"),
    ),
    Case(
        "letter.docx",
        zipped({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>"}),
        refused(415, "Word document"),
    ),
    Case(
        "binary.xlsb",
        zipped({"[Content_Types].xml": "<Types/>", "xl/workbook.bin": b"\x00"}),
        refused(415, ".xlsb"),
    ),
    Case(
        "data.zip",
        zipped({"data.csv": CSV_TEXT}),
        refused(415, "zip archive", '"data.csv"', "extract"),
    ),
    Case("data.csv.gz", raw(b"\x1f\x8b\x08\x00" + bytes(20)), refused(415, "gzip")),
    Case("report.pdf", raw(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), refused(415, "PDF")),
    Case(
        "frame.feather",
        raw(b"ARROW1\x00\x00" + bytes(16)),
        refused(415, "Arrow/Feather", "Parquet"),
    ),
    Case("store.sqlite", raw(b"SQLite format 3\x00" + bytes(84)), refused(415, "SQLite")),
    Case("notes.rtf", raw("{\\rtf1\\ansi id p1}"), refused(415, "RTF")),
    # --- XLSX ---
    Case("text_ids_leading_zeros.xlsx", xlsx({"Sheet1": SHEET}), Stored(reference())),
    Case(
        "numeric_id_cells.xlsx",
        xlsx({"Sheet1": [HEADER, *_rows([1001 + k for k in range(12)])]}),
        Stored(reference([str(1001 + k) for k in range(12)])),
    ),
    Case(
        "float_id_cells.xlsx",
        xlsx({"Sheet1": [HEADER, *_rows([1.5 + k for k in range(12)])]}),
        Stored(reference([str(1.5 + k) for k in range(12)])),
    ),
    Case(
        "boolean_cells.xlsx",
        xlsx({"Sheet1": [HEADER, *[[r[0], bool(r[1]), bool(r[2]), r[3]] for r in ROWS]]}),
        Stored(reference()),
    ),
    Case(
        "float_binary_cells.xlsx",
        xlsx({"Sheet1": [HEADER, *[[r[0], float(r[1]), r[2], r[3]] for r in ROWS]]}),
        Stored(reference()),
    ),
    Case(
        "data_on_second_sheet.xlsx",
        xlsx({"Cover": [], "Households": SHEET}),
        Stored(reference(), notes=('"Households"', "only sheet")),
    ),
    Case(
        "pick_sheet_by_field.xlsx",
        xlsx({"Notes": [["written by", "me"], ["on", "monday"]], "Households": SHEET}),
        Stored(reference()),
        {"sheet": "Households"},
    ),
    Case(
        "first_sheet_and_another.xlsx",
        xlsx({"Households": SHEET, "Totals": [["total", 12]]}),
        Stored(reference(), notes=('"Totals" also hold data', '"sheet" form field')),
    ),
    Case(
        "two_data_sheets_first_empty.xlsx",
        xlsx({"Empty": [], "A": SHEET, "B": SHEET}),
        refused(422, '"Empty" is empty', '"A", "B"', '"sheet" form field'),
    ),
    Case(
        "unknown_sheet.xlsx",
        xlsx({"Households": SHEET}),
        refused(422, 'no sheet "Nope"', '"Households"'),
        {"sheet": "Nope"},
    ),
    Case(
        "all_sheets_empty.xlsx",
        xlsx({"One": [], "Two": [[None, None]]}),
        refused(422, "XLSX", '"One", "Two"', "empty"),
    ),
    Case(
        "blank_rows_between.xlsx",
        xlsx({"Sheet1": [*SHEET[:4], [], [None, None], *SHEET[4:]]}),
        Stored(reference(), n_blank_rows=2, notes=("2 blank sheet row(s)",)),
    ),
    Case("leading_empty_rows.xlsx", xlsx({"Sheet1": [[], [], *SHEET]}), Stored(reference())),
    Case(
        "header_wider_than_table.xlsx",
        xlsx({"Sheet1": [[*HEADER, None, None], *ROWS]}),
        Stored(reference()),
    ),
    Case(
        "merged_ids.xlsx",
        xlsx({"Sheet1": [*SHEET[:3], [None, 1, 0, 1], *SHEET[4:]]}, {"Sheet1": ["A3:A4"]}),
        refused(422, "merged", "A3:A4", "Unmerge"),
    ),
    Case(
        "merged_header.xlsx",
        xlsx({"Sheet1": SHEET}, {"Sheet1": ["B1:C1", "D5:D6"]}),
        refused(422, "2 merged", "B1:C1", "D5:D6"),
    ),
    Case(
        "value_right_of_header.xlsx",
        xlsx({"Sheet1": [*SHEET[:5], [*ROWS[4], None, "x"], *SHEET[6:]]}),
        refused(422, "Sheet row 6", "column F"),
    ),
    Case(
        "duplicate_ids.xlsx",
        xlsx({"Sheet1": [HEADER, *_rows(DUPLICATE_IDS)]}),
        refused(422, "repeated", '"009" (3 rows)'),
        {"id_column": "id"},
    ),
    Case(
        "missing_ids.xlsx",
        xlsx({"Sheet1": [HEADER, *_rows(MISSING_IDS)]}),
        refused(422, "2 row(s) have no ID", "sheet row 6, 11"),
        {"id_column": "id"},
    ),
    # --- Parquet ---
    Case(
        "named_index.parquet",
        parquet(lambda: pa.Table.from_pandas(products_frame(IDS))),
        Stored(
            {"household_id": IDS, "p1": P1, "p2": P2, "p3": P3}, notes=('index "household_id"',)
        ),
    ),
    Case(
        "unnamed_index.parquet",
        parquet(
            lambda: pa.Table.from_pandas(
                pd.DataFrame({"p1": P1, "p2": P2, "p3": P3}, index=[10 * k for k in range(12)])
            )
        ),
        Stored(
            {"index": [str(10 * k) for k in range(12)], "p1": P1, "p2": P2, "p3": P3},
            notes=('"index"',),
        ),
    ),
    Case(
        "bytes_ids.parquet",
        reference_parquet(id=pa.array([f"H{k:04d}".encode() for k in range(12)], pa.binary())),
        Stored(reference([f"H{k:04d}" for k in range(12)])),
    ),
    Case(
        "invalid_utf8_bytes.parquet",
        parquet(
            arrow(
                id=pa.array([b"\xff\xfe"] * 12, pa.binary()), p1=ints(P1), p2=ints(P2), p3=ints(P3)
            )
        ),
        refused(422, '"id"', "not UTF-8"),
    ),
    Case(
        "big_int_ids_with_null.parquet",
        reference_parquet(id=pa.array([2**62 + k for k in range(11)] + [None], pa.int64())),
        Stored(reference([str(2**62 + k) for k in range(11)] + [None])),
    ),
    Case(
        "dictionary_ids.parquet",
        reference_parquet(id=pa.array(IDS).dictionary_encode()),
        Stored(reference()),
    ),
    Case(
        "large_string_ids.parquet",
        reference_parquet(id=pa.array(IDS, pa.large_string())),
        Stored(reference()),
    ),
    Case(
        "string_na_is_text.parquet",
        parquet(
            arrow(id=pa.array(["NA", "null", *IDS[2:]]), p1=ints(P1), p2=ints(P2), p3=ints(P3))
        ),
        Stored(reference(["NA", "null", *IDS[2:]])),
    ),
    Case(
        "bool_products_with_null.parquet",
        reference_parquet(p1=pa.array([bool(v) for v in P1[:-1]] + [None])),
        Stored(reference(p1=[*P1[:-1], None])),
    ),
    Case(
        "decimal_binary.parquet",
        reference_parquet(p1=pa.array([decimal.Decimal(v) for v in P1], pa.decimal128(5, 2))),
        Stored(reference()),
    ),
    Case(
        "float_binary_with_nan.parquet",
        reference_parquet(p1=pa.array([float(v) for v in P1[:-1]] + [float("nan")])),
        Stored(reference(p1=[*P1[:-1], None])),
    ),
    Case(
        "date_column.parquet",
        parquet(
            arrow(
                id=pa.array(IDS),
                since=pa.array([dt.date(2024, 1, 1 + k) for k in range(12)]),
                p1=ints(P1),
                p2=ints(P2),
                p3=ints(P3),
            )
        ),
        Stored(
            {
                "id": IDS,
                "since": [f"2024-01-{1 + k:02d}" for k in range(12)],
                "p1": P1,
                "p2": P2,
                "p3": P3,
            }
        ),
    ),
    Case(
        "decimals_in_products.parquet",
        reference_parquet(p1=pa.array([0.5, 0.25, *map(float, P1[2:])])),
        refused(422, '"p1" has values other than 0/1: 0.5, 0.25'),
        {"product_columns": "p1,p2"},
    ),
    Case(
        "decimal_type_products.parquet",
        reference_parquet(
            p1=pa.array(
                [decimal.Decimal("0.50"), *map(decimal.Decimal, P1[1:])], pa.decimal128(5, 2)
            )
        ),
        refused(422, '"p1" has values other than 0/1: 0.5'),
        {"product_columns": "p1,p2"},
    ),
    Case(
        "duplicate_ids.parquet",
        reference_parquet(id=pa.array(DUPLICATE_IDS)),
        refused(422, "repeated", '"009" (3 rows)'),
        {"id_column": "id"},
    ),
    Case(
        "missing_ids.parquet",
        reference_parquet(id=pa.array(MISSING_IDS)),
        refused(422, "2 row(s) have no ID", "row 5, 10"),
        {"id_column": "id"},
    ),
]
