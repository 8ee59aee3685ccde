"""What the UI knows about each model family, pure (no Streamlit): what its units are called
(segments, factors, components, …), its products × units profile, the product embedding used
for maps, dendrograms and closest competitors, and the headline fit statistic.

Every function accepts a result dict of any shape and answers None (or an empty list) when the
fields it needs are missing, so a new or half-finished family degrades to the generic view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


def plural(word: str) -> str:
    """community → communities, segment → segments."""
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


@dataclass(frozen=True)
class Family:
    title: str
    unit: str  # a person's word for one unit: "Segment", "Factor", …
    units_key: str  # the result field listing the units' raw names
    count_key: str  # the result field giving their number
    named: bool = False  # the raw names mean something (features): show them, not "Unit k"


FAMILIES: dict[str, Family] = {
    "lca": Family("Segments", "Segment", "classes", "n_classes"),
    "lca_covariates": Family("Segments", "Segment", "classes", "n_classes"),
    "factor_tetrachoric": Family("Dimensions", "Factor", "factors", "n_factors"),
    "bayesian_factor_pymc": Family("Dimensions", "Factor", "factors", "n_factors"),
    "bayesian_factor_vi": Family("Dimensions", "Factor", "factors", "n_factors"),
    "nmf": Family("Baskets", "Component", "component_names", "n_components"),
    "lda": Family("Shopping missions", "Mission", "topics", "n_topics"),
    "mca": Family("Product map", "Dimension", "dimensions", "n_components"),
    "dcm": Family("Choice drivers", "Feature", "household_features", "n_household_features",
                  named=True),
    "network": Family("Co-purchase network", "Community", "communities", "n_communities"),
}
GENERIC = Family("Results", "Unit", "units", "n_units")

SEGMENT_FAMILIES = frozenset({"lca", "lca_covariates"})
FACTOR_FAMILIES = frozenset({"factor_tetrachoric", "bayesian_factor_pymc", "bayesian_factor_vi"})
BASKET_FAMILIES = frozenset({"nmf", "lda"})
BAYESIAN_FAMILIES = frozenset({"bayesian_factor_pymc", "bayesian_factor_vi", "dcm"})


def family(model_type: str) -> Family:
    return FAMILIES.get(model_type, GENERIC)


def _matrix(value: Any) -> np.ndarray | None:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return array if array.ndim == 2 and array.size else None


def unit_keys(model_type: str, result: dict[str, Any]) -> list[str]:
    """The units' raw names as the result has them ("Class 1", "Factor 1", …)."""
    fam = family(model_type)
    raw = result.get(fam.units_key)
    if isinstance(raw, list) and raw and all(isinstance(x, dict) for x in raw):
        # network communities: [{"community": 1, "products": [...]}, ...]
        ids = sorted({int(x.get("community", k + 1)) for k, x in enumerate(raw)})
        return [f"{fam.unit} {c}" for c in ids]
    if isinstance(raw, list) and raw:
        return [str(x) for x in raw]
    for key in ("classes", "factors", "component_names", "topic_names", "dimensions"):
        if isinstance(result.get(key), list) and result[key]:
            return [str(x) for x in result[key]]
    n = result.get(fam.count_key)
    if isinstance(n, int) and n > 0:
        return [f"{fam.unit} {k + 1}" for k in range(n)]
    return []


def default_names(model_type: str, result: dict[str, Any]) -> list[str]:
    """Plain names before anyone labels them: Segment 1, Factor 1, Component 1, …"""
    fam = family(model_type)
    keys = unit_keys(model_type, result)
    if fam.named:
        return keys
    return [f"{fam.unit} {k + 1}" for k in range(len(keys))]


def display_names(
    model_type: str, result: dict[str, Any], labels: dict[str, str] | None = None
) -> list[str]:
    """The units' names as every chart and export shows them: the person's label where there is
    one, else the plain default. Duplicate labels get a number so names stay distinct."""
    keys = unit_keys(model_type, result)
    defaults = default_names(model_type, result)
    labels = labels or {}
    names: list[str] = []
    for key, default in zip(keys, defaults, strict=True):
        name = (labels.get(key) or "").strip() or default
        if name in names:
            name = f"{name} ({default})"
        names.append(name)
    return names


def products(result: dict[str, Any]) -> list[str]:
    raw = result.get("products")
    return [str(p) for p in raw] if isinstance(raw, list) else []


def profile(
    model_type: str, result: dict[str, Any], names: list[str] | None = None
) -> pd.DataFrame | None:
    """Products × units: what characterises each unit. LCA: chance of buying; factor models:
    loadings; NMF/LDA: component weights; MCA: coordinates of the 'bought' category."""
    prods = products(result)
    matrix: np.ndarray | None = None
    if model_type in SEGMENT_FAMILIES or "item_probabilities" in result:
        m = _matrix(result.get("item_probabilities"))
        matrix = None if m is None else m.T
    elif "loadings" in result:
        matrix = _matrix(result.get("loadings"))
    elif "components" in result:
        m = _matrix(result.get("components"))
        matrix = None if m is None else m.T
    elif "topic_product" in result:
        m = _matrix(result.get("topic_product"))
        matrix = None if m is None else m.T
    elif "household_effect_means" in result:  # DCM: features × products
        m = _matrix(result.get("household_effect_means"))
        matrix = None if m is None else m.T
    elif "product_coordinates" in result:
        matrix = _matrix(result.get("product_coordinates"))
    if matrix is None or matrix.shape[0] != len(prods):
        return None
    cols = names or display_names(model_type, result)
    if len(cols) != matrix.shape[1]:
        cols = [f"{family(model_type).unit} {k + 1}" for k in range(matrix.shape[1])]
    return pd.DataFrame(matrix, index=pd.Index(prods, name="Product"), columns=cols)


