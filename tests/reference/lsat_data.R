# Real binary item data for the LCA start-strategy tests: the LSAT sections 6 and 7
# (Bock & Lieberman 1970; 1,000 examinees × 5 items each), as psych ships them (`psych::bock`).
# Writes tests/expected/lsat6.csv and tests/expected/lsat7.csv (0/1, one row per examinee).
#
#     Rscript tests/reference/lsat_data.R      # needs r-cran-psych
suppressMessages(library(psych))
data(bock)
out <- file.path("tests", "expected")
write.csv(as.data.frame(lsat6), file.path(out, "lsat6.csv"), row.names = FALSE)
write.csv(as.data.frame(lsat7), file.path(out, "lsat7.csv"), row.names = FALSE)
cat(sprintf("psych %s: lsat6 %d × %d, lsat7 %d × %d\n", packageVersion("psych"),
            nrow(lsat6), ncol(lsat6), nrow(lsat7), ncol(lsat7)))
