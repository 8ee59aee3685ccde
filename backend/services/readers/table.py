"""What a reader answers: the raw cells, where each row is in the file, and notes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class RawTable:
    frame: pd.DataFrame
    # Where each row is in the file, as a person finds it: the CSV line, the sheet row, the
    # Parquet row (1-based); `row_word` names that numbering in messages.
    row_numbers: np.ndarray
    row_word: str
    # Sentences about what was read (sheet, delimiter hint, comment lines, stored index).
    notes: list[str] = field(default_factory=list)
    # Text cells spelled like pandas' missing-value markers ("NA", "#N/A", "null") are missing:
    # true for CSV and XLSX, false for Parquet, whose nulls are explicit.
    na_tokens: bool = True
    # Appended to a refusal of what was read (e.g. the other sheets that hold data).
    hint: str = ""


@dataclass(frozen=True)
class ReadOptions:
    max_columns: int | None = None
    sheet: str | None = None
