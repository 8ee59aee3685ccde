"""Export tables and product embeddings of the dimension and map models: tetrachoric factor
analysis, MCA, NMF, LDA and the co-purchase network (named in backend/families/builtin.py).

Each builder reads the stored result JSON (plain lists and dicts), never the model libraries.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _by_product(result: dict[str, Any], matrix: Any, columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(np.asarray(matrix, dtype=float), index=result["products"], columns=columns)
    frame.index.name = "product"
    return frame


def factor_tables(result: dict[str, Any]) -> dict[str, pd.DataFrame]:
    factors = result["factors"]
    loadings = _by_product(result, result["loadings"], factors)
    loadings["communality"] = result["communalities"]
    loadings["uniqueness"] = result["uniquenesses"]
    loadings["complexity"] = result["complexity"]
    fit_keys = (
        "n_factors", "extraction", "rotation", "rmsr", "crms", "chi_square", "dof", "p_value",
        "tli", "rmsea", "bic", "objective", "fit", "fit_off", "smoothed", "min_eigenvalue",
    )  # fmt: skip
    tables = {
        "loadings": loadings.reset_index(),
        "variance": pd.DataFrame(result["variance"]),
        "fit": pd.DataFrame([{k: result.get(k) for k in fit_keys}]),
        "scree": pd.DataFrame(result["scree"]),
        "tetrachoric": _by_product(result, result["correlation"], result["products"]).reset_index(),
    }
    if result.get("factor_correlations"):
        phi = pd.DataFrame(result["factor_correlations"], index=factors, columns=factors)
        tables["factor_correlations"] = phi.rename_axis("factor").reset_index()
    if result.get("structure"):
        tables["structure"] = _by_product(result, result["structure"], factors).reset_index()
    return tables


def factor_embedding(result: dict[str, Any]) -> pd.DataFrame:
    return _by_product(result, result["loadings"], result["factors"])


def mca_tables(result: dict[str, Any]) -> dict[str, pd.DataFrame]:
    dims = result["dimensions"]
    rows = []
    for cat in result["categories"]:
        row = {k: cat[k] for k in ("category", "product", "level", "count", "mass")}
        for key in ("coordinates", "contributions", "cos2", "v_test"):
            row |= {f"{key}_{d}": v for d, v in zip(dims, cat[key], strict=True)}
        rows.append(row)
    n = len(result["eigenvalues"])
    eigen = pd.DataFrame(
        {
            "dimension": [f"Dim {s + 1}" for s in range(n)],
            "eigenvalue": result["eigenvalues"],
            "percent_inertia": result["percent_inertia"],
            "benzecri_eigenvalue": result["benzecri_eigenvalues"],
            "benzecri_percent": result["benzecri_percent"],
            "greenacre_percent": result["greenacre_percent"],
        }
    )
    products = _by_product(result, result["product_coordinates"], dims)
    eta2 = _by_product(result, result["product_eta2"], dims)
    return {
        "eigenvalues": eigen,
        "categories": pd.DataFrame(rows),
        "product_coordinates": products.reset_index(),
        "product_eta2": eta2.reset_index(),
    }


def mca_embedding(result: dict[str, Any]) -> pd.DataFrame:
    return _by_product(result, result["product_coordinates"], result["dimensions"])


def _top_long(result: dict[str, Any], names: list[str], label: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {label: name, "rank": rank + 1, **item}
            for name, items in zip(names, result["top_products"], strict=True)
            for rank, item in enumerate(items)
        ]
    )


def _composition(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to sum 1 (a product's spread over components or topics)."""
    total = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, total, out=np.zeros_like(matrix), where=total > 0)


def nmf_tables(result: dict[str, Any]) -> dict[str, pd.DataFrame]:
    names = result["component_names"]
    components = _by_product(result, np.asarray(result["components"]).T, names)
    summary = pd.DataFrame({"component": names, "share": result["component_share"]})
    fit_keys = ("n_components", "selected_by", "reconstruction_error", "relative_error",
                "explained", "n_iter", "converged")  # fmt: skip
    return {
        "components": components.reset_index(),
        "summary": summary,
        "top_products": _top_long(result, names, "component"),
        "sweep": pd.DataFrame(result["sweep"]),
        "fit": pd.DataFrame([{k: result[k] for k in fit_keys}]),
    }


def nmf_embedding(result: dict[str, Any]) -> pd.DataFrame:
    weights = _composition(np.asarray(result["components"], dtype=float).T)
    return _by_product(result, weights, result["component_names"])


def lda_tables(result: dict[str, Any]) -> dict[str, pd.DataFrame]:
    topics = result["topics"]
    profile = _by_product(result, np.asarray(result["topic_product"]).T, topics)
    fit_keys = ("n_topics", "perplexity", "loglik", "learning_method", "n_iter", "converged")
    return {
        "topic_product": profile.reset_index(),
        "topics": pd.DataFrame({"topic": topics, "share": result["topic_share"]}),
        "top_products": _top_long(result, topics, "topic"),
        "fit": pd.DataFrame([{k: result[k] for k in fit_keys}]),
    }


def lda_embedding(result: dict[str, Any]) -> pd.DataFrame:
    """P(topic | product) ∝ P(product | topic) · P(topic)."""
    joint = np.asarray(result["topic_product"], dtype=float).T * np.asarray(result["topic_share"])
    return _by_product(result, _composition(joint), result["topics"])


def network_tables(result: dict[str, Any]) -> dict[str, pd.DataFrame]:
    communities = pd.DataFrame(
        [
            {"community": c["community"], "size": c["size"], "products": ", ".join(c["products"])}
            for c in result["communities"]
        ]
    )
    summary_keys = ("measure", "threshold", "threshold_measure", "n_edges", "density",
                    "modularity", "n_isolated", "n_components")  # fmt: skip
    return {
        "nodes": pd.DataFrame(result["nodes"]),
        "edges": pd.DataFrame(result["edges"]),
        "communities": communities,
        "summary": pd.DataFrame([{k: result[k] for k in summary_keys}]),
    }


def network_embedding(result: dict[str, Any]) -> pd.DataFrame:
    return _by_product(result, result["similarity"], result["products"])
