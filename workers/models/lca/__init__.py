"""Latent class analysis: the batched EM engine (`engine`), the fit without covariates (`fit`)
and with covariates (`covariates`), choosing the number of classes (`selection`), the fitted
model's statistics (`summary`) and simulated data for tests and benchmarks (`simulation`)."""
