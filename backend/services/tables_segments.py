"""Export tables and product embedding of the segment families (latent class analysis, with or
without household features), read from the stored result JSON."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def segment_tables(result: dict[str, Any]) -> dict[str, pd.DataFrame]:
    classes = result["classes"]
    profile = segment_embedding(result)
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
    if result.get("wald_tests"):
        tables["wald_tests"] = pd.DataFrame(result["wald_tests"])
    return tables


def segment_embedding(result: dict[str, Any]) -> pd.DataFrame:
    """Products × segments: each segment's chance of buying the product."""
    return pd.DataFrame(
        np.asarray(result["item_probabilities"]).T,
        index=result["products"],
        columns=result["classes"],
    )
