# Extra reference values for the effect-size layer (metareview tests/test_effects.py):
# escalc continuity-correction options, 2x2 zero cells and drop00, metafor back-transforms,
# and study CIs for single proportions from base R (binom.test, prop.test).
# Run: cd tests/reference && Rscript engine_extra.R   (writes engine_extra.json)
suppressMessages(library(metafor))
library(jsonlite)

out <- list(meta = list(metafor_version = as.character(packageVersion("metafor")),
                        R_version = R.version.string,
                        generated_utc = format(Sys.time(), "%Y-%m-%dT%H:%M:%SZ", tz = "UTC")))

run <- function(call) {
  res <- tryCatch(eval(parse(text = call)), error = function(e) e)
  if (inherits(res, "error")) return(list(call = call, error = conditionMessage(res)))
  list(call = call, yi = as.numeric(res$yi), vi = as.numeric(res$vi))
}

prop <- "xi=c(0, 3, 10, 7), ni=c(10, 12, 10, 20)"
bin <- "ai=c(0, 2, 0, 5, 3), bi=c(10, 8, 12, 0, 7), ci=c(0, 4, 3, 6, 5), di=c(12, 6, 9, 0, 5)"
calls <- c()
for (m in c("PR", "PLN", "PLO", "PAS", "PFT")) {
  for (opt in c("", ", to=\"all\"", ", to=\"if0all\"", ", add=1", ", add=0.5", ", add=0.25, to=\"all\"")) {
    calls <- c(calls, sprintf("escalc(measure=\"%s\", %s%s)", m, prop, opt))
  }
}
for (m in c("OR", "RR", "RD")) {
  for (opt in c("", ", drop00=TRUE", ", to=\"all\"", ", to=\"if0all\"", ", add=1", ", to=\"none\"")) {
    calls <- c(calls, sprintf("escalc(measure=\"%s\", %s%s)", m, bin, opt))
  }
  calls <- c(calls, sprintf("escalc(measure=\"%s\", ai=c(4, 6), n1i=c(123, 306), ci=c(11, 29), n2i=c(139, 303))", m))
}
calls <- c(calls, "escalc(measure=\"PR\", xi=c(3, 11), ni=c(10, 10))",
           "escalc(measure=\"PR\", xi=c(-1, 2), ni=c(10, 10))",
           "escalc(measure=\"PR\", xi=c(1, 2), ni=c(0, 10))")
out$escalc <- lapply(calls, run)

t <- c(-0.2, 0, 0.05, 0.3, 0.7, 1.2, 1.5, 1.6)
ni <- c(10, 25, 40, 100)
out$transforms <- list(
  values = t, ni = ni,
  ilogit = transf.ilogit(t),
  iarcsin = transf.iarcsin(t),
  ipft_hm = transf.ipft.hm(t, targs = list(ni = ni)),
  exp = exp(t)
)

x <- c(0, 1, 5, 17, 20)
n <- c(20, 20, 20, 20, 20)
cp <- t(sapply(seq_along(x), function(i) binom.test(x[i], n[i])$conf.int))
wilson <- t(sapply(seq_along(x), function(i) prop.test(x[i], n[i], correct = FALSE)$conf.int))
cp90 <- t(sapply(seq_along(x), function(i) binom.test(x[i], n[i], conf.level = 0.9)$conf.int))
p <- x / n
z <- qnorm(0.975)
out$proportion_ci <- list(
  x = x, n = n,
  calls = c("binom.test(x, n)$conf.int", "prop.test(x, n, correct=FALSE)$conf.int",
            "binom.test(x, n, conf.level=0.9)$conf.int", "p +- qnorm(0.975)*sqrt(p(1-p)/n)"),
  cp_lb = cp[, 1], cp_ub = cp[, 2],
  wilson_lb = wilson[, 1], wilson_ub = wilson[, 2],
  cp90_lb = cp90[, 1], cp90_ub = cp90[, 2],
  wald_lb = p - z * sqrt(p * (1 - p) / n), wald_ub = p + z * sqrt(p * (1 - p) / n)
)

write_json(out, "engine_extra.json", digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null")

# Knapp-Hartung when every estimate is the same (s2w = 0), printed for tests/test_meta.py:
fit <- rma(c(0.5, 0.5, 0.5), c(0.1, 0.2, 0.3), test = "knha", method = "DL")
print(c(b = fit$b, se = fit$se, zval = fit$zval, pval = fit$pval, ci.lb = fit$ci.lb,
        ci.ub = fit$ci.ub, s2w = fit$s2w, QM = fit$QM))
