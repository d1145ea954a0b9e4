# Random-data sweep for tests/test_meta.py: 40 simulated meta-analyses (k = 2..30, sampling
# variances over three orders of magnitude, tau from 0 to 1, some estimates rounded so that ties
# and tau2 = 0 occur), each fitted by rma() with every method and test, with metafor's default
# control and fully converged (threshold = tol = 1e-12), plus confint() (tol 1e-12).
# Run: cd tests/reference && Rscript engine_sweep.R   (writes engine_sweep.json)
suppressMessages(library(metafor))
library(jsonlite)
set.seed(20261126)
sets <- lapply(1:40, function(i) {
  k <- sample(2:30, 1)
  v <- runif(k, 0.001, 1)^runif(1, 0.5, 3)
  tau <- sample(c(0, 0.05, 0.3, 1), 1)
  y <- rnorm(k, rnorm(1), sqrt(v + tau^2))
  if (i %% 5 == 0) y <- round(y, 1)
  list(yi = y, vi = v)
})
fits <- list()
for (i in seq_along(sets)) {
  y <- sets[[i]]$yi
  v <- sets[[i]]$vi
  for (m in c("FE", "DL", "REML", "ML", "PM", "HE", "SJ", "EB", "HS")) for (tt in c("z", "knha")) {
    for (ctl in c("default", "tight")) {
      con <- if (ctl == "tight") list(threshold = 1e-12, tol = 1e-12, maxiter = 10000) else list()
      r <- tryCatch(suppressWarnings(rma(y, v, method = m, test = tt, control = con)),
                    error = function(e) conditionMessage(e))
      entry <- list(set = i, method = m, test = tt, control = ctl)
      if (is.character(r)) {
        fits[[length(fits) + 1]] <- c(entry, list(error = r))
        next
      }
      ci <- NULL
      if (m != "FE" && ctl == "tight") {
        ci <- tryCatch(confint(r, control = list(tol = 1e-12))$random[, 2:3], error = function(e) NULL)
      }
      fits[[length(fits) + 1]] <- c(entry, list(
        b = r$b[1], se = r$se, zval = r$zval, pval = r$pval, ci.lb = r$ci.lb, ci.ub = r$ci.ub,
        tau2 = r$tau2, se.tau2 = r$se.tau2, I2 = r$I2, H2 = r$H2, QE = r$QE, QEp = r$QEp,
        ll_REML = r$fit.stats["ll", "REML"],
        tau2_ci = if (is.null(ci)) NULL else as.numeric(ci[1, ]),
        I2_ci = if (is.null(ci)) NULL else as.numeric(ci[3, ])))
    }
  }
}
write_json(list(meta = list(metafor_version = as.character(packageVersion("metafor")),
                            R_version = R.version.string, seed = 20261126),
                sets = sets, fits = fits),
           "engine_sweep.json", digits = NA, auto_unbox = TRUE, na = "null")
