# Extra metafor reference values: trim-and-fill (trimfill) and cumulative meta-analysis (cumul),
# complementing gold.json. Run from this folder:  Rscript extras_gold.R   (about 5 s)
# Needs: apt-get install -y --no-install-recommends r-cran-metafor r-cran-jsonlite
# Every call is kept as the string that was evaluated.
suppressMessages({library(metafor); library(jsonlite)})
num <- function(x) if (is.null(x)) NULL else as.numeric(x)
sets <- list(
  list(name = "pritz1997", escalc = 'escalc(measure="PLO", xi=xi, ni=ni, data=dat)'),
  list(name = "debruin2009", escalc = 'escalc(measure="PLO", xi=xi, ni=ni, data=dat)'),
  list(name = "constructed_zeros", escalc = 'escalc(measure="PLO", xi=xi, ni=ni, data=dat)'),
  list(name = "bcg", escalc = 'escalc(measure="RR", ai=ai, bi=bi, ci=ci, di=di, data=dat)'),
  list(name = "normand1999", escalc = 'escalc(measure="SMD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat)'),
  list(name = "constructed_k2", escalc = 'escalc(measure="PLO", xi=xi, ni=ni, data=dat)'),
  list(name = "constructed_k1", escalc = 'escalc(measure="PLO", xi=xi, ni=ni, data=dat)'))
fitfields <- function(f) list(b = num(f$b), se = f$se, zval = f$zval, pval = f$pval, ci.lb = f$ci.lb,
  ci.ub = f$ci.ub, tau2 = f$tau2, I2 = f$I2, H2 = f$H2, QE = f$QE, QEp = f$QEp, k = f$k,
  method = f$method, test = f$test)
run <- function(expr, env) {
  w <- character(0)
  val <- tryCatch(withCallingHandlers(eval(parse(text = expr), envir = env),
    warning = function(c) { w <<- c(w, conditionMessage(c)); invokeRestart("muffleWarning") }),
    error = function(e) structure(conditionMessage(e), class = "failed"))
  list(value = val, warnings = w)
}
trimfill_cases <- list(); cumul_cases <- list()
for (ds in sets) {
  read_call <- sprintf('dat <- read.csv("data/%s.csv")', ds$name)
  for (method in c("DL", "REML", "FE")) for (test in c("z", "knha")) {
    if (method == "FE" && test == "knha") next
    env <- new.env()
    eval(parse(text = read_call), envir = env)
    eval(parse(text = paste("es <-", ds$escalc)), envir = env)
    rcall <- sprintf('rma(yi, vi, data=es, method="%s", test="%s")', method, test)
    fit <- run(paste("fit <-", rcall), env)
    for (estimator in c("L0", "R0")) {
      tcall <- sprintf('trimfill(fit, estimator="%s")', estimator)
      case <- list(dataset = ds$name, method = method, test = test, estimator = estimator,
                   call = sprintf("%s; es <- %s; fit <- %s; tf <- %s", read_call, ds$escalc, rcall, tcall))
      tf <- run(tcall, env)
      if (inherits(tf$value, "failed")) {
        case$error <- unclass(tf$value)
      } else {
        r <- tf$value
        case$k0 <- r$k0; case$se.k0 <- r$se.k0; case$side <- r$side; case$p.k0 <- num(r$p.k0)
        case$fill <- r$fill; case$yi <- num(r$yi); case$vi <- num(r$vi)
        case$fit <- fitfields(r)
      }
      case$warnings <- tf$warnings
      trimfill_cases[[length(trimfill_cases) + 1]] <- case
    }
    if (method != "FE" && ds$name %in% c("pritz1997", "debruin2009", "bcg")) {
      ccall <- 'cumul(fit, order=vi)'
      cm <- run(ccall, env)
      case <- list(dataset = ds$name, method = method, test = test,
                   call = sprintf("%s; es <- %s; fit <- %s; cm <- %s", read_call, ds$escalc, rcall, ccall),
                   order_key = "vi")
      v <- cm$value
      for (nm in c("estimate", "se", "ci.lb", "ci.ub", "Q", "Qp", "tau2", "I2", "H2"))
        case[[nm]] <- num(v[[nm]])
      # cumul() names the statistic "tval" for knha and the p-values "pvals"
      case$zval <- num(if (is.null(v$zval)) v$tval else v$zval)
      case$pval <- num(v$pvals)
      case$slab <- as.character(v$slab)
      case$warnings <- cm$warnings
      cumul_cases[[length(cumul_cases) + 1]] <- case
    }
  }
}
meta <- list(metafor = as.character(packageVersion("metafor")), R = R.version.string,
             note = "trimfill(fit) with metafor's defaults (side chosen by the sign of the sei slope); cumul(fit, order=vi).")
write_json(list(meta = meta, trimfill = trimfill_cases, cumul = cumul_cases), "extras_gold.json",
           digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null", na = "null")
cat("wrote", length(trimfill_cases), "trimfill and", length(cumul_cases), "cumul cases\n")
