# Fully converged GLMM reference values (companion to metafor_glmm.R).
# Same model as glmm_gold.json, rma.glmm(measure = "PLO", method = "ML", nAGQ = 7), but lme4 is told to
# optimise to convergence: with the default settings it stops early on flat likelihoods (constructed_zeros
# moves by 5e-4 relative in tau2). Run from this folder:  Rscript glmm_tight_gold.R
# Needs: apt-get install -y --no-install-recommends r-cran-metafor r-cran-lme4 r-cran-jsonlite
suppressMessages({library(metafor); library(jsonlite)})
sets <- c("pritz1997", "debruin2009", "constructed_zeros", "constructed_k2", "boundary", "extreme")
# a made-up case whose ML estimate of tau2 is 0 (the boundary of the parameter space)
boundary <- data.frame(study = c("B1", "B2", "B3"), xi = c(0, 1, 0), ni = c(10, 20, 30))
# a made-up case with three studies at 100 %, one at 0 %: tau2 ~ 331, the estimate far out on the logit scale
extreme <- data.frame(study = paste0("E", 1:5), xi = c(48, 48, 33, 0, 4), ni = c(48, 48, 41, 37, 4))
ctrl <- "list(glmerCtrl = list(optimizer = 'Nelder_Mead', tolPwrss = 1e-12, optCtrl = list(FtolAbs = 1e-15, FtolRel = 1e-15, XtolRel = 1e-14, maxfun = 1e5)))"
num <- function(x) as.numeric(x)
cases <- list()
for (name in sets) {
  d <- if (name == "boundary") boundary else if (name == "extreme") extreme else read.csv(file.path("data", paste0(name, ".csv")))
  call <- sprintf("rma.glmm(measure='PLO', xi=xi, ni=ni, data=d, method='ML', nAGQ=7, control=%s)", ctrl)
  fit <- eval(parse(text = call))
  p <- predict(fit, transf = transf.ilogit)
  cases[[length(cases) + 1]] <- list(
    dataset = name, xi = d$xi, ni = d$ni, measure = "PLO", method = "GLMM", nAGQ = 7, call = call,
    fit = list(k = fit$k, estimate = num(fit$b), se = fit$se, zval = fit$zval, pval = fit$pval,
               ci_lb = fit$ci.lb, ci_ub = fit$ci.ub, tau2 = fit$tau2, I2 = fit$I2, H2 = fit$H2),
    pred = list(pred = num(p$pred), ci_lb = num(p$ci.lb), ci_ub = num(p$ci.ub),
                pi_lb = num(p$pi.lb), pi_ub = num(p$pi.ub)))
}
meta <- list(metafor = as.character(packageVersion("metafor")), lme4 = as.character(packageVersion("lme4")),
             R = R.version.string, control = ctrl)
write_json(list(meta = meta, cases = cases), "glmm_tight_gold.json", digits = NA, auto_unbox = TRUE,
           pretty = TRUE, null = "null")
cat("wrote", length(cases), "cases to glmm_tight_gold.json\n")
