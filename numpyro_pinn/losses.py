"""PDE residuals of the log-density parametrisation (paper eqs. 6 and 9).

With ``T = 1`` and a constant ``log z``,

    v(y, t) = t (log q(y) - log z) + (1 - t) log p_prior(y) + t (1 - t) w(y, t),

and the log continuity equation (eq. 9, Fokker-Planck with sigma = 0) is

    R(y, t) = d_t v + div mu + grad v . mu = 0.

Everything here is per point (``y`` of shape ``(d,)``, scalar ``t``) and is vmapped by the caller.
The target enters only through ``log q(y)`` and ``grad log q(y)`` at the point,
which the caller evaluates once per collocation point.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["TargetValues", "divergence", "log_prior", "ode_residual"]


class TargetValues(NamedTuple):
    """``log q`` (centred, whitened coordinates) and its gradient at a collocation point."""

    logq: jax.Array
    grad_logq: jax.Array


def log_prior(y: jax.Array) -> jax.Array:
    """Standard normal log density (the whitened prior)."""
    return -0.5 * jnp.sum(y**2) - 0.5 * y.shape[-1] * jnp.log(2 * jnp.pi)


def divergence(f: Callable[[jax.Array], jax.Array], y: jax.Array, eps: jax.Array | None) -> jax.Array:
    """Divergence of ``f`` at ``y``.

    Exact (``d`` forward-mode JVPs, via ``jacfwd``) when ``eps is None``;
    otherwise Hutchinson's unbiased estimate ``eps . J eps`` with one JVP
    (``eps`` Rademacher or Gaussian, shape ``(d,)``).
    """
    if eps is None:
        return jnp.trace(jax.jacfwd(f)(y))
    _, jv = jax.jvp(f, (y,), (eps.astype(y.dtype),))
    return jnp.dot(eps.astype(jv.dtype), jv)


def ode_residual(
    w_fn: Callable[[jax.Array, jax.Array], jax.Array],
    mu_fn: Callable[[jax.Array, jax.Array], jax.Array],
    log_z: jax.Array,
    y: jax.Array,
    t: jax.Array,
    tv: TargetValues,
    eps: jax.Array | None = None,
    prior=None,
) -> jax.Array:
    """Residual of the log continuity equation at one point ``(y, t)``.

    Parameters
    ----------
    w_fn, mu_fn
        ``w(y, t) -> scalar`` and ``mu(y, t) -> (d,)``.
    log_z
        Learned log normaliser (a correction to the warm start's estimate).
    tv
        Target values at ``y`` (float32 is fine: the target is centred).
    eps
        Hutchinson probe for the divergence, or ``None`` for the exact divergence.
    prior
        The base distribution (:class:`numpyro_pinn.priors.GaussianMixture`), ``None`` for ``N(0, I)``.
    """
    w, (gw, dtw) = jax.value_and_grad(w_fn, argnums=(0, 1))(y, t)
    mu = mu_fn(y, t)
    div = divergence(lambda z: mu_fn(z, t), y, eps)
    if prior is None:
        lp, glp = log_prior(y), -y
    else:
        lp, glp = jax.value_and_grad(prior.log_prob)(y)
    dt_v = tv.logq - log_z - lp + (1.0 - 2.0 * t) * w + t * (1.0 - t) * dtw
    grad_v = t * tv.grad_logq + (1.0 - t) * glp + t * (1.0 - t) * gw
    return dt_v + div + jnp.dot(grad_v, mu)
