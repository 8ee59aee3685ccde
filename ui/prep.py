"""Preparing a purchase file before it is saved as a dataset. Pure pandas, no Streamlit.

- `read_table`: CSV / XLSX / Parquet bytes to a DataFrame.
- `detect_transactions` / `pivot_transactions`: a long file (customer, product [, quantity])
  to one row per customer and one 0/1 column per product.
- `quality_report`: per column its type, penetration, missing share, distinct values, flags
  (constant, near-constant, ID-like, not 0/1) and a suggested role.
- `suggest_roles`: the ID column, the product columns and the household features.
- `penetration_filter`: drop products bought by too few (or too many) households.
- `basket_from_api`: the API's basket statistics of a saved dataset as tables.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

NEAR_CONSTANT = 0.01  # a 0/1 column with fewer than 1% (or more than 99%) ones
MAX_CATEGORIES = 30  # a text column with more distinct values is not a household feature

_ID_NAME = re.compile(
    r"(^|_|\b)(id|key|hh|household|customer|client|panelist|member|cust)(_|\b|$)", re.I
)
_PRODUCT_NAME = re.compile(r"(product|item|sku|category|article|brand)", re.I)
_QUANTITY_NAME = re.compile(r"(qty|quantity|units|count|amount|volume|spend|sales)", re.I)


class PrepError(ValueError):
    """The file can't be read or reshaped; the message says why and what to do."""


def read_table(filename: str, content: bytes) -> pd.DataFrame:
    """The file's table, by its extension (CSV sniffed for ; or tab separators)."""
    name = filename.lower()
    try:
        if name.endswith((".xlsx", ".xls")):
            return pd.read_excel(io.BytesIO(content))
        if name.endswith(".parquet"):
            return pd.read_parquet(io.BytesIO(content))
        head = content[:4096].decode("utf-8", errors="ignore").splitlines()[0:1]
        sep = ","
        if head and head[0].count(";") > head[0].count(","):
            sep = ";"
        elif head and head[0].count("\t") > head[0].count(","):
            sep = "\t"
        return pd.read_csv(io.BytesIO(content), sep=sep)
    except Exception as exc:  # pandas raises many kinds; the person needs one sentence
        raise PrepError(
            f"Couldn't read {filename}: {exc}. Save it as CSV (comma-separated, one header row), "
            "Excel .xlsx or Parquet and try again."
        ) from exc


def _is_binary(series: pd.Series) -> bool:
    values = pd.to_numeric(series.dropna(), errors="coerce")
    if values.isna().any() or values.empty:
        return False
    return bool(values.isin([0, 1]).all())


# -- long transaction files -------------------------------------------------------------------


@dataclass(frozen=True)
class TransactionGuess:
    customer: str
    product: str
    quantity: str | None = None


def detect_transactions(frame: pd.DataFrame) -> TransactionGuess | None:
    """A guess at (customer, product[, quantity]) when the file looks like one row per purchase:
    2–5 columns, a customer column whose values repeat, a product column of text."""
    if not 2 <= frame.shape[1] <= 5 or len(frame) < 2:
        return None
    if sum(_is_binary(frame[c]) for c in frame.columns) >= 2:
        return None  # already wide 0/1
    columns = list(frame.columns)
    repeats = {c: frame[c].nunique(dropna=True) < len(frame) for c in columns}
    text = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    customer = next((c for c in columns if _ID_NAME.search(str(c)) and repeats[c]), None)
    product = next(
        (c for c in columns if c != customer and _PRODUCT_NAME.search(str(c)) and repeats[c]),
        None,
    )
    if product is None:
        product = next((c for c in text if c != customer and repeats[c]), None)
    if customer is None:
        customer = next((c for c in columns if c != product and repeats[c]), None)
    if customer is None or product is None:
        return None
    quantity = next(
        (
            c
            for c in columns
            if c not in (customer, product)
            and pd.api.types.is_numeric_dtype(frame[c])
            and _QUANTITY_NAME.search(str(c))
        ),
        None,
    )
    return TransactionGuess(
        str(customer), str(product), None if quantity is None else str(quantity)
    )


