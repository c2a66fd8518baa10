"""Screening the Laplace fit: is the posterior one near-Gaussian mode, so that the SMC warm start's
full run can be skipped?

A tempered SMC run with a few hundred particles (the screen) costs a fraction of the full run and
sees the same modes and tails, only more coarsely. Two tests decide, in this order:

1. **A reliable importance sampler**: the Laplace Gaussian's draws, weighted against the target,
   have Pareto k-hat below :data:`MAX_PARETO_K` and a normalised ESS of at least :data:`MIN_ESS`.
   Most posteriors far from Gaussian fail here, before the screen runs.
2. **One mode, no far mass**: at most :func:`max_far` of the screen's particles lie beyond the
   Laplace Gaussian's :data:`FAR_QUANTILE` radius (``chi^2_d`` quantile of the squared Mahalanobis
   distance): as many as a Gaussian posterior's draws exceed with probability :data:`FAR_ALARM`. Particles in another mode, or in a tail heavier than the Gaussian's, lie there;
   mass the Laplace Gaussian never proposes is what its importance weights cannot see, so a
   second mode passes the first test and fails this one.

When both pass, the warm start is the weighted draws: their weighted mean and covariance as the
whitening, ``log Z`` by importance sampling, and the draws resampled by their weights.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from numpyro_pinn.compiling import jit_once
from numpyro_pinn.diagnostics import ess, log_evidence, normalised_weights, pareto_k
from numpyro_pinn.resampling import systematic_resample
from numpyro_pinn.warmstart.base import WarmStart, from_draws, gaussian_importance

__all__ = ["screen_laplace", "ScreenResult", "screen_size", "FAR_QUANTILE", "FAR_ALARM", "max_far", "MAX_PARETO_K", "MIN_ESS"]

#: The ``chi^2_d`` quantile of the squared Mahalanobis distance (in the Laplace metric) beyond
#: which a screen particle counts as far.
FAR_QUANTILE = 0.999
#: The chance that a Gaussian posterior's screen fails the far test (:func:`max_far`).
FAR_ALARM = 0.03
#: Largest Pareto k-hat of the Laplace Gaussian's importance weights that passes.
MAX_PARETO_K = 0.5
#: Smallest normalised ESS of those weights that passes.
MIN_ESS = 0.5


class ScreenResult(NamedTuple):
    """What :func:`screen_laplace` found. ``warm_start``: the weighted Laplace draws when both tests pass,
    else ``None``; ``reason``: what decided, in words; ``num_evals``: target evaluations spent on
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
    d = start.mean.shape[0]
    k_draw, k_resample = jax.random.split(rng_key)
    x, lw = gaussian_importance(k_draw, potential_fn, start.mean, start.chol, num_draws)
    lw = np.asarray(lw, np.float64)
    k, e = pareto_k(lw), ess(lw)
    if not (k < MAX_PARETO_K and e >= MIN_ESS):
        return ScreenResult(None, f"the Laplace fit's importance weights have Pareto k {k:.2f} and ESS {e:.2f}",
                            num_draws)
    particles = screen_draws() if callable(screen_draws) else screen_draws
    if particles is None:
        return ScreenResult(None, "the screen did not reach the posterior", num_draws)
    r2 = np.asarray(_squared_radii(start.mean, start.chol, particles))
    far = int(np.sum(~(r2 <= scipy.stats.chi2.ppf(FAR_QUANTILE, d))))
    n = particles.shape[0]
    if far > max_far(n):
        return ScreenResult(None, f"{far} of {n} screen particles beyond the Laplace fit's "
                                  f"{100 * FAR_QUANTILE:g}% radius", num_draws)
    w = jnp.asarray(normalised_weights(lw), x.dtype)
    method = f"screened laplace: importance sampling (Pareto k {k:.2f}, ESS {e:.2f}; {far} of {n} screen particles far)"
    ws = from_draws(x, log_Z=log_evidence(lw), method=method, weights=w)
    return ScreenResult(ws._replace(draws=_resample(k_resample, lw, x)), "passed", num_draws)


@jit_once
def _squared_radii(mean, chol, x):
    """Squared Mahalanobis distances of the rows of ``x`` from ``mean`` in the metric ``chol chol^T``."""
    z = jax.scipy.linalg.solve_triangular(chol, (x - mean).T, lower=True)
    return jnp.sum(z**2, axis=0)


def _resample(rng_key, log_weights, x):
    """The rows of ``x`` resampled by their ``log_weights`` (systematic resampling), as many as there are."""
    idx = systematic_resample(rng_key, log_weights, x.shape[0])
    return jnp.asarray(np.asarray(x)[idx])  # on the host: JAX's indexing compiles a program per operation
