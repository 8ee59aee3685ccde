"""Which charts a run has, in reading order: chosen by its family's kind and by the fields its
result holds (a result without a field gets no chart of it), then the product views every
family with a stored product map gets. Titles and captions use the family's own words."""

from __future__ import annotations

from collections.abc import Callable

from backend.errors import NotFound
from backend.families import Kind
from backend.presentation.charts.base import (
    MAX_HOUSEHOLDS,
    MAX_PRODUCTS,
    ChartView,
    Option,
    Section,
)
from backend.presentation.profiles import products, profile


def sections(view: ChartView) -> list[Section]:
    """Every chart of the run, in the order a person reads them."""
    family_sections = BY_KIND.get(view.spec.kind)
    out = family_sections(view) if family_sections else []
    return out + _who(view) + _three_step(view) + _product_views(view)


def section(view: ChartView, chart_id: str) -> Section:
    found = {s.id: s for s in sections(view)}
    if chart_id not in found:
        raise NotFound(f"This run has no chart {chart_id!r}; it has {', '.join(found) or 'none'}.")
    return found[chart_id]


def _many(view: ChartView) -> str:
    return view.units.plural.lower()


def _one(view: ChartView) -> str:
    return view.units.word.lower()


def _products_note(view: ChartView) -> str:
    n = len(products(view.result))
    if n <= MAX_PRODUCTS:
        return ""
    return f" The {MAX_PRODUCTS} most telling of the {n} products are drawn; the tables hold all."


def _stability_caption(view: ChartView) -> str:
    """The stability check in sentences, with the names people gave the units."""
    st_ = view.result["stability"]
    rows = st_["segments"]
    ari = float(st_["ari_mean"])
    unstable = ari < 0.65 or not any(row.get("stable") for row in rows)
    head = (
        f"Refitted on {st_['n_samples']} bootstrap resamples of the households, the "
        f"{_many(view)} come back with an adjusted Rand index of {ari:.2f} (1 = the same "
        f"{_many(view)}, 0 = chance)"
        + (": they are unstable; do not read much into them." if unstable else ".")
    )
    each = "; ".join(
        f"{view.units.name_of(i)} reappears in {float(row['reappears']):.0%} of resamples"
        for i, row in enumerate(rows)
    )
    return f"{head} {each}. Bars reaching the dashed line (75 %) mark a stable {_one(view)}."


def _segments(view: ChartView) -> list[Section]:
    r, one, many, word = view.result, _one(view), _many(view), view.units.word
    if not (r.get("item_probabilities") and r.get("class_sizes") and r.get("products")):
        return []
    measure = Option(
        "measure",
        "Show",
        "choice",
        "probability",
        (("probability", "Chance of buying"), ("index", "Index vs average")),
        help="Index: 100 = the average household; 200 = twice as likely to buy; 50 = half.",
    )
    compared = Option("units", f"{view.units.plural} to compare", "units", view.units.keys[:2])
    out = [
        Section(
            "sizes",
            f"{word} sizes",
            f"The estimated share of households in each {one}.",
            "segments:sizes",
            tags=("profile",),
        ),
        Section(
            "profile",
            f"What each {one} buys",
            f"The chance that a household in each {one} buys each product (darker: more "
            f"likely), or that chance against all households (index: 100 = average; blue: the "
            f"{one} over-indexes, orange: it under-indexes).{_products_note(view)}",
            "segments:profile",
            options=(measure,),
            tags=("profile",),
            report=({}, {"measure": "index"}),
        ),
        Section(
            "comparison",
            f"{view.units.plural} side by side",
            f"Each dot is a {one}'s chance of buying; the grey tick is all households. Products "
            f"where the {many} differ most come first.",
            "segments:comparison",
            options=(compared,),
        ),
    ]
    if len(view.units.keys) >= 2:
        out.append(
            Section(
                "segment_map",
                f"{view.units.plural} and products on one map",
                f"A correspondence analysis of the {one} × product table: each {one} (a "
                f"square) sits near the products it buys more than the other {many} do; "
                "products close together are bought by the same "
                f"{many}. Each axis is named by the products at its two ends, with the share of "
                "the table's variation it shows.",
                "maps:joint",
                tags=("map",),
            )
        )
    sweep = r.get("sweep")
    if isinstance(sweep, dict) and sweep.get("table"):
        reason = str(sweep.get("reason") or "")
        extended = sweep.get("extended") or []
        if extended:
            reason += f" The range was extended to fit {', '.join(map(str, extended))}."
        out.append(
            Section(
                "sweep",
                f"How many {many}",
                f"Information criteria by number of {many} (lower is better); the dashed line "
                "marks the recommended number, the dotted one the elbow (where the curve "
                f"bends most). {reason}".strip(),
                "segments:sweep",
            )
        )
    if isinstance(r.get("stability"), dict) and r["stability"].get("segments"):
        out.append(
            Section(
                "stability",
                f"How stable the {many} are",
                _stability_caption(view),
                "segments:stability",
            )
        )
    if r.get("coefficients"):
        out.append(
            Section(
                "odds_ratios",
                f"What makes a household more likely to be in each {one}",
                f"Odds ratios against the reference {one}, with 95% intervals: above 1 the "
                "feature makes the segment more likely; an interval crossing 1 is not a clear "
                "effect.",
                "segments:odds_ratios",
            )
        )
    if r.get("starts"):
        out.append(
            Section(
                "starts",
                "Random starts",
                "Each start's final log-likelihood. When many starts reach the best value the "
                "solution is trustworthy.",
                "segments:starts",
            )
        )
    if r.get("bivariate_residuals"):
        out.append(
            Section(
                "residuals",
                f"Product pairs the {many} explain least",
                "Bivariate residuals: above the dashed line (3.84) a pair is bought together "
                f"more (or less) than the {many} predict. Many flagged pairs suggest one more "
                f"{one}.",
                "segments:residuals",
            )
        )
    return out


