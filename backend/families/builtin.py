"""The model families this version serves: the one place that names each model type.

Adding a family is one package under workers/models/ and one entry here (or, outside this
repository, one specification named in EXTRA_FAMILIES); docs/adding-a-model.md says how.
"""

from __future__ import annotations

from dataclasses import replace

from backend.families import costs
from backend.families.spec import (
    SAMPLING_QUEUE,
    FamilySpec,
    HouseholdFeatures,
    Kind,
    ProductProfile,
)
from backend.schemas.bayesian import (
    BayesianFactorPymcParams,
    BayesianFactorResult,
    BayesianFactorVIParams,
)
from backend.schemas.dcm import DCMParams, DCMResult
from backend.schemas.factor import TetrachoricFactorParams, TetrachoricFactorResult
from backend.schemas.lca import LCACovariatesParams, LCACovariatesResult, LCAParams, LCAResult
from backend.schemas.lda import LDAParams, LDAResult
from backend.schemas.mca import MCAParams, MCAResult
from backend.schemas.network import NetworkParams, NetworkResult
from backend.schemas.nmf import NMFParams, NMFResult
from backend.services import tables_bayesian as bayes_tables
from backend.services import tables_dimensions as dim_tables
from backend.services import tables_segments as segment_tables

LCA = FamilySpec(
    "lca",
    "Latent class segments",
    "Splits households into a few segments, each with its own purchase probabilities.",
    LCAParams,
    LCAResult,
    fit="workers.models.lca.fit:fit",
    kind=Kind.segments,
    unit="Segment",
    units_field="classes",
    sweep_param="n_classes",
    household_features=HouseholdFeatures.optional,  # profiled by them
    household_outputs=("probability of each segment", "most likely segment"),
    product_outputs=("item_probabilities", "item_index"),
    profile=ProductProfile("item_probabilities", products_on_rows=False),
    tables=segment_tables.segment_tables,
    embedding=segment_tables.segment_embedding,
    cost=costs.segments,
    score="workers.models.lca.score:score",
)
BAYESIAN_FACTOR_NUTS = FamilySpec(
    "bayesian_factor_pymc",
    "Bayesian factor model (NUTS)",
    "Continuous dimensions behind purchases with full uncertainty: which loadings and "
    "household scores are credible, sampled with NUTS (minutes).",
    BayesianFactorPymcParams,
    BayesianFactorResult,
    fit="workers.models.bayes.factor_nuts:fit",
    kind=Kind.dimensions,
    unit="Factor",
    units_field="factors",
    queue=SAMPLING_QUEUE,
    bayesian=True,
    household_features=HouseholdFeatures.optional,  # profiled by them
    household_outputs=("posterior mean score on each factor", "its sd and 94% interval"),
    product_outputs=("loadings", "loadings_hdi_low", "loadings_hdi_high"),
    profile=ProductProfile("loadings"),
    tables=bayes_tables.factor_tables,
    embedding=bayes_tables.factor_embedding,
    cost=costs.factor_nuts,
    score="workers.models.bayes.score:score",
)

