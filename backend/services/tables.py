"""Per model family: the result's tables (exports) and its product embedding (clustering)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from backend.errors import Conflict
from backend.services import tables_bayesian, tables_dimensions
from backend.services.product_map import build_product_map


def _lca_tables(result: dict[str, Any]) -> dict[str, pd.DataFrame]:
    classes = result["classes"]
    profile = pd.DataFrame(
        np.asarray(result["item_probabilities"]).T, index=result["products"], columns=classes
    )
    profile.index.name = "product"
    summary = pd.DataFrame(
        {
            "class": classes,
            "size": result["class_sizes"],
            "count": result["class_counts"],
            "avg_posterior": result["avg_posterior"],
        }
    )
    fit = pd.DataFrame(
        [{k: result[k] for k in ("loglik", "npar", "aic", "bic", "sabic", "caic", "entropy")}]
    )
    tables = {
        "class_profile": profile.reset_index(),
        "classes": summary,
        "fit": fit,
        "starts": pd.DataFrame(result["starts"]),
    }
    if result.get("item_index"):
        index = pd.DataFrame(
            np.asarray(result["item_index"]).T, index=result["products"], columns=classes
        )
        tables["class_index"] = index.rename_axis("product").reset_index()
    if result.get("bivariate_residuals"):
        tables["bivariate_residuals"] = pd.DataFrame(result["bivariate_residuals"])
    if result.get("coefficients"):
        tables["coefficients"] = pd.DataFrame(result["coefficients"])
    return tables


def _lca_embedding(result: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        np.asarray(result["item_probabilities"]).T,
        index=result["products"],
        columns=result["classes"],
    )


TABLES: dict[str, Callable[[dict[str, Any]], dict[str, pd.DataFrame]]] = {
    "lca": _lca_tables,
    "lca_covariates": _lca_tables,
    **tables_dimensions.TABLES,
    **tables_bayesian.TABLES,
}
EMBEDDINGS: dict[str, Callable[[dict[str, Any]], pd.DataFrame]] = {
    "lca": _lca_embedding,
    "lca_covariates": _lca_embedding,
    **tables_dimensions.EMBEDDINGS,
    **tables_bayesian.EMBEDDINGS,
}


def result_tables(model_type: str, result: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """The export tables of a result, with the product map for every family that has a product
    embedding (once: families that already add it keep theirs)."""
    tables = _family_tables(model_type, result)
    if model_type in EMBEDDINGS and "closest_competitors" not in tables:
        tables |= tables_dimensions.product_map_tables(EMBEDDINGS[model_type](result))
    return tables


def product_map(model_type: str, result: dict[str, Any]) -> dict[str, Any] | None:
    """The product map stored with a result (None for families without a product embedding)."""
    if model_type not in EMBEDDINGS:
        return None
    return build_product_map(EMBEDDINGS[model_type](result))


def _family_tables(model_type: str, result: dict[str, Any]) -> dict[str, pd.DataFrame]:
    builder = TABLES.get(model_type)
    return builder(result) if builder else {}


def product_embedding(model_type: str, result: dict[str, Any]) -> pd.DataFrame:
    builder = EMBEDDINGS.get(model_type)
    if builder is None:
        raise Conflict(f"Runs of type {model_type} have no product embedding to cluster.")
    return builder(result)
