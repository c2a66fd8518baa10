"""Whether two stages' draws describe the same posterior: the warm start's against the final
weighted particles, coordinate by coordinate.

Importance weights cannot see mass the proposal never reaches: a transport that misses a tail
or a mode can report a moderate ESS and a Pareto k under 0.7 while its draws are too narrow. The
warm start's draws (the default SMC's particles) come from a different algorithm, by moves that
target the posterior; where the particles put clearly less weight than the warm start's draws
beyond one of its tail quantiles, more than their Monte Carlo error allows, the proposal has likely
missed that tail, and the run says so (:func:`compare`). The converse, a warm start narrower than
the weighted particles, is the weights' own finding (they kept mass the warm start lacks) and is
reported in the result but not flagged.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
import scipy.stats

from numpyro_pinn.diagnostics import normalised_weights

__all__ = ["Agreement", "compare", "follows_posterior", "weighted_quantiles", "weighted_cdf", "MIN_TAIL_SHARE",
           "FALSE_ALARM"]

#: A tail counts as missed when the weighted particles put less than this share of their weight
#: beyond the warm start's 5% or 95% quantile (half the 5% the warm start puts there; a Gaussian
#: 16% too narrow, or shifted by 0.3 sds, puts about this much).
MIN_TAIL_SHARE = 0.025
#: The chance that two samples of the same posterior are reported to disagree somewhere (all
#: coordinates and both tails together, under the normal approximation).
FALSE_ALARM = 0.01

_PROBS = np.array([0.05, 0.5, 0.95])  # the median and the 90% interval's ends
_WIDTH_SDS = 2.0 * scipy.stats.norm.ppf(0.95)  # a Gaussian's 90% width, in sds


class Agreement(NamedTuple):
    """What :func:`compare` returns.

    ``coordinate``: the (flat, unconstrained) coordinate whose tail is most deficient in Monte
    Carlo standard errors; ``median_shift``: there, the final median minus the warm start's, in
    the warm start's sds (its 90% width / 3.29); ``width_ratio``: there, the final 90% width over
    the warm start's; ``tail_share``: there, the smaller of the particles' weights below the warm
    start's 5% quantile and above its 95% (0.05 each when they agree); ``z``: its deficit in
    standard errors; ``threshold``: the ``z`` above which a deficit is reported (Bonferroni over
    coordinates and both tails); ``disagrees``: whether some coordinate's tail share is both below
    :data:`MIN_TAIL_SHARE` and beyond ``threshold``."""

    coordinate: int
    median_shift: float
    width_ratio: float
    tail_share: float
    z: float
    threshold: float
    disagrees: bool

    def warning(self, name: str, rejuvenated: Optional[int] = None) -> str:
        """The run's warning when the stages disagree: ``name`` is the coordinate's (its site);
        ``rejuvenated``: the HMC moves the resampled draws were then given."""
        return (
            f"The warm start's draws and the final weighted draws disagree on {name} (unconstrained): the final "
            f"draws put {self.tail_share:.3f} of their weight beyond one of the warm start's 5% tails, "
            f"{self.z:.1f} Monte Carlo standard errors short of 0.05 (the final median {self.median_shift:+.2f} of "
            f"the warm start's sds from the warm start's, the 90% width {self.width_ratio:.2f} times as large). "
            "Either the transport missed that tail, which the importance weights cannot show, or the warm start "
            "is too wide there"
            + (f"; the resampled draws were moved by {rejuvenated} HMC steps targeting the posterior "
               "(rejuvenation), which corrects them as far as those steps mix" if rejuvenated else "")
            + ". Check this site against NUTS, or warm-start from posterior draws (e.g. NUTS's) and train longer "
            "(`num_steps`).")

    def info(self) -> dict:
        """Plain data for ``diagnostics["stage_agreement"]``."""
        return {k: (bool(v) if k == "disagrees" else int(v) if k == "coordinate" else float(v))
                for k, v in self._asdict().items()}


def follows_posterior(method: str) -> bool:
    """Whether a warm start's draws, by its ``method``, are meant as posterior draws: not a
    Laplace fit's mode, nor the particles of an SMC stopped before the posterior."""
    return not (method.startswith("laplace") or "stopped at" in method)


def _sorted(x, weights):
    """Each column of ``x`` sorted, with the weighted empirical distribution function at each
    value, each draw's mass centred on it."""
    x, w = np.asarray(x, np.float64), np.asarray(weights, np.float64)
    order = np.argsort(x, axis=0)
    ws = w[order]
    return np.take_along_axis(x, order, axis=0), np.cumsum(ws, axis=0) - 0.5 * ws


