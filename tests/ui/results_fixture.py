"""A small LCA result in the API's shape, for the pure UI tests."""

from __future__ import annotations

from typing import Any


def lca_result() -> dict[str, Any]:
    return {
        "provenance": {"params": {"n_classes": 2}, "random_state": 1, "warnings": [],
                       "library_versions": {}, "n_rows": 100, "n_products": 3},
        "n_classes": 2,
        "products": ["milk", "bread", "beer"],
        "classes": ["Class 1", "Class 2"],
        "loglik": -150.5,
        "npar": 7,
        "aic": 315.0,
        "bic": 333.2,
        "sabic": 311.1,
        "caic": 340.2,
        "entropy": 0.81,
        "n_obs": 100,
        "n_missing_cells": 0,
        "class_sizes": [0.6, 0.4],
        "class_counts": [61, 39],
        "smallest_class_share": 0.4,
        "avg_posterior": [0.9, 0.88],
        "item_probabilities": [[0.9, 0.8, 0.1], [0.2, 0.3, 0.7]],
        "converged": True,
        "iterations": 12,
        "starts": [
            {"start": 1, "seed": 11, "loglik": -151.0, "iterations": 10, "converged": True},
            {"start": 2, "seed": 12, "loglik": -150.5, "iterations": 12, "converged": True},
        ],
        "n_starts_at_best": 1,
    }
