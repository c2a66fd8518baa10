"""Importance-sampling diagnostics: ESS, log Z and its lower bound, Pareto k-hat (PSIS, as ArviZ computes it)."""
from __future__ import annotations

from typing import Optional

import numpy as np
from scipy.special import logsumexp

__all__ = ["PARETO_K_WARN", "ESS_WARN", "EFFECTIVE_DRAWS_WARN", "finite_log_weights", "normalised_weights", "ess", "log_evidence",
           "log_evidence_lower_bound", "pareto_k", "log_evidence_se", "PSIS_MIN_TAIL",
           "summarize", "weight_warnings"]

#: Pareto k-hat above this: the importance weights' variance may be infinite, and the samplers
#: warn that their weights (and what is computed from them) are not trustworthy.
PARETO_K_WARN = 0.7
#: A run warns when the normalised ESS is below ``ESS_WARN`` and the particles hold fewer than
#: ``EFFECTIVE_DRAWS_WARN`` effective draws: too few for reliable quantiles.
ESS_WARN = 0.1
EFFECTIVE_DRAWS_WARN = 400
#: PSIS fits its generalised Pareto distribution to at least this many of the largest weights.
PSIS_MIN_TAIL = 5
#: Tail log weights spanning at most this many nats are flat: :func:`pareto_k` returns 0 for them.
FLAT_TAIL_NATS = 1e-6


def finite_log_weights(log_weights) -> np.ndarray:
    """The log weights as float64 with every non-finite one (a failed particle, a draw outside the
    support) set to ``-inf``: weight 0."""
    lw = np.asarray(log_weights, dtype=np.float64)
    return np.where(np.isfinite(lw), lw, -np.inf)


def normalised_weights(log_weights) -> np.ndarray:
    """Importance weights summing to 1 (a non-finite log weight, a failed particle, gets 0): for
    weighted estimates, e.g. ``np.sum(w * x)`` for a mean."""
    lw = finite_log_weights(log_weights)
    w = np.exp(lw - lw.max())
    return w / w.sum()


def ess(log_weights) -> float:
    """Normalised effective sample size ``(sum w)^2 / (n sum w^2)`` in ``(0, 1]`` (paper eq. 40).

    ``n`` counts every particle: a weight of zero (``-inf``) or none at all (``NaN``, a failed ODE
    solve) lowers the ESS instead of leaving the sample."""
    lw = np.asarray(log_weights, dtype=np.float64)
    lw = np.where(np.isnan(lw), -np.inf, lw)
    if lw.size == 0 or not np.any(np.isfinite(lw)) or np.any(lw == np.inf):
        return 0.0
    return float(np.exp(2 * logsumexp(lw) - logsumexp(2 * lw)) / lw.size)


def log_evidence(log_weights) -> float:
    """Importance-sampling estimate ``log mean(w)`` of ``log Z``."""
    lw = np.asarray(log_weights, dtype=np.float64)
    return float(logsumexp(lw) - np.log(lw.size))


def log_evidence_se(log_weights) -> float:
    """Delta-method standard error of :func:`log_evidence`: ``sqrt((1/ESS - 1) / n)``."""
    lw = np.asarray(log_weights, dtype=np.float64)
    e = ess(lw)
    return float(np.sqrt(max(1.0 / max(e, 1e-300) - 1.0, 0.0) / lw.size))


def log_evidence_lower_bound(log_weights) -> float:
    """ELBO-type lower bound ``mean(log w) <= log Z`` (the paper's reported estimator)."""
    return float(np.mean(np.asarray(log_weights, dtype=np.float64)))


def pareto_k(log_weights) -> float:
    """Pareto k-hat of the importance weights, as ArviZ's PSIS computes it (k > 0.7: weights
    unreliable).

    PSIS fits a generalised Pareto distribution to the largest ``M = min(n / 5, 3 sqrt(n))``
    weights (the empirical-Bayes fit of Zhang and Stephens, 2009, with ArviZ's weakly informative
    prior on k); the result equals ``arviz.psislw(log_weights, reff=1)``'s without importing ArviZ.
    When the tail weights are equal (bounded weights with a flat top, e.g. an exact transport whose
    log weights are constant) the fit is undefined and ArviZ reports ``inf``; when they agree to
    within :data:`FLAT_TAIL_NATS` (a Gaussian base that matches a Gaussian posterior up to its
    estimation error) the fit describes differences of one part in a million, which no practical
    number of draws can turn into a dominant weight. Such weights have no tail that matters, so
    this returns 0 for them instead of a false alarm. With fewer than
    :data:`PSIS_MIN_TAIL` tail weights (fewer than 25 finite weights) there is nothing to fit: NaN.
    """
    lw = np.asarray(log_weights, dtype=np.float64)
    lw = lw[np.isfinite(lw)]
    n = lw.size
    m = int(np.ceil(min(0.2 * n, 3 * np.sqrt(n))))
    if m < PSIS_MIN_TAIL:
        return float("nan")
    x = np.sort(lw - lw.max())
    if n > 1 and x[-1] - x[-(m + 1)] <= max(FLAT_TAIL_NATS, 1e-12 * abs(lw.max())):
        return 0.0
    # ArviZ's _psislw and _gpdfit (Apache-2.0), the shape estimate alone.
    cutoff = max(x[-(m + 1)], np.log(np.finfo(float).tiny))
    tail = x[x > cutoff]
    if tail.size <= 4:
        return float("inf")
    return float(_gpd_shape(np.exp(tail) - np.exp(cutoff)))


