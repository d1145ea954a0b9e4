# Q-profile CIs whose bounds fall outside metafor's search range [tau2.min, tau2.max]:
# metafor marks them with lb.sign / ub.sign (">" above tau2.max, "<" below tau2.min) and
# ci.null when both bounds fall below tau2.min. Run: Rscript qprofile_signs.R
suppressMessages(library(metafor))
library(jsonlite)
one <- function(name, es) {
  fit <- rma(yi, vi, data = es)
  ci <- confint(fit)
  r <- ci$random
  list(name = name, yi = as.numeric(es$yi), vi = as.numeric(es$vi), tau2 = fit$tau2,
       tau2_ci = unname(r["tau^2", c("ci.lb", "ci.ub")]),
       i2_ci = unname(r["I^2(%)", c("ci.lb", "ci.ub")]),
       lb_sign = ci$lb.sign, ub_sign = ci$ub.sign, ci_null = ci$ci.null,
       printed = capture.output(print(ci)))
}
zeros <- escalc("PLO", xi = c(0, 0), ni = c(10, 20))
bcg <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg,
              subset = alloc == "alternate")
flat <- escalc("GEN", yi = c(0.1, 0.1, 0.1), vi = c(0.1, 0.2, 0.3))
out <- list(metafor = as.character(packageVersion("metafor")),
            cases = list(one("zeros_plo", zeros), one("bcg_alternate_rr", bcg),
                         one("identical_yi", flat)))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "qprofile_signs.json")
