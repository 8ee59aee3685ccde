"""Results panels: one module per kind of structure a family finds (its specification's
`kind`), each `render(view)` laying out the charts the API serves for the run with that kind's
metrics and tables. A kind without a panel, or a run served without the charts its panel is
built around, gets the generic view: every served chart, the tables and the JSON."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ui.panels import baskets, bayes, choice, common, dimensions, generic, graph, maps, segments
from ui.panels.base import View, heading

PANELS: dict[str, Callable[[View], None]] = {
    "segments": segments.render,
    "dimensions": dimensions.render,
    "map": maps.render,
    "baskets": baskets.render,
    "graph": graph.render,
    "choice": choice.render,
}
# The charts a panel is built around; without them the generic view is shown instead.
REQUIRED: dict[str, tuple[str, ...]] = {
    "segments": ("sizes", "profile"),
    "dimensions": ("loadings",),
    "map": ("map",),
    "baskets": ("top_products",),
    "graph": ("graph",),
    "choice": ("baseline",),
}


def panel_for(spec: dict[str, object]) -> Callable[[View], None] | None:
    kind = str(spec.get("kind") or "")
    if kind == "dimensions" and spec.get("bayesian"):
        return bayes.render
    return PANELS.get(kind)


def render(view: View) -> None:
    kind = str(view.spec.get("kind") or "")
    panel = panel_for(view.spec)
    if panel is None or not view.has(*REQUIRED.get(kind, ())):
        st.info("This kind of result has no dedicated view yet; here is what the analysis "
                "service draws of it, and its tables.", icon=":material/table_view:")
        generic.charts_but(view, common.PRODUCT_VIEWS)
        common.render(view)
        generic.render(view)
        return
    panel(view)
    common.render(view)
    if view.undrawn():
        st.divider()
        heading("More charts")
        generic.charts(view)