def _dimensions(view: ChartView) -> list[Section]:
    r, one, many = view.result, _one(view), _many(view)
    out = []
    if profile(view.spec, r, view.units) is not None:
        out.append(
            Section(
                "loadings",
                f"Which products load on which {one}",
                f"Loadings: how strongly each product goes with each {one} (−1 to 1). Products "
                f"with large loadings on the same {one} are bought by the same kind of "
                f"household.{_products_note(view)}",
                "dimensions:loadings",
                tags=("profile",),
            )
        )
    if r.get("variance"):
        out.append(
            Section(
                "variance",
                "Variance explained",
                f"The share of the products' variance each {one} accounts for.",
                "dimensions:variance",
            )
        )
    if r.get("scree"):
        out.append(
            Section(
                "scree",
                "Scree plot with parallel analysis",
                f"Keep the {many} whose eigenvalue (blue) lies above the random-data line (grey).",
                "dimensions:scree",
            )
        )
    if r.get("loadings_hdi_low"):
        out.append(
            Section(
                "loading_intervals",
                "Loadings with 94% intervals",
                "An interval that does not cross 0 is a credible loading.",
                "bayes:loading_intervals",
            )
        )
    out += _bayesian_checks(view)
    if r.get("factor_correlations"):
        out.append(
            Section(
                "correlations",
                f"{view.units.word} correlations",
                f"How the {many} go together (oblique rotations).",
                "dimensions:correlations",
            )
        )
    if view.has_rows and view.spec.household_outputs:
        out.append(
            Section(
                "household_scores",
                f"How households spread on each {one}",
                f"The distribution of household scores on each {one}.",
                "dimensions:household_scores",
            )
        )
    return out


def _convergence(view: ChartView) -> list[Section]:
    """Trace, rank and energy plots of a NUTS run, the verdict leading the trace's caption."""
    plots = view.result.get("trace_plots")
    if not (isinstance(plots, dict) and plots.get("parameters")):
        return []
    verdict = ((view.result.get("diagnostics") or {}).get("verdict") or {}).get("text", "")
    thin = int(plots.get("thinned_every") or 1)
    shown = "every draw" if thin == 1 else f"every {thin}th draw and every divergent one"
    out = [
        Section(
            "trace",
            "Trace plots",
            f"{verdict} The draws of the parameters worth checking (largest R-hat, smallest "
            f"effective sample size), {shown}, one colour per chain: chains that overlap "
            "like noise around one level have mixed. Red ticks mark divergent transitions.".strip(),
            "bayes:trace",
        ),
        Section(
            "rank",
            "Rank plots",
            "Each chain's draws ranked among all chains' draws (Vehtari et al. 2021): when the "
            "chains mix, every chain's bars stay near the dashed line; a chain piling up at "
            "one end sits higher or lower than the others.",
            "bayes:rank",
        ),
    ]
    if plots.get("energy"):
        bfmi = ", ".join(f"{float(b):.2f}" for b in plots.get("bfmi") or [])
        bfmi = f" E-BFMI by chain: {bfmi}." if bfmi else ""
        out.append(
            Section(
                "energy",
                "Energy plot",
                "The distribution of the sampler's energy against that of its change between "
                "draws: they should look alike. A much narrower change (E-BFMI below 0.3) means "
                f"warm-up adapted poorly; run more tune.{bfmi}",
                "bayes:energy",
            )
        )
    return out