def _gpd_shape(ary: np.ndarray) -> float:
    """Empirical-Bayes estimate of a generalised Pareto shape from sorted exceedances ``ary``
    (Zhang and Stephens, 2009), with ArviZ's prior: 10 pseudo-observations at k = 0.5."""
    prior_bs, prior_k = 3, 10
    n = len(ary)
    m_est = 30 + int(n**0.5)
    b_ary = 1 - np.sqrt(m_est / (np.arange(1, m_est + 1, dtype=float) - 0.5))
    b_ary /= prior_bs * ary[int(n / 4 + 0.5) - 1]
    b_ary += 1 / ary[-1]
    k_ary = np.log1p(-b_ary[:, None] * ary).mean(axis=1)
    len_scale = n * (np.log(-(b_ary / k_ary)) - k_ary - 1)
    weights = 1 / np.exp(len_scale - len_scale[:, None]).sum(axis=1)
    keep = weights >= 10 * np.finfo(float).eps
    weights, b_ary = weights[keep], b_ary[keep]
    b_post = np.sum(b_ary * weights / weights.sum())
    k_post = np.log1p(-b_post * ary).mean()
    return (n * k_post + prior_k * 0.5) / (n + prior_k)


def summarize(log_weights) -> dict:
    """The weights' diagnostics as the samplers report them: ``ess``, ``log_Z``, ``log_Z_se``,
    ``log_Z_lower_bound``, ``pareto_k``, ``num_particles`` and ``num_failed_particles`` (NaN log
    weights: particles whose ODE solve failed, counted and then given weight 0)."""
    lw = np.asarray(log_weights, dtype=np.float64)
    n_failed = int(np.sum(np.isnan(lw)))
    lw = finite_log_weights(lw)
    return {
        "ess": ess(lw),
        "log_Z": log_evidence(lw),
        "log_Z_se": log_evidence_se(lw),
        "log_Z_lower_bound": log_evidence_lower_bound(lw[np.isfinite(lw)]),
        "pareto_k": pareto_k(lw),
        "num_particles": int(lw.size),
        "num_failed_particles": n_failed,
    }


def weight_warnings(summary: dict, rejuvenated: Optional[int] = None) -> list:
    """The warnings a :func:`summarize` result calls for, each saying what to change: failed
    particles, a Pareto k-hat above :data:`PARETO_K_WARN`, and an ESS below :data:`ESS_WARN` with
    fewer than :data:`EFFECTIVE_DRAWS_WARN` effective draws. ``rejuvenated``: the number of HMC
    moves the resampled draws were given (:mod:`numpyro_pinn.rejuvenation`), which the warnings
    then say."""
    out = []
    n, n_failed, k = summary["num_particles"], summary["num_failed_particles"], summary["pareto_k"]
    if n_failed:
        out.append(
            f"{n_failed} of {n} particles have no importance weight: their ODE solve did not reach "
            "the target within the solver's step limit (a stiff flow, e.g. where the target is very "
            "narrow) or met a non-finite value. They are dropped, which biases the draws and log Z "
            "against those regions; train longer or use another method or base distribution.")
    if k > PARETO_K_WARN:
        out.append(
            f"Pareto k-hat of the importance weights is {k:.2f} > {PARETO_K_WARN}: the weights (and the "
            + ("ESS and log Z) are unreliable. The resampled draws were moved by "
               f"{rejuvenated} HMC steps targeting the posterior (rejuvenation), which corrects them as far as "
               "those steps mix (diagnostics['rejuvenation']); they are not independent. "
               if rejuvenated else "resampled draws, ESS and log Z) are unreliable. ")
            + "Train longer (`num_steps`), or warm-start from posterior draws.")
    n_eff = summary["ess"] * n
    if summary["ess"] < ESS_WARN and n_eff < EFFECTIVE_DRAWS_WARN:
        out.append(
            f"The importance weights' ESS is {summary['ess']:.3f}: the {n} particles hold about "
            f"{n_eff:.0f} independent draws, too few for reliable quantiles (the Monte Carlo error of a median "
            f"is about {1.25 / np.sqrt(max(n_eff, 1.0)):.2f} posterior sds"
            + (f"; the resampled draws were moved by {rejuvenated} HMC steps targeting the posterior "
               "(rejuvenation), which spreads the repeated ones and corrects them as far as those steps mix"
               if rejuvenated else "")
            + "). The transport is a poor proposal "
            "here: draw more particles (`num_particles`), train longer (`num_steps`), or warm-start from "
            "posterior draws (e.g. NUTS's); compare with the warm start's own draws "
            "(`get_warm_start_samples()`), which can be closer.")
    return out
