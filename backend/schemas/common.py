from __future__ import annotations

from enum import StrEnum


class ModelType(StrEnum):
    lca = "lca"
    lca_covariates = "lca_covariates"
    factor_tetrachoric = "factor_tetrachoric"
    bayesian_factor_vi = "bayesian_factor_vi"
    bayesian_factor_pymc = "bayesian_factor_pymc"
    nmf = "nmf"
    mca = "mca"
    dcm = "dcm"
    lda = "lda"
    network = "network"


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL_STATUSES = frozenset({RunStatus.completed, RunStatus.failed, RunStatus.cancelled})


class Phase(StrEnum):
    queued = "queued"
    loading = "loading"
    fitting = "fitting"
    sampling = "sampling"
    saving = "saving"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL_PHASES = frozenset({Phase.completed, Phase.failed, Phase.cancelled})
