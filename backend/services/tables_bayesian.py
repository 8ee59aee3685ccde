"""Export tables and product embeddings of the Bayesian models: the factor model (NUTS and VI
alike) and the discrete choice model (named in backend/families/builtin.py).

Each builder reads the stored result JSON (plain lists and dicts), never PyMC or ArviZ.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _summary_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def _diagnostics(result: dict[str, Any]) -> pd.DataFrame:
    row = dict(result["diagnostics"])
    for key in ("loglik", "npar", "aic", "bic"):
        row[key] = result.get(key)
    comparison = result.get("comparison") or {}
    row.update({k: v for k, v in comparison.items() if k != "integration"})
    return pd.DataFrame([row])


def factor_tables(result: dict[str, Any]) -> dict[str, pd.DataFrame]:
    products, factors = result["products"], result["factors"]
    long = []
    for j, product in enumerate(products):
        for k, factor in enumerate(factors):
            long.append(
                {
                    "product": product,
                    "factor": factor,
                    "loading": result["loadings"][j][k],
                    "sd": result["loadings_sd"][j][k],
                    "hdi_low": result["loadings_hdi_low"][j][k],
                    "hdi_high": result["loadings_hdi_high"][j][k],
                    "credible": result["loadings_credible"][j][k],
                    "raw_loading": result["raw_loadings"][j][k],
                }
            )
    wide = pd.DataFrame(np.asarray(result["loadings"]), index=products, columns=factors)
    wide.index.name = "product"
    wide["communality"] = result["communalities"]
    tables = {
        "loadings": wide.reset_index(),
        "loadings_intervals": pd.DataFrame(long),
        "intercepts": _summary_rows(result["intercepts"]),
        "baseline_probabilities": _summary_rows(result["baseline_probabilities"]),
        "parameters": _summary_rows(result["parameters"]),
        "predictive_check": _summary_rows(result["predictive_check"]),
        "diagnostics": _diagnostics(result),
    }
    if result.get("vi"):
        tables["vi_loss"] = pd.DataFrame(
            result["vi"]["loss_history"], columns=["iteration", "loss"]
        )
    return tables


def factor_embedding(result: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(
        np.asarray(result["loadings"]), index=result["products"], columns=result["factors"]
    )


def dcm_tables(result: dict[str, Any]) -> dict[str, pd.DataFrame]:
    tables = {
        "intercepts": _summary_rows(result["intercepts"]),
        "baseline_probabilities": _summary_rows(result["baseline_probabilities"]),
        "household_effects": _summary_rows(result["household_effects"]),
        "household_effect_average": _summary_rows(result["household_effect_average"]),
        "product_feature_effects": _summary_rows(result["product_feature_effects"]),
        "hyperparameters": _summary_rows(result["hyperparameters"]),
        "predictive_check": _summary_rows(result["predictive_check"]),
        "diagnostics": _diagnostics(result),
        "encoding": pd.DataFrame(
            [
                {
                    **e,
                    "encoded_columns": ", ".join(e["encoded_columns"]),
                    "levels": ", ".join(e["levels"] or []),
                    "source": source,
                }
                for source in ("household", "product")
                for e in result[f"{source}_encoding"]
            ]
        ),
    }
    return tables


def dcm_embedding(result: dict[str, Any]) -> pd.DataFrame:
    """Products described by how household features (and latent tastes) move their purchase."""
    columns: list[str] = list(result["household_features"])
    parts = []
    if columns:
        parts.append(np.asarray(result["household_effect_means"]).T)
    if result.get("latent_loadings"):
        latent = np.asarray(result["latent_loadings"])
        parts.append(latent)
        columns += [f"latent_{k + 1}" for k in range(latent.shape[1])]
    if not parts:
        intercepts = [[r["mean"]] for r in result["intercepts"]]
        return pd.DataFrame(intercepts, index=result["products"], columns=["intercept"])
    return pd.DataFrame(np.hstack(parts), index=result["products"], columns=columns)
