"""Bayesian models in PyMC: the factor model's graph and summaries (`factor_model`), its fit by
NUTS (`factor_nuts`) and by variational inference (`factor_vi`), the discrete-choice model
(`dcm`), household and product features (`features`), sampling (`sampling`) and posterior
summaries (`summary`).

Nothing is imported here: PyMC and its compilers take seconds to import, so the modules are
loaded only by a worker that runs a Bayesian model.
"""
