# Reference values of R FactoMineR's MCA for workers/models/mca.py.
#
# Reads the committed inputs tests/expected/factor_binary*.csv (written by
# `python -m tests.reference.simulate`), codes each product column as a factor (0/1; a missing
# cell stays NA, which FactoMineR's default na.method = "NA" turns into its own category) and
# writes tests/expected/factominer_mca.json. Run from the repository root:
#   Rscript tests/reference/factominer_reference.R
# Needs R with FactoMineR (Debian: r-cran-factominer).
suppressPackageStartupMessages({
  library(FactoMineR)
  library(jsonlite)
})
dir <- "tests/expected"

mca_of <- function(name, ncp = 5, n_rows = 100) {
  frame <- read.csv(file.path(dir, name), na.strings = "NA")
  x <- frame[, grepl("^prod_", names(frame))]
  for (col in names(x)) x[[col]] <- factor(x[[col]], levels = c(0, 1))
  res <- MCA(x, ncp = ncp, graph = FALSE)
  list(
    eigenvalues = unname(res$eig[, 1]),
    percent = unname(res$eig[, 2]),
    categories = rownames(res$var$coord),
    var_coord = unname(res$var$coord),
    var_contrib = unname(res$var$contrib),
    var_cos2 = unname(res$var$cos2),
    var_vtest = unname(res$var$v.test),
    var_eta2 = unname(res$var$eta2),
    ind_coord = unname(res$ind$coord[seq_len(n_rows), ]),
    ind_cos2 = unname(res$ind$cos2[seq_len(n_rows), ]),
    ind_contrib = unname(res$ind$contrib[seq_len(n_rows), ])
  )
}
out <- list(
  versions = list(R = paste(R.version$major, R.version$minor, sep = "."),
                  FactoMineR = as.character(packageVersion("FactoMineR"))),
  datasets = list(
    factor_binary.csv = mca_of("factor_binary.csv"),
    factor_binary_missing.csv = mca_of("factor_binary_missing.csv")
  )
)
write(toJSON(out, digits = NA, auto_unbox = TRUE, matrix = "rowmajor"),
      file.path(dir, "factominer_mca.json"))
cat("wrote", file.path(dir, "factominer_mca.json"), "\n")