def embedding(model_type: str, result: dict[str, Any]) -> pd.DataFrame | None:
    """Products × dimensions, for the product map, dendrogram and closest competitors."""
    if "product_coordinates" in result:
        m = _matrix(result["product_coordinates"])
        if m is not None and m.shape[0] == len(products(result)):
            return pd.DataFrame(m, index=products(result))
    if "similarity" in result:  # network: each product's similarity to every other
        m = _matrix(result["similarity"])
        if m is not None and m.shape == (len(products(result)),) * 2:
            m = m.copy()
            np.fill_diagonal(m, np.nanmax(m) if np.isfinite(m).any() else 1.0)
            return pd.DataFrame(np.nan_to_num(m), index=products(result))
    prof = profile(model_type, result)
    if prof is None or prof.shape[1] == 0:
        return None
    if model_type in SEGMENT_FAMILIES:
        # Segment probabilities relative to each product's overall rate (index / 100): products
        # that over-index in the same segments sit together, however popular they are.
        sizes = np.asarray(result.get("class_sizes") or [], dtype=float)
        overall = prof.to_numpy() @ sizes if sizes.size == prof.shape[1] else prof.mean(axis=1)
        ratio = prof.to_numpy() / np.maximum(np.asarray(overall).reshape(-1, 1), 1e-9)
        return pd.DataFrame(np.log(np.maximum(ratio, 1e-6)), index=prof.index)
    return pd.DataFrame(prof.to_numpy(), index=prof.index)


def map_coordinates(emb: pd.DataFrame) -> pd.DataFrame:
    """Two map axes from an embedding: the first two principal axes of the centred products
    (the embedding itself when it has two columns or fewer)."""
    x = emb.to_numpy(dtype=float)
    if x.shape[1] == 1:
        x = np.column_stack([x[:, 0], np.zeros(len(x))])
    elif x.shape[1] > 2:
        centred = x - x.mean(axis=0)
        u, s, _ = np.linalg.svd(centred, full_matrices=False)
        x = u[:, :2] * s[:2]
        # a fixed sign: the product furthest along each axis is on the positive side
        for j in range(2):
            if x[np.argmax(np.abs(x[:, j])), j] < 0:
                x[:, j] = -x[:, j]
    return pd.DataFrame({"Product": list(emb.index), "x": x[:, 0], "y": x[:, 1]})


def closest_competitors(emb: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """For each product, the products most alike in the model (correlation of their rows in the
    embedding; cosine when there is a single dimension)."""
    x = emb.to_numpy(dtype=float)
    names = [str(i) for i in emb.index]
    centred = x - x.mean(axis=1, keepdims=True) if x.shape[1] >= 3 else x
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    unit = centred / np.maximum(norms, 1e-12)
    sim = unit @ unit.T
    rows = []
    for i, name in enumerate(names):
        order = [j for j in np.argsort(-sim[i]) if j != i][:top]
        row: dict[str, Any] = {"Product": name}
        for rank, j in enumerate(order, start=1):
            row[f"Closest {rank}"] = names[j]
            row[f"Similarity {rank}"] = round(float(sim[i, j]), 2)
        rows.append(row)
    return pd.DataFrame(rows)


def headline(model_type: str, fit_summary: dict[str, Any] | None) -> tuple[str, str]:
    """The key fit statistic of a run for tables: (name, formatted value)."""
    s = fit_summary or {}
    for key, label in (("bic", "BIC"), ("loglik", "Log-lik."), ("entropy", "Entropy")):
        value = s.get(key)
        if isinstance(value, int | float):
            return label, f"{value:,.1f}" if key != "entropy" else f"{value:.2f}"
    return "", "—"


def fit_statistics(result: dict[str, Any]) -> dict[str, Any]:
    """The comparable fit numbers any result carries (for Compare)."""
    keys = ["loglik", "npar", "aic", "bic", "sabic", "caic", "entropy", "smallest_class_share",
            "rmsr", "tli", "rmsea", "relative_error", "explained", "total_inertia", "n_obs"]
    out = {k: result[k] for k in keys if isinstance(result.get(k), int | float)}
    comparison = result.get("comparison")
    if isinstance(comparison, dict):
        for k in ("elpd_loo", "looic", "waic"):
            if isinstance(comparison.get(k), int | float):
                out[k] = comparison[k]
    return out


def strongest_unit(model_type: str, result: dict[str, Any],
                   names: list[str] | None = None) -> dict[str, str]:
    """Each product's most characteristic unit: for segments the one where it over-indexes most,
    for loadings the largest in size, for weights the largest share."""
    if model_type == "network":
        from ui.charts_network import communities

        groups = communities(result)
        ids = sorted(set(groups.values()))
        label = dict(zip(ids, names or default_names(model_type, result), strict=False))
        return {p: label.get(k, f"Community {k}") for p, k in groups.items()}
    prof = profile(model_type, result, names)
    if prof is None or prof.shape[1] == 0:
        return {}
    values = prof.to_numpy(dtype=float)
    if model_type in SEGMENT_FAMILIES:
        sizes = np.asarray(result.get("class_sizes") or [], dtype=float)
        overall = values @ sizes if sizes.size == values.shape[1] else values.mean(axis=1)
        values = values / np.maximum(overall.reshape(-1, 1), 1e-9)
    elif model_type in BASKET_FAMILIES:
        values = values / np.maximum(values.sum(axis=0, keepdims=True), 1e-12)
    else:
        values = np.abs(values)
    best = np.nanargmax(np.nan_to_num(values, nan=-np.inf), axis=1)
    return {str(p): str(prof.columns[k]) for p, k in zip(prof.index, best, strict=True)}
