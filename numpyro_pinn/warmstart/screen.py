"""Screening the Laplace fit: is the posterior one near-Gaussian mode, so that the SMC warm start's
full run can be skipped?

A tempered SMC run with a few hundred particles (the screen) costs a fraction of the full run and
sees the same modes and tails, only more coarsely. Two tests decide, in this order:

1. **A reliable importance sampler**: the Laplace Gaussian's draws, weighted against the target,
   have Pareto k-hat below :data:`MAX_PARETO_K` and a normalised ESS of at least :data:`MIN_ESS`.
   When they do not, the Gaussian is refitted to the target by the cross-entropy method (the
   weighted mean and covariance of its own weighted draws, proposed with a defensive twin, at most
   :data:`REFIT_ITERS` times on :data:`REFIT_DRAWS` times as many draws; tried when the weights'
   Pareto k-hat is below :data:`REFIT_MAX_PARETO_K`, so that they have a finite mean (at 1 and
   above the Gaussian misses mass altogether, another mode or a funnel's neck, that a Gaussian
   refitted to its draws misses too), and they carry at least ``d + 1`` effective draws, enough
   for a covariance), which passes with a
   Pareto k-hat below :data:`MAX_PARETO_K` and as many effective draws as the Laplace test asks
   (:data:`MIN_ESS` times ``num_draws``): a posterior skewed by its likelihood (a logistic
   regression near separation) has its mode off its mean and its curvature narrower than its
   spread, and the refitted Gaussian covers it where the Laplace one does not. Most posteriors
   far from Gaussian fail here, before the screen runs.
2. **One mode, no far mass**: at most :func:`max_far` of the screen's particles lie beyond the
   Laplace Gaussian's :data:`FAR_QUANTILE` radius (``chi^2_d`` quantile of the squared Mahalanobis
   distance; for a refit, its proposal's, defensive twin included: :func:`far_radius2`): as many as a Gaussian posterior's draws exceed with probability :data:`FAR_ALARM`. Particles in another mode, or in a tail heavier than the Gaussian's, lie there;
   mass the Laplace Gaussian never proposes is what its importance weights cannot see, so a
   second mode passes the first test and fails this one.

When both pass, the warm start is the weighted draws (the Laplace Gaussian's or the refitted
one's): their weighted mean and covariance as the whitening, ``log Z`` by importance sampling,
and ``num_draws`` draws resampled by their weights.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
import scipy.stats

from numpyro_pinn.compiling import jit_once
from numpyro_pinn.diagnostics import ess, log_evidence, normalised_weights, pareto_k
from numpyro_pinn.resampling import systematic_resample
from numpyro_pinn.warmstart.base import (DEFENSIVE_SCALE, DEFENSIVE_WEIGHT, WarmStart, defensive_importance, from_draws,
                                         gaussian_importance)

__all__ = ["screen_laplace", "ScreenResult", "screen_size", "FAR_QUANTILE", "FAR_ALARM", "max_far", "MAX_PARETO_K",
           "MIN_ESS", "REFIT_ITERS", "REFIT_DRAWS", "REFIT_MIN_GAIN", "REFIT_MAX_PARETO_K", "far_radius2"]

#: The ``chi^2_d`` quantile of the squared Mahalanobis distance (in the Laplace metric) beyond
#: which a screen particle counts as far.
FAR_QUANTILE = 0.999
#: The chance that a Gaussian posterior's screen fails the far test (:func:`max_far`).
FAR_ALARM = 0.03
#: Largest Pareto k-hat of the Laplace Gaussian's importance weights that passes.
MAX_PARETO_K = 0.5
#: Smallest normalised ESS of those weights that passes.
MIN_ESS = 0.5
#: The most cross-entropy refits of a Laplace Gaussian that fails the first test.
REFIT_ITERS = 5
#: Each refit's draws, as a multiple of ``num_draws``: with ESS ``e`` they carry ``e`` times that
#: many effective draws, and the refit passes with ``MIN_ESS * num_draws`` of them.
REFIT_DRAWS = 4
#: The refits stop when one raises the ESS by less than this.
REFIT_MIN_GAIN = 0.02
#: The Laplace weights' largest Pareto k-hat at which a refit is tried.
REFIT_MAX_PARETO_K = 1.0


class ScreenResult(NamedTuple):
    """What :func:`screen_laplace` found. ``warm_start``: the weighted draws of the Laplace Gaussian
    (or of its refit) when both tests pass, else ``None``; ``reason``: what decided, in words; ``num_evals``: target evaluations spent on
    the importance weights (the screen's own are its SMC run's)."""

    warm_start: Optional[WarmStart]
    reason: str
    num_evals: int


def max_far(n: int) -> int:
    """Most of ``n`` screen particles allowed beyond the :data:`FAR_QUANTILE` radius: the
    ``1 - FAR_ALARM`` quantile of the count of ``n`` independent draws of a Gaussian posterior
    there (binomial, ``n`` times ``1 - FAR_QUANTILE`` on average). 1 for 256 particles (two or more
    in 2.6% of Gaussian screens), 3 for 800 (four per dimension in 200 dimensions)."""
    return int(scipy.stats.binom.ppf(1.0 - FAR_ALARM, int(n), 1.0 - FAR_QUANTILE))


def far_radius2(dim: int, defensive: bool = False) -> float:
    """The squared radius beyond which a screen particle counts as far: the
    :data:`FAR_QUANTILE` quantile of the squared Mahalanobis distance of the proposal's draws,
    ``chi^2_d``, or with ``defensive`` the Gaussian and its defensive twin's (:data:`DEFENSIVE_WEIGHT`
    of them ``DEFENSIVE_SCALE`` times wider): where the proposal itself sends one draw in a thousand."""
    q = 1.0 - FAR_QUANTILE
    if not defensive:
        return float(scipy.stats.chi2.isf(q, dim))
    w, s2 = DEFENSIVE_WEIGHT, DEFENSIVE_SCALE**2
    beyond = lambda c: (1.0 - w) * scipy.stats.chi2.sf(c, dim) + w * scipy.stats.chi2.sf(c / s2, dim) - q
    return float(scipy.optimize.brentq(beyond, scipy.stats.chi2.isf(q, dim), s2 * scipy.stats.chi2.isf(q, dim)))


def screen_size(particles: int, dim: int) -> int:
    """The screen's number of particles: ``particles``, and at least four per dimension (its HMC
    moves use the particles' covariance as their metric)."""
    return max(int(particles), 4 * int(dim))


