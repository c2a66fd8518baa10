"""The warm start's result (:class:`WarmStart`) and what every warm start shares: whitening from
draws, ``log Z`` by importance sampling, and the broad reference Gaussian."""
from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from numpyro_pinn.compiling import jit_once
from numpyro_pinn.gaussian import std_normal_log_prob
from numpyro_pinn.target import float_dtype
from numpyro_pinn.validation import all_finite

__all__ = ["WarmStart", "from_draws", "with_log_Z", "gaussian_importance", "defensive_importance", "reference",
           "DEFENSIVE_WEIGHT", "DEFENSIVE_SCALE"]

#: A refitted Gaussian is proposed with a defensive twin (Hesterberg, 1995): this share of the
#: draws comes from the same Gaussian widened :data:`DEFENSIVE_SCALE` times, so that a tail of the
#: target slightly heavier than the Gaussian's keeps the weights bounded (Pareto k) at almost no
#: cost in ESS.
DEFENSIVE_WEIGHT = 0.1
DEFENSIVE_SCALE = 1.5


class WarmStart(NamedTuple):
    """Affine whitening and posterior information from a warm start.

    Attributes
    ----------
    mean
        Whitening centre ``m``, shape ``(d,)``.
    chol
        Lower-triangular scale ``L``, shape ``(d, d)``; ``x = m + L y``.
    log_Z
        Estimate of ``log ∫ exp(-U(x)) dx`` used to centre the target.
    draws
        Approximate posterior draws ``(n, d)`` in ``x`` space (for collocation and the domain).
    method
        Which warm start produced it.
    num_evals
        Number of points at which the potential or its gradient was evaluated.
    mode_gap
        For a Laplace fit, the Newton decrement ``g^T Sigma g`` at ``mean`` (twice the drop in the
        potential a Newton step still predicts): about 0 at a mode, large where the density keeps
        rising, as along the neck of a hierarchical model whose density is unbounded, and infinite
        where the Hessian has a flat direction or the potential still falls one unit along a
        coordinate (see :func:`is_mode`). 0 for other warm starts.
    seconds
        Wall-clock seconds the warm start took, as :func:`numpyro_pinn.make_warm_start` (and so
        ``PINNSampler.run``) measured them, its checks included; 0 for one built otherwise.
    """

    mean: jax.Array
    chol: jax.Array
    log_Z: jax.Array
    draws: jax.Array
    method: str
    num_evals: int = 0
    mode_gap: float = 0.0
    seconds: float = 0.0


def from_draws(draws: jax.Array, log_Z: Optional[float] = None, method: str = "draws",
               weights: Optional[jax.Array] = None) -> WarmStart:
    """Whitening from posterior draws ``(n, d)`` (their mean and covariance; with ``weights``
    ``(n,)``, their weighted mean and unbiased weighted covariance).

    ``log_Z`` defaults to 0; :func:`with_log_Z` estimates it from the target (as
    :func:`numpyro_pinn.make_warm_start` does for draws).
    """
    draws = jnp.asarray(draws, dtype=float_dtype())
    if draws.ndim != 2 or draws.shape[0] < 2:
        raise ValueError(f"warm-start draws must have shape (n >= 2, d); got {draws.shape}.")
    mean, chol = _moments(draws, weights)
    if not all_finite(chol):
        raise ValueError("warm-start draws have a singular covariance; pass more (or more spread) draws.")
    lz = jnp.asarray(0.0 if log_Z is None else log_Z, dtype=float_dtype())
    return WarmStart(mean, chol, lz, draws, method)


@jit_once
def _moments(draws, weights):
    """The (weighted) mean and the Cholesky factor of the (weighted, unbiased) covariance, with a
    jitter of ``1e-9`` of its mean variance; one compiled program per shape."""
    mean = jnp.average(draws, axis=0, weights=weights)
    cov = jnp.atleast_2d(jnp.cov(draws, rowvar=False, aweights=weights))
    d = draws.shape[1]
    cov = cov + 1e-9 * jnp.trace(cov) / d * jnp.eye(d, dtype=cov.dtype)
    return mean, jnp.linalg.cholesky(cov)


