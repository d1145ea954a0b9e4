# Mantel-Haenszel and Peto with sensitivity and subgroup analyses (metafor 3.8-1):
#   leave1out(rma.mh(...)), leave1out(rma.peto(...)),
#   cumul(rma.mh(...), order = year), cumul(rma.peto(...), order = year),
#   rma.mh(..., subset = group == g) / rma.peto(..., subset = group == g) per subgroup,
#   and the test for subgroup differences between the subgroup estimates (common-effect model).
# R meta is not packaged for Debian 12, so the between-subgroup Q is computed here from the
# subgroup fits: Q = sum_g (b_g - b_bar)^2 / se_g^2 with b_bar their inverse-variance mean,
# df = G - 1 (what meta's metabin(..., method = "MH", subgroup = ...) reports as Q.b.common),
# both by that formula and as rma(yi = b_g, sei = se_g, method = "FE")$QE (must agree).
# Run from this folder:  Rscript mh_extras.R   (a few seconds; writes mh_extras.json)
suppressMessages({library(metafor); library(jsonlite)})

num <- function(x) if (is.null(x)) NULL else as.numeric(x)

datasets <- list(
  bcg = with(dat.bcg, data.frame(
    study = paste(author, year), year = year, alloc = alloc,
    lat = ifelse(ablat >= 30, "high", "low"),
    ai = tpos, n1i = tpos + tneg, ci = cpos, n2i = cpos + cneg)),
  collins1985b = with(dat.collins1985b, data.frame(
    study = paste(author, year), year = year, oedema = ifelse(oedema == 1, "yes", "no"),
    ai = pre.xti, n1i = pre.nti, ci = pre.xci, n2i = pre.nci)),
  nielweise2007 = with(dat.nielweise2007, data.frame(
    study = paste(author, year), year = year, ai = ai, n1i = n1i, ci = ci, n2i = n2i))
)

fits <- list(
  MH_OR = 'rma.mh(ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat, measure="OR"%s)',
  MH_RR = 'rma.mh(ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat, measure="RR"%s)',
  MH_RD = 'rma.mh(ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat, measure="RD"%s)',
  Peto_OR = 'rma.peto(ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=dat%s)'
)

run <- function(expr, env) {
  w <- character(0)
  val <- tryCatch(withCallingHandlers(eval(parse(text = expr), envir = env),
    warning = function(c) { w <<- c(w, conditionMessage(c)); invokeRestart("muffleWarning") }),
    error = function(e) structure(conditionMessage(e), class = "failed"))
  list(value = val, warnings = w)
}

table_out <- function(x) list(
  slab = as.character(x$slab), estimate = num(x$estimate), se = num(x$se), zval = num(x$zval),
  pval = num(x$pval), ci.lb = num(x$ci.lb), ci.ub = num(x$ci.ub), Q = num(x$Q),
  Qp = num(x$Qp), I2 = num(x$I2), H2 = num(x$H2))

fit_out <- function(f) list(
  k = f$k, beta = num(f$beta), se = f$se, zval = f$zval, pval = f$pval, ci.lb = f$ci.lb,
  ci.ub = f$ci.ub, QE = f$QE, QEp = f$QEp, I2 = f$I2, H2 = f$H2)

sensitivity <- list()
for (name in names(datasets)) {
  for (kind in names(fits)) {
    env <- new.env()
    env$dat <- datasets[[name]]
    fitcall <- sprintf(fits[[kind]], ', slab=study')
    for (what in c("leave1out", "cumul")) {
      call <- if (what == "leave1out") sprintf("leave1out(%s)", fitcall)
              else sprintf("cumul(%s, order=year)", fitcall)
      r <- run(call, env)
      case <- list(id = sprintf("%s_%s_%s", what, name, kind), kind = what, dataset = name,
                   method = sub("_.*", "", kind), measure = sub(".*_", "", kind),
                   call = call, warnings = r$warnings)
      if (inherits(r$value, "failed")) case$error <- unclass(r$value)
      else case$outputs <- table_out(r$value)
      sensitivity[[length(sensitivity) + 1]] <- case
    }
  }
}

subgroups <- list()
for (spec in list(c("bcg", "alloc"), c("bcg", "lat"), c("collins1985b", "oedema"))) {
  name <- spec[1]; by <- spec[2]
  for (kind in names(fits)) {
    env <- new.env()
    env$dat <- datasets[[name]]
    groups <- sort(unique(env$dat[[by]]))
    per <- list()
    b <- se <- numeric(0)
    for (g in groups) {
      call <- sprintf(fits[[kind]], sprintf(', subset=%s=="%s"', by, g))
      r <- run(call, env)
      per[[length(per) + 1]] <- c(list(name = g, call = call, warnings = r$warnings),
                                  fit_out(r$value))
      b <- c(b, as.numeric(r$value$beta)); se <- c(se, r$value$se)
    }
    w <- 1 / se^2
    q_formula <- sum(w * (b - sum(w * b) / sum(w))^2)
    fe <- rma(yi = b, sei = se, method = "FE")
    subgroups[[length(subgroups) + 1]] <- list(
      id = sprintf("by_%s_%s_%s", name, by, kind), dataset = name, by = by,
      method = sub("_.*", "", kind), measure = sub(".*_", "", kind), groups = per,
      between = list(call = "rma(yi = b_g, sei = se_g, method = \"FE\")", Q = fe$QE,
                     Q_formula = q_formula, df = length(groups) - 1, p = fe$QEp))
  }
}

out <- list(
  generator = "mh_extras.R", metafor_version = as.character(packageVersion("metafor")),
  R_version = R.version.string, jsonlite_version = as.character(packageVersion("jsonlite")),
  meta = "not installed (no r-cran-meta in Debian 12); between-subgroup Q from the formula",
  tolerance = list(rel = 1e-6, abs = 1e-10),
  datasets = datasets, sensitivity = sensitivity, subgroups = subgroups)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null",
                  dataframe = "columns"), "mh_extras.json")
