# Reference values of R psych for the tetrachoric factor model (workers/models/factor/fit.py).
#
# Reads the committed inputs tests/expected/factor_binary*.csv (written once by
# `python -m tests.reference.simulate`) and writes tests/expected/psych_*.json. Run from the
# repository root:   Rscript tests/reference/psych_reference.R
# Needs R with psych and GPArotation (Debian: r-cran-psych, r-cran-gparotation).
suppressPackageStartupMessages({
  library(psych)
  library(jsonlite)
})
set.seed(20240611)
dir <- "tests/expected"

read_products <- function(name) {
  frame <- read.csv(file.path(dir, name), na.strings = "NA")
  as.matrix(frame[, grepl("^prod_", names(frame))])
}
write_json_file <- function(x, name) {
  write(toJSON(x, digits = NA, auto_unbox = TRUE, matrix = "rowmajor", na = "null"),
        file.path(dir, name))
}
versions <- list(
  R = paste(R.version$major, R.version$minor, sep = "."),
  psych = as.character(packageVersion("psych")),
  GPArotation = as.character(packageVersion("GPArotation"))
)

# --- tetrachoric correlations (default correct = 0.5, smooth = TRUE, global = TRUE) ---
tetra <- list()
for (name in c("factor_binary.csv", "factor_binary_missing.csv", "factor_binary_small.csv")) {
  x <- read_products(name)
  t <- suppressMessages(tetrachoric(x))
  raw <- suppressWarnings(suppressMessages(tetrachoric(x, smooth = FALSE)))
  tetra[[name]] <- list(
    rho = unname(t$rho), tau = unname(t$tau),
    rho_unsmoothed = unname(raw$rho),
    min_eigenvalue_unsmoothed = min(eigen(raw$rho)$values)
  )
}
write_json_file(list(versions = versions, datasets = tetra), "psych_tetrachoric.json")

# --- factor analysis of the tetrachoric matrix: fa(x, cor = "tet") ---
summarise_fa <- function(f, n_scores = 100) {
  phi <- if (is.null(f$Phi)) NULL else unname(f$Phi)
  list(
    loadings = unname(unclass(f$loadings)),
    structure = unname(unclass(f$Structure)),
    phi = phi,
    communality = unname(f$communality),
    uniquenesses = unname(f$uniquenesses),
    values = unname(f$values),
    e_values = unname(f$e.values),
    vaccounted = unname(f$Vaccounted),
    complexity = unname(f$complexity),
    rms = f$rms, crms = f$crms, objective = f$objective, statistic = f$STATISTIC,
    dof = f$dof, pval = f$PVAL, tli = f$TLI, rmsea = unname(f$RMSEA[1]), bic = f$BIC,
    fit = f$fit, fit_off = f$fit.off, chi = f$chi, null_chisq = f$null.chisq,
    weights = unname(f$weights),
    scores = unname(f$scores[seq_len(n_scores), , drop = FALSE])
  )
}
x <- read_products("factor_binary.csv")
cases <- list(
  minres_oblimin = list(fm = "minres", rotate = "oblimin"),
  minres_varimax = list(fm = "minres", rotate = "varimax"),
  minres_promax = list(fm = "minres", rotate = "promax"),
  minres_none = list(fm = "minres", rotate = "none"),
  ml_varimax = list(fm = "ml", rotate = "varimax"),
  ml_oblimin = list(fm = "ml", rotate = "oblimin"),
  pa_oblimin = list(fm = "pa", rotate = "oblimin", min.err = 1e-6, max.iter = 1000),
  pa_oblimin_psych_defaults = list(fm = "pa", rotate = "oblimin")
)
fits <- list()
for (case in names(cases)) {
  args <- c(list(x, nfactors = 3, cor = "tet"), cases[[case]])
  f <- suppressWarnings(suppressMessages(do.call(fa, args)))
  fits[[case]] <- summarise_fa(f)
}
one <- suppressMessages(fa(x, nfactors = 1, cor = "tet"))
fits[["minres_one_factor"]] <- summarise_fa(one)
xm <- read_products("factor_binary_missing.csv")
miss <- suppressWarnings(suppressMessages(fa(xm, nfactors = 3, cor = "tet")))
fits[["missing_minres_oblimin"]] <- summarise_fa(miss, n_scores = 0)

pa <- suppressWarnings(suppressMessages(
  fa.parallel(x, cor = "tet", fm = "minres", n.iter = 20, plot = FALSE)
))
write_json_file(
  list(versions = versions, n_obs = nrow(x), fits = fits,
       parallel = list(nfact = pa$nfact, ncomp = pa$ncomp, fa_values = pa$fa.values,
                       pc_values = pa$pc.values)),
  "psych_fa.json"
)
cat("wrote", file.path(dir, "psych_tetrachoric.json"), "and", file.path(dir, "psych_fa.json"), "\n")