def _bayesian_checks(view: ChartView) -> list[Section]:
    r = view.result
    out = _convergence(view)
    if r.get("baseline_probabilities"):
        out.append(
            Section(
                "baseline",
                "Chance of buying for an average household",
                "At the average of everything else, with 94% intervals.",
                "bayes:baseline",
            )
        )
    if r.get("predictive_check"):
        out.append(
            Section(
                "predictive_check",
                "Does the model reproduce each product's purchase rate?",
                "Bar: the rates the model replicates (3–97%); dot: the observed rate, red when it "
                "falls outside.",
                "bayes:predictive_check",
            )
        )
    if (r.get("vi") or {}).get("loss_history"):
        out.append(
            Section(
                "vi_loss",
                "Optimisation",
                "The variational loss by iteration: it should level off.",
                "bayes:loss",
            )
        )
    return out


def _map(view: ChartView) -> list[Section]:
    r = view.result
    if not (r.get("product_coordinates") and len(view.units.keys) >= 1):
        return []
    options = [
        Option("x", "Across", "dimension", 0),
        Option("y", "Up", "dimension", min(1, len(view.units.keys) - 1)),
    ]
    if view.has_rows:
        options.append(
            Option(
                "households",
                "Show households",
                "bool",
                False,
                help=f"Each faint dot is a household (up to {MAX_HOUSEHOLDS:,}).",
            )
        )
    return [
        Section(
            "map",
            "Product map",
            "Products bought by the same households sit close together; products far from the "
            "centre are the most distinctive. Colour: the dimension each product marks most.",
            "maps:biplot",
            options=tuple(options),
            tags=("map",),
        ),
        Section(
            "inertia",
            "Inertia",
            "How much of the products' variation each dimension shows (Benzécri-adjusted: raw "
            "MCA percentages understate the structure).",
            "maps:inertia",
            options=(Option("adjusted", "Benzécri-adjusted", "bool", True),),
        ),
    ]


def _baskets(view: ChartView) -> list[Section]:
    r, one, many = view.result, _one(view), _many(view)
    out = []
    if r.get("top_products"):
        out.append(
            Section(
                "top_products",
                f"What each {one} holds",
                f"The products with the largest share of each {one}'s weight: baskets of "
                "products bought together.",
                "baskets:top_products",
            )
        )
    if r.get("component_share") or r.get("topic_share"):
        out.append(
            Section(
                "shares",
                f"Size of each {one}",
                "Share of the purchases each accounts for.",
                "baskets:unit_shares",
            )
        )
    if profile(view.spec, r, view.units) is not None:
        out.append(
            Section(
                "weights",
                "Weights of every product",
                f"Each {one}'s weight spread over the products: each column sums to 100%."
                + _products_note(view),
                "dimensions:shares",
                tags=("profile",),
            )
        )
    if len(r.get("sweep") or []) > 1:
        how = "picked at the elbow" if r.get("selected_by") == "elbow" else "as asked"
        out.append(
            Section(
                "error_curve",
                f"Error by number of {many}",
                f"Lower is better; the dashed line marks the number shown ({how}).",
                "baskets:error_curve",
            )
        )
    return out


def _choice(view: ChartView) -> list[Section]:
    r = view.result
    out = []
    if view.units.keys and profile(view.spec, r, view.units) is not None:
        out.append(
            Section(
                "effects",
                "How household features change each product's purchase",
                "Effects on the link scale (log-odds for logit): blue raises the chance of "
                "buying, red lowers it." + _products_note(view),
                "dimensions:effects",
                tags=("profile",),
            )
        )
    if r.get("household_effect_average"):
        out.append(
            Section(
                "pooled_effects",
                "Effects common to all products",
                "94% intervals; an interval that does not cross 0 is a credible effect.",
                "bayes:pooled_effects",
            )
        )
    if r.get("product_feature_effects"):
        out.append(
            Section(
                "product_feature_effects",
                "Effects of product features",
                "Shared by every product (e.g. price).",
                "bayes:product_feature_effects",
            )
        )
    return out + _bayesian_checks(view)


def _graph(view: ChartView) -> list[Section]:
    if not (view.result.get("edges") and view.result.get("products")):
        return []
    return [
        Section(
            "graph",
            "Which products are bought together",
            "Lines join products bought together more than chance (thicker = stronger); "
            f"colours are the {_many(view)} of products that belong together.",
            "graph:graph",
            tags=("map",),
        )
    ]


