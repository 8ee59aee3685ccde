# How far our varimax is from psych's, and why (issue 14): psych's fa(rotate = "varimax") stops
# stats::varimax at eps = 1e-5; the same unrotated loadings rotated by stats::varimax with
# eps = 1e-12 show how much of the difference is psych stopping early.
#
# Reads tests/expected/factor_binary*.csv, writes tests/expected/psych_varimax.json. Run from
# the repository root:   Rscript tests/reference/psych_varimax.R   (r-cran-psych, jsonlite)
suppressPackageStartupMessages({
  library(psych)
  library(jsonlite)
})
dir <- "tests/expected"
read_products <- function(name) {
  frame <- read.csv(file.path(dir, name), na.strings = "NA")
  as.matrix(frame[, grepl("^prod_", names(frame))])
}
criterion <- function(l) {  # Kaiser-normalised varimax criterion (what stats::varimax raises)
  x <- l / sqrt(rowSums(l^2))
  sum(apply(x^2, 2, var) * (nrow(x) - 1) / nrow(x))
}
cases <- list()
for (name in c("factor_binary.csv", "factor_binary_missing.csv")) {
  x <- read_products(name)
  for (k in c(3, 4, 5)) {
    for (fm in c("minres", "ml")) {
      f <- suppressWarnings(suppressMessages(fa(x, nfactors = k, rotate = "none", cor = "tet",
                                                fm = fm)))
      r <- suppressWarnings(suppressMessages(fa(x, nfactors = k, rotate = "varimax", cor = "tet",
                                                fm = fm)))
      unrotated <- unclass(f$loadings)
      tight <- varimax(unrotated, eps = 1e-12)$loadings
      cases[[length(cases) + 1]] <- list(
        data = name, n_factors = k, extraction = fm,
        unrotated = unname(unrotated),
        psych = unname(unclass(r$loadings)),
        tight = unname(unclass(tight)),
        criterion_psych = criterion(unclass(r$loadings)),
        criterion_tight = criterion(unclass(tight))
      )
    }
  }
}
versions <- list(R = paste(R.version$major, R.version$minor, sep = "."),
                 psych = as.character(packageVersion("psych")))
write(toJSON(list(versions = versions, cases = cases), digits = NA, auto_unbox = TRUE,
             matrix = "rowmajor"), file.path(dir, "psych_varimax.json"))
cat("wrote", length(cases), "cases\n")