def screen_laplace(rng_key: jax.Array, potential_fn: Callable, start: WarmStart,
                   screen_draws: Union[jax.Array, Callable[[], Optional[jax.Array]]], num_draws: int) -> ScreenResult:
    """Decide whether the Laplace fit ``start`` (at a mode) suffices as the warm start: weight
    ``num_draws`` of its draws against the target, and when the weights pass, look at the screen's
    particles ``screen_draws`` ``(n, d)``.

    ``screen_draws`` may be a function that runs the screen and returns its particles (``None``
    when it did not reach the posterior): it is called only when the weights pass, so that a
    posterior far from Gaussian does not pay for the screen.

    Returns
    -------
    ScreenResult
    """
    k_draw, k_refit, k_resample = jax.random.split(rng_key, 3)
    x, lw = gaussian_importance(k_draw, potential_fn, start.mean, start.chol, num_draws)
    lw = np.asarray(lw, np.float64)
    k, e = pareto_k(lw), ess(lw)
    evals, metric, refits = num_draws, (start.mean, start.chol), None
    if not (k < MAX_PARETO_K and e >= MIN_ESS):
        why = f"the Laplace fit's importance weights have Pareto k {k:.2f} and ESS {e:.2f}"
        if not (k < REFIT_MAX_PARETO_K and e * num_draws >= start.mean.shape[0] + 1):
            # Mass the Gaussian does not reach (weights without a finite mean), which no Gaussian
            # refitted to its draws reaches either, or too few effective draws to refit a covariance to.
            return ScreenResult(None, why, evals)
        refit = _refit(k_refit, potential_fn, start, num_draws)
        evals += refit.num_evals
        if refit.draws is None:
            return ScreenResult(None, why + refit.reason, evals)
        x, lw, metric, (k, e) = refit.draws, refit.log_weights, refit.metric, refit.score
        refits = refit.iterations
    what = "the Laplace fit" + _refitted(refits)
    particles = screen_draws() if callable(screen_draws) else screen_draws
    if particles is None:
        return ScreenResult(None, "the screen did not reach the posterior", evals)
    d = start.mean.shape[0]
    r2 = np.asarray(_squared_radii(*metric, particles))
    far = int(np.sum(~(r2 <= far_radius2(d, defensive=refits is not None))))
    n = particles.shape[0]
    if far > max_far(n):
        return ScreenResult(None, f"{far} of {n} screen particles beyond the {100 * FAR_QUANTILE:g}% radius "
                                  f"of {what}", evals)
    w = jnp.asarray(normalised_weights(lw), x.dtype)
    method = f"screened laplace{_refitted(refits)}: importance sampling (Pareto k {k:.2f}, ESS {e:.2f}; {far} of {n} screen particles far)"
    ws = from_draws(x, log_Z=log_evidence(lw), method=method, weights=w)
    return ScreenResult(ws._replace(draws=_resample(k_resample, lw, x, num_draws)), "passed", evals)