def pivot_transactions(
    frame: pd.DataFrame,
    customer: str,
    product: str,
    quantity: str | None = None,
    min_quantity: float = 1.0,
) -> pd.DataFrame:
    """One row per customer, one 0/1 column per product: 1 when the customer bought it (at least
    `min_quantity` units in total when a quantity column is given)."""
    for column in (customer, product, quantity):
        if column is not None and column not in frame.columns:
            raise PrepError(f'The file has no column "{column}".')
    if customer == product:
        raise PrepError("The customer and product columns must be different columns.")
    known = frame.dropna(subset=[customer])
    data = known.dropna(subset=[product])
    if data.empty:
        raise PrepError("No row has both a customer and a product.")
    if quantity is None:
        amounts = pd.Series(1.0, index=data.index)
    else:
        amounts = pd.to_numeric(data[quantity], errors="coerce").fillna(0.0)
    totals = (
        pd.DataFrame({"c": data[customer], "p": data[product].astype(str), "q": amounts})
        .groupby(["c", "p"], sort=False)["q"]
        .sum()
    )
    threshold = min_quantity if quantity is not None else 1.0
    wide = (totals >= threshold).astype(int).unstack("p", fill_value=0)
    wide = wide.reindex(sorted(wide.columns, key=str), axis=1)
    # Every customer of the file is a household, also those with no purchase (a row with an
    # empty product, or none reaching the threshold): leaving them out shifts every penetration.
    everyone = pd.Index(pd.unique(known[customer]))
    wide = wide.reindex(everyone, fill_value=0)
    wide.index.name = customer
    wide.columns.name = None
    no_purchase = int((wide.sum(axis=1) == 0).sum())
    out = wide.reset_index()
    # Columns holding one value per customer (region, age…) come along as household features.
    features = []
    for column in frame.columns:
        if column in (customer, product, quantity) or column in out.columns:
            continue
        per = known.groupby(customer, sort=False)[column].nunique(dropna=True)
        if bool((per <= 1).all()):
            first = known.groupby(customer, sort=False)[column].first()
            out[column] = out[customer].map(first)
            features.append(str(column))
    out.attrs["no_purchase"] = no_purchase
    out.attrs["features"] = features
    return out


def binarise_counts(frame: pd.DataFrame, columns: list[str], minimum: float = 1.0) -> pd.DataFrame:
    """Purchase counts turned into 0/1: bought when the count is at least `minimum` (blanks stay
    blank)."""
    out = frame.copy()
    for column in columns:
        values = pd.to_numeric(out[column], errors="coerce")
        out[column] = (values >= minimum).astype("Int8").mask(values.isna())
    return out


# -- quality report --------------------------------------------------------------------------


ROLE_ID = "ID"
ROLE_PRODUCT = "Product"
ROLE_FEATURE = "Household feature"
ROLE_IGNORE = "Ignore"


@dataclass
class ColumnQuality:
    name: str
    kind: str
    penetration: float | None
    missing_share: float
    distinct: int
    flags: list[str] = field(default_factory=list)
    role: str = ROLE_IGNORE


def _kind(series: pd.Series) -> str:
    if series.dropna().empty:
        return "Empty"
    if _is_binary(series):
        return "0/1 purchase"
    if pd.api.types.is_numeric_dtype(series):
        return "Number"
    return "Text / category"


STRAY_SHARE = 0.9  # a column this much 0/1 with a few other values holds stray values
SOME_MISSING = 0.05  # past this share of blanks a column is flagged; past 0.2 it is left out


def stray_values(series: pd.Series) -> list[Any]:
    """The values other than 0/1 of a column that is mostly 0/1 (a few stray "2"s); []."""
    values = pd.to_numeric(series.dropna(), errors="coerce")
    if values.empty or values.isna().any():
        return []
    binary = values.isin([0, 1])
    if binary.all() or binary.mean() < STRAY_SHARE:
        return []
    return sorted(pd.unique(values[~binary]).tolist())