def _who(view: ChartView) -> list[Section]:
    """Profiles by the run's household features, for every family with per-household outputs."""
    profiles = view.result.get("profiles")
    if not (isinstance(profiles, dict) and profiles.get("features")):
        return []
    one, many = _one(view), _many(view)
    marks = (
        "▲/▼: differs significantly from all households (adjusted residuals, Bonferroni over "
        f"all {profiles.get('n_cells', 0)} cells, α = 0.05)."
    )
    if profiles.get("measure") == "membership":
        return [
            Section(
                "who",
                "Who they are",
                f"The household features of each {one}: the share of its households in each "
                f"category (numeric features: the mean), weighted by how likely each household "
                f"is to be in the {one}. Colour: index against all households (100 = average; "
                f"blue over, orange under). {marks} The features do not change the {many}.",
                "profiles:who",
                tags=("who",),
            )
        ]
    return [
        Section(
            "who",
            f"Who scores high on each {one}",
            f"The mean score on each {one} of the households in each category of the household "
            f"features (numeric features: by quartile). Colour: how far the category's mean is "
            f"from all households (blue above, red below). {marks}",
            "profiles:who",
            tags=("who",),
        )
    ]


def _three_step(view: ChartView) -> list[Section]:
    """3-step estimation (a plain LCA related to household features and distal outcomes)."""
    found = view.result.get("three_step")
    if not isinstance(found, dict):
        return []
    one, many = _one(view), _many(view)
    error = f"{found.get('error_rate', 0):.1%}"
    out = []
    corrections = [c.get("correction") for c in found.get("covariates") or []]
    if corrections:
        out.append(
            Section(
                "three_step_odds",
                f"What makes a household more likely to be in each {one} (3-step)",
                f"Odds ratios against the first {one}, with 95% intervals, estimated from the "
                f"households' assigned {many} and corrected for their classification error "
                f"({error} misassigned): the {many} stay as they are. Above 1 the feature makes "
                f"the {one} more likely.",
                "profiles:three_step_odds",
                options=(
                    Option(
                        "correction",
                        "Correction",
                        "choice",
                        corrections[0],
                        tuple((str(c), str(c)) for c in corrections),
                        "BCH weights each household by the inverse of the classification "
                        "error; ML fits a latent class model with that error fixed.",
                    ),
                ),
                tags=("who",),
            )
        )
    if found.get("distal"):
        out.append(
            Section(
                "three_step_outcomes",
                f"How the {many} differ in the outcomes (3-step)",
                f"Each outcome's mean (or share) in each {one} with its 95% interval, corrected "
                f"for the classification error of assigning households to {many} ({error}), by "
                "BCH (blue) and ML (orange); the dashed line is all households.",
                "profiles:three_step_outcomes",
                tags=("who",),
            )
        )
    return out


def _product_views(view: ChartView) -> list[Section]:
    stored = view.product_map
    if stored is None or len(stored["products"]) < 3:
        return []
    colour = Option(
        "colour",
        "Colour products by",
        "choice",
        "units",
        (("units", view.units.word), ("clusters", "Product clusters"))
        if stored.get("clusters")
        else (("units", view.units.word),),
    )
    out = []
    if view.spec.kind is not Kind.map:
        out.append(
            Section(
                "product_map",
                "Product map",
                "Products placed by how this model sees them: close products play a similar "
                f"role. Colour: the {_one(view)} each product is most characteristic of, or "
                "the product clusters (k-means, k by silhouette).",
                "common:product_map",
                options=(colour,),
                tags=("map",),
            )
        )
    if stored.get("dendrogram"):
        out.append(
            Section(
                "dendrogram",
                "Product dendrogram",
                "Products joined from the most alike (right) to the least (left): products "
                "joining early compete for, or complement, the same households.",
                "common:dendrogram",
                options=(colour,),
            )
        )
    out.append(
        Section(
            "competitors",
            "Closest competitors",
            "For each product, the products most alike in this model (cosine similarity; 1 = "
            f"the same pattern across the model's {_many(view)}).",
            "common:closest_competitors",
        )
    )
    return out


BY_KIND: dict[Kind, Callable[[ChartView], list[Section]]] = {
    Kind.segments: _segments,
    Kind.dimensions: _dimensions,
    Kind.map: _map,
    Kind.baskets: _baskets,
    Kind.choice: _choice,
    Kind.graph: _graph,
}
