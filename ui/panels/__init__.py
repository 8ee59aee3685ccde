"""Results panels: one module per model family, each `render(view)` drawing that family's
charts with Streamlit. `render` dispatches on the run's model type; a family without its own
panel, or whose result lacks the fields its panel reads, gets the generic tables view."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ui.panels import bayes, common, dcm, factor, generic, lca, mca, network, nmf
from ui.panels.base import View

PANELS: dict[str, Callable[[View], None]] = {
    "lca": lca.render,
    "lca_covariates": lca.render,
    "factor_tetrachoric": factor.render,
    "bayesian_factor_pymc": bayes.render,
    "bayesian_factor_vi": bayes.render,
    "mca": mca.render,
    "nmf": nmf.render,
    "lda": nmf.render,
    "dcm": dcm.render,
    "network": network.render,
}
# The fields a panel needs; without them the generic view is shown instead.
REQUIRED: dict[str, tuple[str, ...]] = {
    "lca": ("item_probabilities", "class_sizes", "products"),
    "lca_covariates": ("item_probabilities", "class_sizes", "products"),
    "factor_tetrachoric": ("loadings", "products"),
    "bayesian_factor_pymc": ("loadings", "products"),
    "bayesian_factor_vi": ("loadings", "products"),
    "mca": ("product_coordinates", "products"),
    "nmf": ("components", "products"),
    "lda": ("topic_product", "products"),
    "dcm": ("household_effect_means", "products"),
    "network": ("edges", "products"),
}


def render(view: View) -> None:
    panel = PANELS.get(view.model_type)
    needed = REQUIRED.get(view.model_type, ())
    if panel is None or any(k not in view.result for k in needed):
        st.info("This kind of result has no dedicated view yet; here are its tables.",
                icon=":material/table_view:")
        generic.render(view)
        return
    try:
        panel(view)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        # A result shape the panel does not expect (a family still growing): show the tables.
        st.warning(f"Part of this result could not be drawn ({type(exc).__name__}: {exc}); "
                   "here are its tables.", icon=":material/warning:")
        generic.render(view)
        return
    common.render(view)
