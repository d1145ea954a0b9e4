# Subgroup test under Knapp-Hartung: BCG (dat.bcg), OR, PM, group = ablat >= 30 ("high"/"low").
# metafor reports QM as an F statistic with QMdf = c(m, k - p) when test = "knha".
# Run: Rscript subgroup_knha.R > subgroup_knha.json
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
dat <- escalc(measure = "OR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
dat$lat <- ifelse(dat$ablat >= 30, "high", "low")
fit <- rma(yi, vi, mods = ~ lat, data = dat, method = "PM", test = "knha")
cat(toJSON(list(
  metafor = as.character(packageVersion("metafor")),
  call = "rma(yi, vi, mods = ~ lat, data = dat, method = 'PM', test = 'knha')",
  study = paste(dat$author, dat$year), lat = dat$lat,
  QM = fit$QM, QMdf = fit$QMdf, QMp = fit$QMp
), auto_unbox = TRUE, digits = NA, pretty = TRUE))
