# Meta-regression with the Paule-Mandel estimator (metareview tests/test_metareg_pm.py):
# rma(yi, vi, mods=..., method="PM") with metafor's default control (uniroot, tol eps^0.25).
# Run: cd tests/reference && Rscript metareg_pm.R   (writes metareg_pm.json)
suppressMessages({library(metafor); library(jsonlite)})
num <- function(x) as.numeric(x)
cases <- list(
  list(name = "debruin2009 select", data = 'dat <- read.csv("data/debruin2009.csv")',
       escalc = 'escalc(measure="PLO", xi=xi, ni=ni, data=dat)', mods = '~ I(as.numeric(group == "yes"))'),
  list(name = "bcg ablat", data = "dat <- dat.bcg",
       escalc = 'escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat)', mods = "~ ablat"),
  list(name = "bcg ablat+year", data = "dat <- dat.bcg",
       escalc = 'escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat)', mods = "~ ablat + year"))
out <- list(meta = list(metafor_version = as.character(packageVersion("metafor")),
                        R_version = R.version.string), cases = list())
for (case in cases) {
  env <- new.env()
  eval(parse(text = case$data), envir = env)
  eval(parse(text = paste("es <-", case$escalc)), envir = env)
  rcall <- sprintf('rma(yi, vi, mods=%s, data=es, method="PM")', case$mods)
  fit <- eval(parse(text = rcall), envir = env)
  X <- model.matrix(fit)
  out$cases[[length(out$cases) + 1]] <- list(
    name = case$name, call = paste(case$data, paste("es <-", case$escalc), paste("fit <-", rcall), sep = "; "),
    yi = num(env$es$yi), vi = num(env$es$vi), mods = unname(X[, -1, drop = FALSE]),
    fit = list(b = num(fit$b), se = num(fit$se), tau2 = fit$tau2, QE = fit$QE, QM = fit$QM))
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "metareg_pm.json")
