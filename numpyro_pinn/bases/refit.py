"""One Gaussian refitted to the target by the cross-entropy method (``refit_gaussian``)."""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from numpyro_pinn.bases.mixture import PROPOSAL_DRAWS, make_mixture, proposal_draws
from numpyro_pinn.diagnostics import ess, finite_log_weights, normalised_weights, pareto_k
from numpyro_pinn.gaussian import whiten
from numpyro_pinn.warmstart import DEFENSIVE_SCALE, DEFENSIVE_WEIGHT, from_draws
from numpyro_pinn.validation import all_finite

__all__ = ["refit_gaussian", "MIN_GAIN", "MAX_PARETO_K", "DEFENSIVE_WEIGHT", "DEFENSIVE_SCALE"]

#: :func:`refit_gaussian` keeps a refitted Gaussian only if its ESS is higher by at least this much
#: (the ESS of 2,048 draws varies by a few hundredths between draws of the same proposal).
MIN_GAIN = 0.05
#: ... and its weights' Pareto k is below this (a narrower Gaussian can score a high ESS on a
#: finite sample while its weights have no variance).
MAX_PARETO_K = 0.7


def refit_gaussian(
    potential_fn: Callable,
    mean: jax.Array,
    chol: jax.Array,
    x: jax.Array,
    log_weights: jax.Array,
    rng_key: jax.Array,
    num_labels: int,
    max_iter: int = 3,
    num: int = PROPOSAL_DRAWS,
    min_gain: float = MIN_GAIN,
) -> tuple:
    """Refit a one-Gaussian proposal by the cross-entropy method: the Gaussian with the weighted
    mean and covariance of its own importance-weighted draws (the Gaussian closest to the target in
    ``KL(target || Gaussian)``, estimated from those draws), proposed with a defensive twin
    (:data:`numpyro_pinn.warmstart.DEFENSIVE_WEIGHT`, :data:`~numpyro_pinn.warmstart.DEFENSIVE_SCALE`) and scored on ``num`` fresh draws; repeated
    while the ESS rises by at least ``min_gain`` with a Pareto k below :data:`MAX_PARETO_K`, at
    most ``max_iter`` times.

    The warm start's whitening is the Gaussian of its draws (SMC particles, or a Laplace fit's
    weighted draws), whose covariance can be far off along a narrow direction of a strongly
    correlated posterior (a regression on an uncentred covariate); the target's own weights correct
    it. In many dimensions a covariance estimated from a few thousand weighted draws is itself too
    noisy, and the fresh score rejects it.

    Parameters
    ----------
    potential_fn
        The target's potential.
    mean, chol
        The whitening ``x = mean + chol y``.
    x, log_weights
        ``num`` draws ``(num, d)`` of the current proposal in ``x`` coordinates and their log weights
        (:func:`~numpyro_pinn.bases.proposal_draws`).
    rng_key
        PRNG key.
    num_labels
        The number of warm-start draws (the one component's labels).

    Returns
    -------
    tuple
        ``(mixture or None, log_weights, target evaluations)``: the last refitted two-component
        mixture (the Gaussian and its defensive twin) kept (``None``: none was better) and the log weights of its fresh draws (else the
        given ``log_weights``).
    """
    best, lw_best = None, finite_log_weights(log_weights)
    e_best, evals = ess(lw_best), 0
    for i in range(max_iter):
        fit = _weighted_gaussian(mean, chol, x, lw_best)
        if fit is None or not all_finite(fit[0]):
            break
        mu, L = fit
        cand = make_mixture(jnp.stack([mu, mu]), jnp.stack([L, DEFENSIVE_SCALE * L]),
                            np.log([1.0 - DEFENSIVE_WEIGHT, DEFENSIVE_WEIGHT]), np.zeros(num_labels, np.int32))
        x_new, lw_new = proposal_draws(potential_fn, mean, chol, cand, jax.random.fold_in(rng_key, i), num)
        evals += num
        lw_new = finite_log_weights(lw_new)
        e_new = ess(lw_new)
        if not (e_new >= e_best + min_gain and pareto_k(lw_new) < MAX_PARETO_K):
            break
        best, x, lw_best, e_best = cand, x_new, lw_new, e_new
    return best, lw_best, evals


def _weighted_gaussian(mean, chol, x, log_weights):
    """The weighted mean and the Cholesky factor of the weighted (unbiased) covariance of the
    whitened draws ``L^-1 (x - mean)``; ``None`` where the weights are degenerate."""
    try:
        fit = from_draws(whiten(mean, chol, x), weights=jnp.asarray(normalised_weights(log_weights)))
    except ValueError:
        return None
    return fit.mean, fit.chol
