"""Model code, one home per family: a package for a family with several parts (`lca/`,
`factor/`, `bayes/`), a module for a small one (`mca.py`, `nmf.py`, `lda.py`, `network.py`),
and shared helpers named for what they hold (`base.py`, `progress.py`, `pair_counts.py`,
`provenance.py`). Each family's fit is `fit(data, params, progress) -> Result`, checked by mypy
against `workers.models.base.FitFunction`; the family specification (backend/families) names
its import path and workers load it on first use, so a worker that never fits a Bayesian model
never imports PyMC."""