class _Refit(NamedTuple):
    draws: Optional[jax.Array]  # None: no refit passed
    log_weights: Optional[np.ndarray]
    metric: Optional[tuple]  # (mean, chol) of the passing refit's Gaussian
    score: Optional[tuple]  # (Pareto k, ESS)
    iterations: int
    num_evals: int
    reason: str  # why none passed ("" when one did)


def _refitted(n: Optional[int]) -> str:
    """How the Gaussian of the first test came from the Laplace fit (``None``: it is the fit)."""
    return "" if n is None else " with a defensive twin" if n == 0 else f" refitted {n} time{'s' * (n > 1)}"


def _refit(rng_key, potential_fn: Callable, start: WarmStart, num_draws: int) -> _Refit:
    """The cross-entropy refits of the first test (see the module's docstring): ``REFIT_DRAWS *
    num_draws`` draws of the Laplace Gaussian and its defensive twin are weighted, then of the
    Gaussian with their weighted mean and covariance, and so on; they stop when one passes, when a
    refit raised the ESS by less than :data:`REFIT_MIN_GAIN`, when the weighted draws have a
    singular covariance, or after :data:`REFIT_ITERS` refits."""
    num, mean, chol = REFIT_DRAWS * num_draws, start.mean, start.chol
    e_last, evals, kept, done = -np.inf, 0, None, 0
    for i in range(REFIT_ITERS + 1):
        x, lw = defensive_importance(jax.random.fold_in(rng_key, i), potential_fn, mean, chol, num)
        lw = np.asarray(lw, np.float64)
        evals, done = evals + num, i
        k, e = pareto_k(lw), ess(lw)
        kept = (k, e)
        if k < MAX_PARETO_K and e * num >= MIN_ESS * num_draws:
            return _Refit(x, lw, (mean, chol), (k, e), i, evals, "")
        if i == REFIT_ITERS or (i > 0 and e < e_last + REFIT_MIN_GAIN):
            break
        e_last = e
        try:
            fit = from_draws(x, weights=jnp.asarray(normalised_weights(lw), x.dtype))
        except ValueError:  # the weights sit on fewer draws than dimensions
            break
        mean, chol = fit.mean, fit.chol
    return _Refit(None, None, None, None, done, evals,
                  f"; refitted {done} time{'s' * (done != 1)}, no better (Pareto k {kept[0]:.2f}, ESS {kept[1]:.2f})")


@jit_once
def _squared_radii(mean, chol, x):
    """Squared Mahalanobis distances of the rows of ``x`` from ``mean`` in the metric ``chol chol^T``."""
    z = jax.scipy.linalg.solve_triangular(chol, (x - mean).T, lower=True)
    return jnp.sum(z**2, axis=0)


def _resample(rng_key, log_weights, x, num: int):
    """``num`` rows of ``x`` resampled by their ``log_weights`` (systematic resampling)."""
    idx = systematic_resample(rng_key, log_weights, num)
    return jnp.asarray(np.asarray(x)[idx])  # on the host: JAX's indexing compiles a program per operation