BUILTIN: tuple[FamilySpec, ...] = (
    LCA,
    replace(
        LCA,
        model_type="lca_covariates",
        title="Latent class segments explained by household features",
        description="Segments as in latent class analysis, with household features (covariates) "
        "predicting who belongs to which segment (multinomial logit: coefficients and odds "
        "ratios).",
        params=LCACovariatesParams,
        result=LCACovariatesResult,
        fit="workers.models.lca.covariates:fit",
        household_features=HouseholdFeatures.required,
        cost=costs.segments_with_covariates,
    ),
    FamilySpec(
        "factor_tetrachoric",
        "Factor analysis (tetrachoric)",
        "Finds a few continuous dimensions (factors) behind which products are bought together.",
        TetrachoricFactorParams,
        TetrachoricFactorResult,
        fit="workers.models.factor.fit:fit",
        kind=Kind.dimensions,
        unit="Factor",
        units_field="factors",
        household_features=HouseholdFeatures.optional,  # profiled by them
        household_outputs=("score on each factor",),
        product_outputs=("loadings", "communalities", "uniquenesses", "complexity"),
        profile=ProductProfile("loadings"),
        tables=dim_tables.factor_tables,
        embedding=dim_tables.factor_embedding,
        cost=costs.tetrachoric_factors,
        score="workers.models.factor.score:score",
    ),
    FamilySpec(
        "mca",
        "Product map (MCA)",
        "Draws a map where products bought by the same households sit close together.",
        MCAParams,
        MCAResult,
        fit="workers.models.mca:fit",
        kind=Kind.map,
        unit="Dimension",
        units_field="dimensions",
        household_features=HouseholdFeatures.optional,  # profiled by them
        household_outputs=("coordinates on each dimension", "cos² on each dimension"),
        product_outputs=("product_coordinates",),
        profile=ProductProfile("product_coordinates"),
        tables=dim_tables.mca_tables,
        embedding=dim_tables.mca_embedding,
        cost=costs.correspondence_map,
        score="workers.models.mca:score",
    ),
    FamilySpec(
        "nmf",
        "Baskets (NMF)",
        "Splits purchases into a few typical baskets; each household is a mix of them.",
        NMFParams,
        NMFResult,
        fit="workers.models.nmf:fit",
        kind=Kind.baskets,
        unit="Component",
        units_field="component_names",
        household_features=HouseholdFeatures.optional,  # profiled by them
        household_outputs=("weight of each component", "dominant component"),
        product_outputs=("components",),
        profile=ProductProfile("components", products_on_rows=False),
        tables=dim_tables.nmf_tables,
        embedding=dim_tables.nmf_embedding,
        cost=costs.nmf_baskets,
        score="workers.models.nmf:score",
    ),
    FamilySpec(
        "lda",
        "Shopping missions (LDA topics)",
        "Finds a few shopping missions (topics); each household's basket mixes them.",
        LDAParams,
        LDAResult,
        fit="workers.models.lda:fit",
        kind=Kind.baskets,
        unit="Mission",
        units_field="topics",
        household_features=HouseholdFeatures.optional,  # profiled by them
        household_outputs=("share of each mission", "dominant mission"),
        product_outputs=("topic_product",),
        profile=ProductProfile("topic_product", products_on_rows=False),
        tables=dim_tables.lda_tables,
        embedding=dim_tables.lda_embedding,
        cost=costs.topic_missions,
        score="workers.models.lda:score",
    ),
    FamilySpec(
        "network",
        "Co-purchase network",
        "Links products bought together more than chance, groups them and finds the hubs.",
        NetworkParams,
        NetworkResult,
        fit="workers.models.network:fit",
        kind=Kind.graph,
        unit="Community",
        units_field="communities",
        product_outputs=("nodes", "similarity"),
        tables=dim_tables.network_tables,
        embedding=dim_tables.network_embedding,
        cost=costs.copurchase_graph,
    ),
    BAYESIAN_FACTOR_NUTS,
    replace(
        BAYESIAN_FACTOR_NUTS,
        model_type="bayesian_factor_vi",
        title="Bayesian factor model (variational, fast)",
        description="The same Bayesian factor model fitted by variational inference: much "
        "faster on large data, with narrower (optimistic) intervals.",
        params=BayesianFactorVIParams,
        fit="workers.models.bayes.factor_vi:fit",
        cost=costs.factor_vi,
    ),
    FamilySpec(
        "dcm",
        "Discrete choice model",
        "Explains each purchase by product and household features (the run's covariate "
        "columns), with household random effects; Bayesian, sampled with NUTS.",
        DCMParams,
        DCMResult,
        fit="workers.models.bayes.dcm:fit",
        kind=Kind.choice,
        unit="Feature",
        units_field="household_features",
        named_units=True,
        queue=SAMPLING_QUEUE,
        bayesian=True,
        household_features=HouseholdFeatures.optional,
        household_outputs=("posterior mean random effect on each latent taste",),
        product_outputs=("intercepts", "household_effect_means", "latent_loadings"),
        profile=ProductProfile("household_effect_means", products_on_rows=False),
        tables=bayes_tables.dcm_tables,
        embedding=bayes_tables.dcm_embedding,
        cost=costs.choice_nuts,
    ),
)