def is_counts(series: pd.Series) -> bool:
    """Purchase counts: whole numbers ≥ 0, some above 1, many zeros (household size is not)."""
    values = pd.to_numeric(series.dropna(), errors="coerce")
    if values.empty or values.isna().any() or not pd.api.types.is_numeric_dtype(series):
        return False
    whole = bool(((values >= 0) & (values == values.round())).all())
    return whole and float(values.max()) > 1 and float((values == 0).mean()) >= 0.2


def derived_from_products(frame: pd.DataFrame, column: str, binary: list[str]) -> bool:
    """Whether a numeric column is (almost exactly) the number of products each household
    bought: derived from the purchases, not a household feature."""
    if len(binary) < 2 or column in binary:
        return False
    values = pd.to_numeric(frame[column], errors="coerce")
    if values.isna().all() or values.nunique() < 3:
        return False
    bought = frame[binary].apply(pd.to_numeric, errors="coerce").sum(axis=1)
    corr = values.corr(bought)
    return bool(corr is not None and np.isfinite(corr) and corr >= 0.98)


def column_quality(frame: pd.DataFrame) -> list[ColumnQuality]:
    out: list[ColumnQuality] = []
    id_taken = False
    binary = [str(c) for c in frame.columns if _is_binary(frame[c])]
    for name in frame.columns:
        series = frame[name]
        kind = _kind(series)
        stray = stray_values(series) if kind == "Number" else []
        counts = kind == "Number" and not stray and is_counts(series)
        derived = kind == "Number" and not stray and derived_from_products(frame, str(name), binary)
        distinct = int(series.nunique(dropna=True))
        missing = float(series.isna().mean()) if len(frame) else 0.0
        penetration = None
        flags: list[str] = []
        if kind == "0/1 purchase":
            penetration = float(pd.to_numeric(series, errors="coerce").dropna().mean())
        if distinct <= 1:
            flags.append("constant")
        elif penetration is not None and not NEAR_CONSTANT <= penetration <= 1 - NEAR_CONSTANT:
            flags.append("near-constant")
        unique_per_row = distinct == len(frame) and missing == 0
        if unique_per_row and kind != "0/1 purchase":
            flags.append("unique per row")
        if missing > 0.2:
            flags.append(f"many missing ({missing:.1%})")
        elif missing > SOME_MISSING:
            flags.append(f"{missing:.1%} missing")
        if stray:
            shown = ", ".join(f"{v:g}" for v in stray[:5])
            n_stray = int((~pd.to_numeric(series.dropna()).isin([0, 1])).sum())
            flags.append(f"not 0/1: {n_stray} value(s) of {shown}")
        if derived:
            flags.append("the number of products bought (derived)")
        elif counts:
            flags.append("purchase counts")
        if kind == "Text / category" and distinct > MAX_CATEGORIES and not unique_per_row:
            flags.append("too many categories")
        if kind == "0/1 purchase":
            role = ROLE_IGNORE if "constant" in flags or "near-constant" in flags else ROLE_PRODUCT
        elif unique_per_row and not id_taken and (
            _ID_NAME.search(str(name)) or kind == "Text / category"
        ):
            role, id_taken = ROLE_ID, True
        elif kind in ("Number", "Text / category") and not stray and not counts and not derived \
                and all(f.endswith("% missing") for f in flags):
            role = ROLE_FEATURE  # a feature with a few blanks stays, flagged
        else:
            role = ROLE_IGNORE
        out.append(ColumnQuality(str(name), kind, penetration, missing, distinct, flags, role))
    return out


