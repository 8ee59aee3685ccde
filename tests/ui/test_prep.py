"""ui/prep.py and ui/demo.py alone: reading files, pivoting transactions, the quality report,
suggested roles, the penetration filter, basket statistics and the demo's known structure."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from ui.demo import COVARIATES, ID_COLUMN, PRODUCTS, SEGMENTS, demo_frame, true_segments
from ui.prep import (
    PrepError,
    basket_from_api,
    dataset_bytes,
    detect_transactions,
    penetration_filter,
    pivot_transactions,
    quality_report,
    read_table,
    suggest_roles,
)


def test_csv_with_semicolons_xlsx_and_parquet_are_read() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "milk": [1, 0]})
    assert read_table("x.csv", b"id;milk\na;1\nb;0\n").equals(frame)
    xlsx = io.BytesIO()
    frame.to_excel(xlsx, index=False)
    assert read_table("x.xlsx", xlsx.getvalue()).equals(frame)
    parquet = io.BytesIO()
    frame.to_parquet(parquet, index=False)
    assert read_table("x.parquet", parquet.getvalue()).equals(frame)


def test_an_unreadable_file_says_what_to_do() -> None:
    with pytest.raises(PrepError, match="Save it as CSV"):
        read_table("broken.xlsx", b"not a spreadsheet")


def test_a_long_transaction_file_is_detected_and_pivoted() -> None:
    # Given one row per purchase, with quantities
    tx = pd.DataFrame({
        "customer_id": ["c1", "c1", "c2", "c3", "c3", "c1"],
        "product": ["milk", "beer", "milk", "wine", "milk", "milk"],
        "quantity": [1, 1, 3, 2, 1, 1],
    })
    # When it is recognised and pivoted
    guess = detect_transactions(tx)
    assert guess is not None
    assert (guess.customer, guess.product, guess.quantity) == ("customer_id", "product",
                                                                "quantity")
    wide = pivot_transactions(tx, guess.customer, guess.product)
    # Then one row per customer and a 0/1 column per product
    assert list(wide.columns) == ["customer_id", "beer", "milk", "wine"]
    assert wide.set_index("customer_id").loc["c1"].tolist() == [1, 1, 0]
    # and with a quantity threshold only customers with enough units count as buyers
    at_least_two = pivot_transactions(tx, "customer_id", "product", "quantity", 2)
    assert at_least_two.set_index("customer_id")["milk"].to_dict() == {"c1": 1, "c2": 1, "c3": 0}


def test_a_wide_file_is_not_mistaken_for_transactions() -> None:
    assert detect_transactions(demo_frame(n=50)) is None
    assert detect_transactions(pd.DataFrame({"a": [1, 0], "b": [0, 1]})) is None


def test_pivot_refuses_the_same_column_twice() -> None:
    with pytest.raises(PrepError, match="different"):
        pivot_transactions(pd.DataFrame({"c": [1], "p": ["x"]}), "c", "c")


def test_quality_report_flags_constant_near_constant_and_id_columns() -> None:
    n = 400
    frame = pd.DataFrame({
        "hh": [f"H{i}" for i in range(n)],
        "milk": [1, 0] * (n // 2),
        "always": [1] * n,
        "rare": [1] + [0] * (n - 1),
        "region": ["N", "S"] * (n // 2),
        "spend": np.linspace(0, 10, n),
        "mostly_empty": [None] * (n - 10) + [1.0] * 10,
    })
    report = quality_report(frame).set_index("Column")
    assert report.loc["hh", "Suggested use"] == "ID"
    assert report.loc["hh", "Check"] == "unique per row"
    assert report.loc["milk", "Penetration"] == pytest.approx(50.0)
    assert report.loc["always", "Check"] == "constant"
    assert report.loc["rare", "Check"] == "near-constant"
    assert report.loc["mostly_empty", "Check"].startswith("constant")
    roles = suggest_roles(frame)
    assert roles.id_column == "hh"
    assert roles.products == ["milk"]
    assert set(roles.covariates) == {"region"}  # spend is unique per row: not a feature


def test_penetration_filter_and_dataset_bytes() -> None:
    frame = demo_frame(n=300)
    kept, dropped = penetration_filter(frame, PRODUCTS, 0.3)
    assert set(kept) | set(dropped) == set(PRODUCTS) and kept and dropped
    assert all(frame[p].mean() >= 0.3 for p in kept)
    data = pd.read_parquet(io.BytesIO(dataset_bytes(frame, ID_COLUMN, kept, COVARIATES)))
    assert list(data.columns) == [ID_COLUMN, *kept, *COVARIATES]
    with pytest.raises(PrepError, match="only one use"):
        dataset_bytes(frame, ID_COLUMN, [ID_COLUMN, *kept], [])


def test_demo_data_is_deterministic_with_its_known_structure() -> None:
    frame = demo_frame(n=3000, seed=1)
    assert frame.equals(demo_frame(n=3000, seed=1))
    assert list(frame.columns) == [ID_COLUMN, *PRODUCTS, *COVARIATES]
    assert frame[ID_COLUMN].is_unique
    # household features are never 0/1 columns (so they are not taken for products)
    roles = suggest_roles(frame)
    assert roles.products == PRODUCTS and set(roles.covariates) == set(COVARIATES)
    # segments buy what they were drawn to buy: foodies buy wine far more than others
    segment = true_segments(n=3000, seed=1)
    foodies = [name for name, _, _ in SEGMENTS].index("Foodies")
    wine = frame["Wine"].to_numpy()
    assert wine[segment == foodies].mean() > 0.7 > 0.2 > wine[segment != foodies].mean()
    # and the features depend on the segment: families have children far more often
    families = [name for name, _, _ in SEGMENTS].index("Busy families")
    kids = (frame["children"] == "Yes").to_numpy()
    assert kids[segment == families].mean() > 0.8 > 0.3 > kids[segment != families].mean()


def test_the_apis_basket_statistics_read_as_tables() -> None:
    from backend.services.basket import basket_statistics

    frame = pd.DataFrame({"a": [1, 1, 1, 0], "b": [1, 1, 0, 0], "c": [0, 0, 1, 1]})
    stats = basket_from_api(basket_statistics(frame, ["a", "b", "c"]))
    pen = stats["penetration"].set_index("Product")["Penetration"]
    assert pen.to_dict() == {"a": 0.75, "b": 0.5, "c": 0.5}
    assert list(stats["penetration"]["Product"]) == ["a", "b", "c"]  # most bought first
    pairs = stats["pairs"].set_index(["Product", "Also buys"])
    assert pairs.loc[("b", "a"), "Duplication"] == 1.0  # every b buyer buys a
    assert pairs.loc[("a", "b"), "Duplication"] == pytest.approx(2 / 3)
    assert pairs.loc[("a", "b"), "Lift"] == pytest.approx(0.5 / (0.75 * 0.5))
    assert pairs.loc[("b", "c"), "Households buying both"] == 0
    matrix = stats["duplication"]
    assert matrix.loc["b", "a"] == 1.0 and np.isnan(matrix.loc["a", "a"])
