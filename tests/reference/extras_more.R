# More metafor reference values for tests that used to check only a range (k0 >= 0, s2w >= 1):
# trimfill on equal variances with side="left", trimfill with the Q0 estimator (dat.bcg), and
# meta-regression on a subgroup dummy with test="adhoc" for every tau2 estimator.
# Run from this folder:  Rscript extras_more.R   (a few seconds; writes extras_more.json)
suppressMessages({library(metafor); library(jsonlite)})
num <- function(x) if (is.null(x)) NULL else as.numeric(x)
run <- function(expr, env) {
  w <- character(0)
  val <- tryCatch(withCallingHandlers(eval(parse(text = expr), envir = env),
    warning = function(c) { w <<- c(w, conditionMessage(c)); invokeRestart("muffleWarning") }),
    error = function(e) structure(conditionMessage(e), class = "failed"))
  list(value = val, warnings = w)
}
tf_case <- function(setup, fitcall, tfcall) {
  env <- new.env()
  eval(parse(text = setup), envir = env)
  run(paste("fit <-", fitcall), env)
  r <- run(tfcall, env)
  out <- list(call = sprintf("%s; fit <- %s; %s", setup, fitcall, tfcall), warnings = r$warnings)
  if (inherits(r$value, "failed")) return(c(out, list(error = unclass(r$value))))
  v <- r$value
  c(out, list(k0 = v$k0, se.k0 = num(v$se.k0), side = v$side, p.k0 = num(v$p.k0),
              b = num(v$b), ci.lb = v$ci.lb, ci.ub = v$ci.ub))
}
trimfill_cases <- list(
  equal_variances_left = tf_case('yi <- c(0.1, 0.2, 0.3, 0.5); vi <- rep(0.02, 4)',
                                 'rma(yi, vi, method="DL")', 'trimfill(fit, side="left")'),
  bcg_Q0 = tf_case('dat <- read.csv("data/bcg.csv"); es <- escalc(measure="RR", ai=ai, bi=bi, ci=ci, di=di, data=dat)',
                   'rma(yi, vi, data=es, method="DL")', 'trimfill(fit, estimator="Q0")'))
metareg_cases <- list()
for (method in c("FE", "DL", "HE", "HS", "SJ", "PM", "ML", "REML", "EB")) {
  env <- new.env()
  setup <- 'dat <- read.csv("data/debruin2009.csv"); es <- escalc(measure="PLO", xi=xi, ni=ni, data=dat); es$groupyes <- as.numeric(es$group == "yes")'
  eval(parse(text = setup), envir = env)
  call <- sprintf('rma(yi, vi, mods = ~ groupyes, data=es, method="%s", test="adhoc")', method)
  r <- run(call, env)
  case <- list(method = method, call = paste(setup, call, sep = "; "), warnings = r$warnings)
  if (inherits(r$value, "failed")) {
    case$error <- unclass(r$value)
  } else {
    f <- r$value
    case <- c(case, list(b = num(f$b), se = num(f$se), tau2 = f$tau2, s2w = f$s2w, I2 = num(f$I2),
                         H2 = num(f$H2), R2 = num(f$R2), QE = f$QE, QEdf = f$k - f$p))
  }
  metareg_cases[[length(metareg_cases) + 1]] <- case
}
meta <- list(metafor = as.character(packageVersion("metafor")), R = R.version.string)
write_json(list(meta = meta, trimfill = trimfill_cases, metareg_adhoc = metareg_cases),
           "extras_more.json", digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null",
           na = "null")
cat("wrote extras_more.json\n")