def quality_report(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per column, in plain words, for the Data page."""
    rows = [
        {
            "Column": q.name,
            "Type": q.kind,
            "Penetration": None if q.penetration is None else 100 * q.penetration,
            "Missing": 100 * q.missing_share,
            "Distinct values": q.distinct,
            "Check": ", ".join(q.flags) or "ok",
            "Suggested use": q.role,
        }
        for q in column_quality(frame)
    ]
    return pd.DataFrame(
        rows,
        columns=["Column", "Type", "Penetration", "Missing", "Distinct values", "Check",
                 "Suggested use"],
    )


@dataclass(frozen=True)
class Roles:
    id_column: str | None
    products: list[str]
    covariates: list[str]


def suggest_roles(frame: pd.DataFrame) -> Roles:
    quality = column_quality(frame)
    id_column = next((q.name for q in quality if q.role == ROLE_ID), None)
    return Roles(
        id_column,
        [q.name for q in quality if q.role == ROLE_PRODUCT],
        [q.name for q in quality if q.role == ROLE_FEATURE],
    )


def penetrations(frame: pd.DataFrame, products: list[str]) -> pd.Series:
    """Share of households buying each product (missing cells left out)."""
    data = frame[products].apply(pd.to_numeric, errors="coerce")
    return data.mean(skipna=True).fillna(0.0)


def penetration_filter(
    frame: pd.DataFrame, products: list[str], minimum: float, maximum: float = 1.0
) -> tuple[list[str], list[str]]:
    """(kept, dropped) products by penetration: `minimum` ≤ share ≤ `maximum`."""
    shares = penetrations(frame, products) if products else pd.Series(dtype=float)
    kept = [p for p in products if minimum <= float(shares[p]) <= maximum]
    return kept, [p for p in products if p not in kept]


def dataset_bytes(
    frame: pd.DataFrame, id_column: str | None, products: list[str], covariates: list[str]
) -> bytes:
    """The chosen columns as Parquet (smaller and faster than CSV; types kept)."""
    columns = [c for c in [id_column, *products, *covariates] if c]
    if len(set(columns)) != len(columns):
        raise PrepError("A column can have only one use: ID, product or household feature.")
    data = frame[columns].copy()
    for product in products:
        data[product] = pd.to_numeric(data[product], errors="coerce").astype("Int8")
    buffer = io.BytesIO()
    data.to_parquet(buffer, index=False)
    return buffer.getvalue()


# -- basket statistics -----------------------------------------------------------------------


def basket_from_api(payload: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The API's `GET /datasets/{id}/basket` answer as tables: `penetration` (one row per
    product: buyers, penetration, most bought first), `pairs` (one row per ordered pair A → B:
    households buying both, duplication = share of A's buyers who also buy B, lift) and
    `duplication` (the products × products matrix)."""
    products = [str(p) for p in payload.get("products", [])]

    def matrix(key: str) -> np.ndarray:
        raw = payload.get(key) or [[None] * len(products) for _ in products]
        return np.array([[np.nan if v is None else float(v) for v in row] for row in raw])

    pen = np.array([np.nan if v is None else float(v) for v in payload.get("penetration", [])])
    buyers = np.array(payload.get("buyers") or [0] * len(products), dtype=float)
    both, duplication, lift = matrix("pair_buyers"), matrix("duplication"), matrix("lift")
    penetration = pd.DataFrame(
        {"Product": products, "Buyers": buyers.astype(int), "Penetration": pen}
    ).sort_values("Penetration", ascending=False, kind="stable")
    pairs = pd.DataFrame(
        [{"Product": a, "Also buys": b, "Households buying both": int(np.nan_to_num(both[i, j])),
          "Duplication": float(duplication[i, j]), "Lift": float(lift[i, j])}
         for i, a in enumerate(products) for j, b in enumerate(products) if i != j],
        columns=["Product", "Also buys", "Households buying both", "Duplication", "Lift"],
    )
    dup = pd.DataFrame(duplication, index=products, columns=products)
    for k in range(len(products)):
        dup.iat[k, k] = np.nan
    return {"penetration": penetration.reset_index(drop=True), "pairs": pairs,
            "duplication": dup}
