"""What the "Apply to new customers" page shows, from what the API serves: pure functions from
a scoring run's or typing tool's stored result to tables (no HTTP, no Streamlit)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def unit_names(keys: list[str], labels: dict[str, str], word: str) -> list[str]:
    """The names people gave the units, else the unit word and its number."""
    return [labels.get(key) or f"{word} {k + 1}" for k, key in enumerate(keys)]


def shares_table(result: dict[str, Any], names: list[str]) -> pd.DataFrame:
    """One row per unit: its share of the new households and of the training households."""
    rows = result["drift"].get("shares") or []
    return pd.DataFrame(
        {
            "Segment": names[: len(rows)],
            "Now": [100 * r["share_now"] for r in rows],
            "In training": [
                None if r["share_training"] is None else 100 * r["share_training"] for r in rows
            ],
        }
    )


def penetration_table(result: dict[str, Any]) -> pd.DataFrame:
    """Products by how far their penetration moved, the largest move first."""
    rows = result["drift"]["products"]
    frame = pd.DataFrame(
        {
            "Product": [r["product"] for r in rows],
            "Now": [r["penetration_now"] for r in rows],
            "In training": [r["penetration_training"] for r in rows],
            "Change (points)": [r["change_points"] for r in rows],
        }
    )
    order = frame["Change (points)"].abs().sort_values(ascending=False, kind="stable").index
    return frame.loc[order].reset_index(drop=True)


def typing_curve(result: dict[str, Any]) -> pd.DataFrame:
    """Accuracy per number of products: on the held-back households, their expected accuracy,
    and the full model's expected accuracy for comparison."""
    steps = result["steps"]
    frame = pd.DataFrame(
        {
            "products asked": [s["k"] for s in steps],
            "agrees with the full model": [
                s["holdout_accuracy"] if s["holdout_accuracy"] is not None else s["accuracy"]
                for s in steps
            ],
            "right about the segment": [s["holdout_expected_accuracy"] for s in steps],
        }
    )
    full = result.get("full_model_holdout_expected_accuracy")
    if full is not None:
        frame["full model: right about the segment"] = full
    return frame.set_index("products asked")


def confusion_table(result: dict[str, Any], k: int, names: list[str]) -> pd.DataFrame:
    """Modal segment (rows) by the tool's segment (columns) at k products."""
    matrix = result["steps"][k - 1]["confusion"]
    return pd.DataFrame(
        matrix,
        index=[f"is {n}" for n in names[: len(matrix)]],
        columns=[f"typed {n}" for n in names[: len(matrix)]],
    )
