"""60-digit reference values for the tau^2 estimators when sampling variances differ wildly.

Independent of metareview's code: every quantity is built here from its definition with
explicit k x k matrices in mpmath at 60 significant digits (P = W - W 1 1' W / 1'W1, traces
summed entry by entry), and the iterative estimators are solved exactly (bisection to 60
digits) instead of by Fisher scoring. The formulas are those of metafor 3.8-1 ``rma.uni``
(Viechtbauer 2005, 2010), which ``tests/reference/README.md`` describes.

Run: ``python tests/reference/tau2_exact.py`` (needs mpmath; writes tau2_exact.json next to
this file). The inputs are binary doubles, converted to mpmath exactly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mpmath as mp

mp.mp.dps = 60
METHODS = ("FE", "DL", "REML", "ML", "PM", "HE", "SJ", "EB", "HS")
RATIOS = [10.0**e for e in range(13)]  # largest / smallest sampling variance, 1e0 .. 1e12


def datasets() -> list[dict[str, object]]:
    """Five designs swept over the variance ratios, plus the issue's three examples."""
    out: list[dict[str, object]] = []
    for e, r in enumerate(RATIOS):
        out += [
            {"id": f"two_far_1e{e}", "yi": [-6.06, -0.696], "vi": [1 / r, 1.0]},
            {"id": f"two_wide_1e{e}", "yi": [-2.7, -917.7], "vi": [1e-6, 1e-6 * r]},
            {"id": f"five_geom_1e{e}", "yi": [0.12, -0.35, 0.48, 0.9, -0.05],
             "vi": [0.01 * r ** (i / 4) for i in range(5)]},
            {"id": f"six_one_precise_1e{e}", "yi": [0.3, 0.1, 0.55, -0.2, 0.4, 0.25],
             "vi": [0.04, 0.06, 0.05, 0.09, 0.03, 0.04 / r]},
            {"id": f"four_close_1e{e}", "yi": [1.01, 0.99, 1.02, 0.98],
             "vi": [0.5, 0.5 / r, 0.2, 0.3]},
        ]
    # the examples; PR with 1/2 added to each cell (escalc's default for x = 0)
    pr = [(0.5 / (n + 1), n + 1) for n in (38, 72, 640668)]
    out += [
        {"id": "issue_dl", "yi": [-6.06, -0.696], "vi": [1e-10, 1.0]},
        {"id": "issue_reml", "yi": [-2.7, -917.7], "vi": [1e-6, 1e6]},
        {"id": "issue_pr_zero_events", "yi": [p for p, _ in pr],
         "vi": [p * (1 - p) / n for p, n in pr]},
    ]
    return out


class Model:
    """The intercept-only model for one dataset, at 60 digits."""

    def __init__(self, yi: list[float], vi: list[float]):
        self.y = [mp.mpf(x) for x in yi]
        self.v = [mp.mpf(x) for x in vi]
        self.k = len(yi)

    def w(self, t: mp.mpf) -> list[mp.mpf]:
        return [1 / (v + t) for v in self.v]

    def p(self, t: mp.mpf) -> list[list[mp.mpf]]:
        w = self.w(t)
        s = mp.fsum(w)
        return [[(w[i] if i == j else 0) - w[i] * w[j] / s for j in range(self.k)]
                for i in range(self.k)]

    def mu(self, t: mp.mpf) -> mp.mpf:
        w = self.w(t)
        return mp.fsum(wi * yi for wi, yi in zip(w, self.y, strict=True)) / mp.fsum(w)

    def q(self, t: mp.mpf) -> mp.mpf:
        """y'P(t)y, the generalised Q."""
        p = self.p(t)
        return mp.fsum(self.y[i] * p[i][j] * self.y[j]
                       for i in range(self.k) for j in range(self.k))

    def py(self, t: mp.mpf) -> list[mp.mpf]:
        p = self.p(t)
        return [mp.fsum(p[i][j] * self.y[j] for j in range(self.k)) for i in range(self.k)]

    def tr_p(self, t: mp.mpf) -> mp.mpf:
        p = self.p(t)
        return mp.fsum(p[i][i] for i in range(self.k))

    def tr_pp(self, t: mp.mpf) -> mp.mpf:
        p = self.p(t)
        return mp.fsum(p[i][j] ** 2 for i in range(self.k) for j in range(self.k))

    def score(self, t: mp.mpf, method: str) -> mp.mpf:
        """d loglik / d tau2 (times 2) for ML or REML."""
        py = self.py(t)
        quad = mp.fsum(x * x for x in py)
        return quad - (mp.fsum(self.w(t)) if method == "ML" else self.tr_p(t))

    def loglik(self, t: mp.mpf, method: str) -> mp.mpf:
        logv = mp.fsum(mp.log(v + t) for v in self.v)
        if method == "ML":
            w = self.w(t)
            mu = self.mu(t)
            rss = mp.fsum(wi * (yi - mu) ** 2 for wi, yi in zip(w, self.y, strict=True))
            return -logv / 2 - rss / 2
        return -logv / 2 - mp.log(mp.fsum(self.w(t))) / 2 - self.q(t) / 2


def bisect(f: object, lo: mp.mpf, hi: mp.mpf) -> mp.mpf:
    """Root of f in [lo, hi] (f(lo) and f(hi) of opposite signs), to 60 digits."""
    flo = f(lo)  # type: ignore[operator]
    for _ in range(400):
        mid = (lo + hi) / 2
        fm = f(mid)  # type: ignore[operator]
        if fm == 0:
            return mid
        if (fm > 0) == (flo > 0):
            lo, flo = mid, fm
        else:
            hi = mid
        if hi - lo <= mp.mpf(10) ** -70 * max(1, abs(hi)):
            break
    return (lo + hi) / 2


