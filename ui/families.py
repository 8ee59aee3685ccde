"""What the app reads from a family's specification (an entry of `GET /models`), pure: the
word for one unit, whether runs ask for household features, and the headline numbers a run's
result or fit summary carries. The app names no model type: it goes by these fields."""

from __future__ import annotations

from typing import Any

FIT_KEYS = ("loglik", "npar", "aic", "bic", "sabic", "caic", "entropy", "smallest_class_share",
            "rmsr", "tli", "rmsea", "relative_error", "explained", "perplexity", "total_inertia",
            "modularity", "n_obs")
COMPARISON_KEYS = ("elpd_loo", "looic", "waic")


def plural(word: str) -> str:
    """community → communities, segment → segments."""
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def unit(spec: dict[str, Any]) -> str:
    """A person's word for one unit of the family ("Segment", "Factor", …)."""
    return str(spec.get("unit") or "Unit")


def household_features(spec: dict[str, Any]) -> str:
    """none, optional or required: whether runs of the family use household features."""
    return str(spec.get("household_features") or "none")


def headline(fit_summary: dict[str, Any] | None) -> tuple[str, str]:
    """The key fit statistic of a run for tables: (name, formatted value)."""
    s = fit_summary or {}
    for key, label in (("bic", "BIC"), ("loglik", "Log-lik."), ("entropy", "Entropy")):
        value = s.get(key)
        if isinstance(value, int | float):
            return label, f"{value:,.1f}" if key != "entropy" else f"{value:.2f}"
    return "", "—"


def fit_statistics(result: dict[str, Any]) -> dict[str, Any]:
    """The comparable fit numbers a result carries (for Compare)."""
    out = {k: result[k] for k in FIT_KEYS if isinstance(result.get(k), int | float)}
    comparison = result.get("comparison")
    if isinstance(comparison, dict):
        out |= {k: comparison[k] for k in COMPARISON_KEYS
                if isinstance(comparison.get(k), int | float)}
    return out