def with_log_Z(rng_key: jax.Array, potential_fn: Callable, ws: WarmStart, num: int = 2048) -> WarmStart:
    """``ws`` with ``log_Z`` estimated by importance sampling from its own Gaussian
    ``N(mean, chol chol^T)`` (``num`` target evaluations, counted in ``num_evals``).

    The target is centred by ``log_Z`` before training, so that the learned ``log z`` is a small
    correction: draws alone (e.g. from NUTS) carry no evidence, and a normaliser of -8 (or -1000 on
    real data) left to the optimiser is learnt far too slowly, while the networks absorb it.
    """
    _, lw = gaussian_importance(rng_key, potential_fn, ws.mean, ws.chol, num)
    log_z = jax.scipy.special.logsumexp(lw) - jnp.log(num)
    if not all_finite(log_z):
        log_z = jnp.zeros((), ws.chol.dtype)
    return ws._replace(log_Z=log_z, num_evals=ws.num_evals + num)


def gaussian_importance(rng_key: jax.Array, potential_fn: Callable, mean: jax.Array, chol: jax.Array, num: int):
    """``num`` draws ``x`` of ``N(mean, chol chol^T)`` and their log importance weights against
    ``exp(-potential_fn)`` (``-inf`` where the target is not finite); ``num`` target evaluations."""
    return _weighted_draws(potential_fn, num, 0.0, 1.0, rng_key, mean, chol)


def defensive_importance(rng_key: jax.Array, potential_fn: Callable, mean: jax.Array, chol: jax.Array, num: int):
    """:func:`gaussian_importance` with the Gaussian's defensive twin: ``num`` draws of the mixture
    ``(1 - w) N(mean, L L^T) + w N(mean, s^2 L L^T)`` (``w`` :data:`DEFENSIVE_WEIGHT`, ``s``
    :data:`DEFENSIVE_SCALE`) and their log importance weights against ``exp(-potential_fn)``;
    ``num`` target evaluations."""
    return _weighted_draws(potential_fn, num, DEFENSIVE_WEIGHT, DEFENSIVE_SCALE, rng_key, mean, chol)


@partial(jit_once, static_argnums=(0, 1, 2, 3))
def _weighted_draws(potential_fn, num, w, s, key, mean, chol):
    """Draws of ``(1 - w) N(mean, L L^T) + w N(mean, s^2 L L^T)`` and their log weights; one compiled
    program per potential, number of draws and mixture."""
    k1, k2 = jax.random.split(key)
    eps = jax.random.normal(k1, (num, mean.shape[0]), dtype=chol.dtype)
    if w == 0.0:
        z, log_g = eps, std_normal_log_prob(eps)
    else:
        z = jnp.where(jax.random.uniform(k2, (num, 1)) < w, s * eps, eps)
        log_g = jnp.logaddexp(jnp.log1p(-w) + std_normal_log_prob(z),
                              jnp.log(w) + std_normal_log_prob(z / s) - z.shape[1] * jnp.log(s))
    x = mean + z @ chol.T
    lw = -jax.vmap(potential_fn)(x) - log_g + jnp.sum(jnp.log(jnp.abs(jnp.diag(chol))))
    return x, jnp.where(jnp.isfinite(lw), lw, -jnp.inf)


def reference(potential_fn: Callable, start: WarmStart, scale: float = 10.0, floor: float = 0.0):
    """The broad Gaussian reference ``N(m, scale^2 Sigma + floor^2 I)`` around a Laplace fit.

    Returns ``(m, L, logq_z)``: the reference is ``N(0, I)`` in ``z`` with ``x = m + L z``, and
    ``logq_z(z) = -U(m + L z) + log|det L|`` is the target density in ``z``.
    """
    m = start.mean
    L, logdet_l = _broad_factor(start.chol, scale, floor)

    def logq_z(z):
        return -potential_fn(m + L @ z) + logdet_l[0]

    return m, L, logq_z


@jit_once
def _broad_factor(chol, scale, floor):
    """The Cholesky factor of ``scale^2 chol chol^T + floor^2 I`` and its log determinant, as a
    one-element array: programs that close over it can take it as an argument (JAX hoists
    closed-over arrays, not scalars; docs, "Compilation")."""
    d = chol.shape[0]
    L = jnp.linalg.cholesky(scale**2 * (chol @ chol.T) + floor**2 * jnp.eye(d, dtype=chol.dtype))
    return L, jnp.sum(jnp.log(jnp.diag(L)))[None]
