"""The built-in demo dataset: grocery purchases of households drawn from a known structure.

Five shopper segments, each with its own chance of buying each of 24 grocery categories, and
household features (size, age, income, children, region) that depend on the segment, so every
model has something to find: segments (LCA), dimensions (factor models), baskets (NMF / LDA),
a product map (MCA), and features that predict segment membership (LCA with covariates, DCM).

Pure and deterministic: `demo_frame(seed)` always gives the same table for the same seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

DEMO_NAME = "Demo · grocery households"
DEMO_FILENAME = "demo_grocery_households.csv"
ID_COLUMN = "household_id"
COVARIATES = ["household_size", "age_band", "income_band", "children", "region"]

PRODUCTS = [
    "Milk", "Bread", "Eggs", "Butter", "Cheese", "Yoghurt", "Breakfast cereal", "Fruit juice",
    "Fresh fruit", "Organic vegetables", "Plant-based milk", "Nuts & seeds", "Ready meals",
    "Frozen pizza", "Crisps & snacks", "Energy drinks", "Beer", "Wine", "Coffee beans", "Tea",
    "Baby food", "Fresh fish", "Olive oil", "Chocolate",
]

# The true segments: their shares and what they buy (a base rate, raised for their favourites).
SEGMENTS: list[tuple[str, float, dict[str, float]]] = [
    ("Busy families", 0.28, {
        "Milk": 0.92, "Bread": 0.85, "Breakfast cereal": 0.85, "Fruit juice": 0.75,
        "Yoghurt": 0.7, "Baby food": 0.45, "Crisps & snacks": 0.7, "Frozen pizza": 0.55,
        "Eggs": 0.6, "Cheese": 0.55, "Chocolate": 0.55, "Fresh fruit": 0.55,
    }),
    ("Health-conscious", 0.2, {
        "Fresh fruit": 0.9, "Organic vegetables": 0.85, "Plant-based milk": 0.75,
        "Nuts & seeds": 0.75, "Yoghurt": 0.65, "Tea": 0.5, "Olive oil": 0.55, "Fresh fish": 0.45,
        "Eggs": 0.5, "Coffee beans": 0.35,
    }),
    ("Convenience seekers", 0.22, {
        "Ready meals": 0.85, "Frozen pizza": 0.75, "Energy drinks": 0.65,
        "Crisps & snacks": 0.8, "Beer": 0.65, "Chocolate": 0.6, "Bread": 0.45, "Milk": 0.45,
    }),
    ("Traditional shoppers", 0.18, {
        "Milk": 0.9, "Bread": 0.92, "Butter": 0.8, "Eggs": 0.75, "Tea": 0.85, "Cheese": 0.6,
        "Fresh fruit": 0.45, "Chocolate": 0.35, "Breakfast cereal": 0.4,
    }),
    ("Foodies", 0.12, {
        "Wine": 0.85, "Cheese": 0.85, "Olive oil": 0.8, "Coffee beans": 0.8, "Fresh fish": 0.7,
        "Organic vegetables": 0.55, "Bread": 0.6, "Butter": 0.5, "Nuts & seeds": 0.4,
        "Fresh fruit": 0.55, "Chocolate": 0.45, "Beer": 0.3,
    }),
]
BASE_RATE = 0.1

# Household features by segment: mean household size, age / income band weights, chance of
# children at home, region weights.
AGE_BANDS = ["18-34", "35-54", "55+"]
INCOME_BANDS = ["Lower", "Middle", "Higher"]
REGIONS = ["North", "South", "East", "West"]
FEATURES: dict[str, dict[str, Any]] = {
    "Busy families": {"size": 3.9, "age": [0.25, 0.65, 0.1], "income": [0.3, 0.5, 0.2],
                      "children": 0.92, "region": [0.25, 0.25, 0.25, 0.25]},
    "Health-conscious": {"size": 2.2, "age": [0.4, 0.45, 0.15], "income": [0.15, 0.45, 0.4],
                         "children": 0.3, "region": [0.15, 0.35, 0.2, 0.3]},
    "Convenience seekers": {"size": 1.5, "age": [0.7, 0.25, 0.05], "income": [0.45, 0.4, 0.15],
                            "children": 0.1, "region": [0.3, 0.2, 0.3, 0.2]},
    "Traditional shoppers": {"size": 2.0, "age": [0.05, 0.25, 0.7], "income": [0.4, 0.45, 0.15],
                             "children": 0.08, "region": [0.35, 0.15, 0.3, 0.2]},
    "Foodies": {"size": 2.3, "age": [0.2, 0.5, 0.3], "income": [0.05, 0.3, 0.65],
                "children": 0.3, "region": [0.2, 0.4, 0.15, 0.25]},
}


def true_profiles() -> pd.DataFrame:
    """Segments × products: the chance of buying each product in each true segment."""
    rows = {
        name: [favourites.get(p, BASE_RATE) for p in PRODUCTS]
        for name, _, favourites in SEGMENTS
    }
    return pd.DataFrame(rows, index=pd.Index(PRODUCTS, name="Product")).T


def demo_frame(n: int = 2000, seed: int = 2024) -> pd.DataFrame:
    """`n` households: an ID, one 0/1 column per product, then the household features."""
    rng = np.random.default_rng(seed)
    names = [s[0] for s in SEGMENTS]
    segment = _draw_segments(rng, n)
    probs = true_profiles().to_numpy()
    bought = (rng.random((n, len(PRODUCTS))) < probs[segment]).astype(int)

    frame = pd.DataFrame(bought, columns=PRODUCTS)
    frame.insert(0, ID_COLUMN, [f"HH{i + 1:05d}" for i in range(n)])
    size, age, income, children, region = [], [], [], [], []
    for k in segment:
        f = FEATURES[names[k]]
        has_children = bool(rng.random() < float(f["children"]))
        mean_size = float(f["size"])
        size.append(int(np.clip(rng.poisson(mean_size - 1) + 1 + has_children, 1, 8)))
        age.append(AGE_BANDS[rng.choice(3, p=f["age"])])
        income.append(INCOME_BANDS[rng.choice(3, p=f["income"])])
        children.append("Yes" if has_children else "No")
        region.append(REGIONS[rng.choice(4, p=f["region"])])
    frame["household_size"] = size
    frame["age_band"] = age
    frame["income_band"] = income
    frame["children"] = children
    frame["region"] = region
    return frame


def true_segments(n: int = 2000, seed: int = 2024) -> np.ndarray:
    """The true segment (index into SEGMENTS) of each household of `demo_frame(n, seed)`: the
    structure every model has to find."""
    return _draw_segments(np.random.default_rng(seed), n)


def _draw_segments(rng: np.random.Generator, n: int) -> np.ndarray:
    shares = np.array([s[1] for s in SEGMENTS])
    return rng.choice(len(SEGMENTS), size=n, p=shares / shares.sum())
