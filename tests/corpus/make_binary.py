"""Regenerate the corpus's binary files (Parquet, XLSX): `python tests/corpus/make_binary.py`.

The text files are written by hand; these few are easier to describe as code. The big inputs
(10k columns, a gigabyte, a zip bomb) are built on the fly by tests/test_corpus.py instead.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent / "uploads"
GOOD = pd.read_csv(HERE.parent / "reference.csv")


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def main() -> None:
    good = parquet_bytes(pa.Table.from_pandas(GOOD, preserve_index=False))
    (HERE / "truncated.parquet").write_bytes(good[: len(good) // 2])
    nested = pa.Table.from_pandas(GOOD, preserve_index=False).append_column(
        "tags", pa.array([["a", "b"]] * len(GOOD), type=pa.list_(pa.string()))
    )
    (HERE / "nested_column.parquet").write_bytes(parquet_bytes(nested))

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    (HERE / "zip_not_workbook.xlsx").write_bytes(buffer.getvalue())

    buffer = io.BytesIO()
    pd.DataFrame().to_excel(buffer, index=False)
    (HERE / "empty_sheet.xlsx").write_bytes(buffer.getvalue())

    buffer = io.BytesIO()
    yes_no = GOOD.copy()
    for column in ("p1", "p2", "p3", "p4"):
        yes_no[column] = yes_no[column].map({0: "no", 1: "yes"})
    yes_no.to_excel(buffer, index=False)
    (HERE / "yes_no.xlsx").write_bytes(buffer.getvalue())

    # Accepted: Excel cells that hold "0" / "1" as text read as numbers.
    buffer = io.BytesIO()
    GOOD.astype(str).to_excel(buffer, index=False)
    (HERE / "text_numbers.xlsx").write_bytes(buffer.getvalue())

    # Formulas without cached values (written by a program, never opened in Excel): no data.
    buffer = io.BytesIO()
    formulas = GOOD.copy().astype(object)
    formulas["p2"] = [f"=A{i + 2}*0" for i in range(len(GOOD))]
    formulas.to_excel(buffer, index=False)
    (HERE / "formula_cells.xlsx").write_bytes(buffer.getvalue())


if __name__ == "__main__":
    main()