def weighted_quantiles(x, weights, probs) -> np.ndarray:
    """Per-column quantiles of ``x`` ``(n, d)`` under normalised ``weights`` ``(n,)``, ``(len(probs),
    d)``: the inverse of the weighted empirical distribution function, each draw's mass centred on
    it (with equal weights, NumPy's ``'hazen'`` quantiles)."""
    xs, cdf = _sorted(x, weights)
    return np.array([[np.interp(p, cdf[:, j], xs[:, j]) for j in range(xs.shape[1])] for p in probs])


def weighted_cdf(x, weights, points) -> np.ndarray:
    """Per column ``j``, the weighted empirical distribution function of ``x[:, j]`` at each
    ``points[:, j]`` (``(k, d)``): the inverse of :func:`weighted_quantiles`."""
    xs, cdf = _sorted(x, weights)
    points = np.asarray(points, np.float64)
    return np.array([[np.interp(t, xs[:, j], cdf[:, j]) for j, t in enumerate(row)] for row in points])


def compare(reference, x, log_weights, reference_size: Optional[float] = None) -> Optional[Agreement]:
    """Whether the weighted particles ``x`` ``(n, d)`` miss a tail of the ``reference`` draws
    ``(m, d)`` (the warm start's, equal weights), coordinate by coordinate.

    In each coordinate the particles should put 5% of their weight below the reference's 5%
    quantile and 5% above its 95%. A tail is missed when that share is below
    :data:`MIN_TAIL_SHARE` and short of 5% by more than both samples' Monte Carlo error allows:
    ``sqrt(p (1 - p) (1 / m + 1 / n))``, whatever the posterior's shape (modes, heavy tails),
    with ``n`` the particles' Kish ESS and ``m`` ``reference_size`` (default: half the reference's
    rows, as resampled SMC particles repeat), at :data:`FALSE_ALARM` over all coordinates and both
    tails (one-sided: more weight than the reference's there is the weights' finding, not a miss).
    ``None`` when no coordinate has spread in both samples, or no weight is finite."""
    ref = np.asarray(reference, np.float64)
    x = np.asarray(x, np.float64)
    lw = np.asarray(log_weights, np.float64)
    if x.ndim != 2 or lw.shape != (x.shape[0],) or (ref.ndim == 2 and ref.shape[1] != x.shape[1]):
        raise ValueError(f"`x` must be (n, d) with one log weight per row, and `reference` (m, d) with the same d; "
                         f"got `reference` {ref.shape}, `x` {x.shape}, `log_weights` {lw.shape}.")
    ok = np.isfinite(lw) & np.all(np.isfinite(x), axis=1)
    if not ok.any() or ref.ndim != 2 or ref.shape[0] < 2:
        return None
    w = normalised_weights(lw[ok])
    n_eff = 1.0 / np.sum(w**2)
    m_eff = ref.shape[0] / 2.0 if reference_size is None else float(reference_size)
    r = np.quantile(ref, _PROBS, axis=0, method="hazen")
    f = weighted_quantiles(x[ok], w, _PROBS)
    valid = (r[2] > r[0]) & (f[2] > f[0])
    if not valid.any():
        return None
    share = weighted_cdf(x[ok], w, r)  # (3, d): the particles' weight below the reference's quantiles
    tail = np.minimum(share[0], 1.0 - share[2])
    se = np.sqrt(0.05 * 0.95 * (1.0 / m_eff + 1.0 / n_eff))
    z = np.where(valid, (0.05 - tail) / se, -np.inf)
    safe = lambda a: np.where(valid, a, 1.0)
    shift = np.where(valid, (f[1] - r[1]) / safe((r[2] - r[0]) / _WIDTH_SDS), 0.0)
    ratio = np.where(valid, safe(f[2] - f[0]) / safe(r[2] - r[0]), 1.0)
    threshold = float(scipy.stats.norm.isf(FALSE_ALARM / (2 * int(valid.sum()))))
    relevant = valid & (tail < MIN_TAIL_SHARE)
    j = int(np.argmax(np.where(relevant, z, -np.inf))) if relevant.any() else int(np.argmax(z))
    return Agreement(j, float(shift[j]), float(ratio[j]), float(tail[j]), float(z[j]), threshold,
                     bool(relevant[j] and z[j] > threshold))