def upper_bracket(f: object, sign: int) -> mp.mpf:
    """A tau2 where ``sign * f`` is negative (f decreasing to the right)."""
    hi = mp.mpf(1)
    while sign * f(hi) > 0:  # type: ignore[operator]
        hi *= 10
    return hi


def likelihood_max(m: Model, method: str) -> mp.mpf:
    """The global maximiser on [0, inf): every sign change of the score on a fine log grid is
    bisected, and the best of those roots and 0 is kept."""
    scale = max(m.v) + mp.fsum((y - m.mu(0)) ** 2 for y in m.y)
    grid = [mp.mpf(0)] + [scale * mp.mpf(10) ** (e / 8) for e in range(-8 * 30, 8 * 4 + 1)]
    candidates = [mp.mpf(0)]
    prev_t, prev_s = grid[0], m.score(grid[0], method)
    for t in grid[1:]:
        s = m.score(t, method)
        if prev_s > 0 >= s:
            candidates.append(bisect(lambda x: m.score(x, method), prev_t, t))
        prev_t, prev_s = t, s
    return max(candidates, key=lambda t: m.loglik(t, method))


def tau2_and_se(m: Model, method: str) -> tuple[mp.mpf, mp.mpf | None]:
    k = m.k
    zero = mp.mpf(0)
    if method == "FE":
        return zero, None
    if method in ("DL", "HS"):
        q, trp, trpp, s = m.q(zero), m.tr_p(zero), m.tr_pp(zero), mp.fsum(m.w(zero))
        raw = (q - (k - 1)) / trp if method == "DL" else (q - k) / s
        t = max(zero, raw)
        num = mp.sqrt(2 * (k - 1) + 4 * t * trp + 2 * t**2 * trpp)
        return t, num / (trp if method == "DL" else s)
    if method == "HE":
        ybar = mp.fsum(m.y) / k
        rss = mp.fsum((y - ybar) ** 2 for y in m.y)
        pols = [[(1 if i == j else 0) - mp.mpf(1) / k for j in range(k)] for i in range(k)]
        pv = [[pols[i][j] * m.v[j] for j in range(k)] for i in range(k)]
        trpv = mp.fsum(pv[i][i] for i in range(k))
        pvpv = mp.fsum(pv[i][j] * pv[j][i] for i in range(k) for j in range(k))
        t = max(zero, (rss - trpv) / (k - 1))
        return t, mp.sqrt((2 * pvpv + 4 * t * trpv + 2 * t**2 * (k - 1)) / (k - 1) ** 2)
    if method == "SJ":
        ybar = mp.fsum(m.y) / k
        t0 = mp.fsum((y - ybar) ** 2 for y in m.y) / k
        p = m.p(t0)
        t = max(zero, t0 * m.q(t0) / (k - 1))
        pv = [[p[i][j] * m.v[j] for j in range(k)] for i in range(k)]
        pvpv = mp.fsum(pv[i][j] * pv[j][i] for i in range(k) for j in range(k))
        pvp = mp.fsum(pv[i][j] * p[i][j] for i in range(k) for j in range(k))
        pp = mp.fsum(p[i][j] ** 2 for i in range(k) for j in range(k))
        return t, mp.sqrt(t0**2 / (k - 1) ** 2 * (2 * pvpv + 4 * t * pvp + 2 * t**2 * pp))
    if method in ("PM", "EB"):  # EB's scoring equation Q k/(k-1) = k is PM's Q = k - 1

        def excess(x: mp.mpf) -> mp.mpf:
            return m.q(x) - (k - 1)

        t = zero if excess(zero) <= 0 else bisect(excess, zero, upper_bracket(excess, 1))
        return t, mp.sqrt(2 * mp.mpf(k) ** 2 / (k - 1)) / mp.fsum(m.w(t))
    t = likelihood_max(m, method)
    if method == "ML":
        return t, mp.sqrt(2 / mp.fsum(w * w for w in m.w(t)))
    return t, mp.sqrt(2 / m.tr_pp(t))


def fit(m: Model, method: str) -> dict[str, str | None]:
    k, zero = m.k, mp.mpf(0)
    t, se_t = tau2_and_se(m, method)
    q = m.q(zero)
    vt = (k - 1) / m.tr_p(zero)
    if method == "FE":
        i2 = max(zero, 100 * (q - (k - 1)) / q) if q > 0 else zero
        h2 = q / (k - 1)
    else:
        i2, h2 = 100 * t / (vt + t), t / vt + 1

    def text(x: mp.mpf | None) -> str | None:
        return None if x is None else mp.nstr(x, 30, min_fixed=1, max_fixed=0)

    return {
        "tau2": text(t),
        "se_tau2": text(se_t),
        "estimate": text(m.mu(t)),
        "se": text(1 / mp.sqrt(mp.fsum(m.w(t)))),
        "q": text(q),
        "i2": text(i2),
        "h2": text(h2),
    }


def main() -> None:
    cases = []
    for data in datasets():
        m = Model(data["yi"], data["vi"])  # type: ignore[arg-type]
        cases.append({**data, "fits": {method: fit(m, method) for method in METHODS}})
        print(data["id"], file=sys.stderr)
    out = {
        "meta": {
            "generator": "tests/reference/tau2_exact.py",
            "mpmath_version": mp.__version__,
            "dps": mp.mp.dps,
            "note": "exact (converged) values: compare with Control.tight(); numbers are "
            "decimal strings with 30 significant digits",
        },
        "cases": cases,
    }
    path = Path(__file__).with_name("tau2_exact.json")
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
