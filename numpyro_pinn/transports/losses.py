"""PDE residuals of the log-density parametrisation (paper eqs. 5-17).

With ``T = 1``,

    v(y, t) = t (log q(y) - log z(t)) + (1 - t) log p_prior(y) + t (1 - t) w(y, t),

and the log-density Fokker-Planck equation (eq. 5) with drift ``mu`` and diffusion ``sigma I`` is

    R(y, t) = d_t v + div mu + grad v . mu - sigma^2 / 2 (|grad v|^2 + Delta v) = 0

(:func:`fp_residual`). Every loss of the paper's Table 1 is this residual with a few terms fixed:
``sigma = 0`` gives the continuity equation (eq. 9, the ODE method); ``w = 0`` with a
time-dependent ``log z`` the annealed flow (eq. 10); ``mu = sigma^2 grad v - f`` the diffusion loss
(eq. 14); ``mu = grad Phi`` plus the HJB penalty (:func:`hjb_residual`, eq. 17) OT and SB.

Everything here is per point (``y`` of shape ``(d,)``, scalar ``t``) and is vmapped by the caller.
The target enters only through ``log q(y)`` and ``grad log q(y)`` at the point,
which the caller evaluates once per collocation point.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from numpyro_pinn.gaussian import std_normal_log_prob

__all__ = ["TargetValues", "divergence", "laplacian", "log_prior", "fp_residual", "hjb_residual"]


class TargetValues(NamedTuple):
    """``log q`` (centred, whitened coordinates), its gradient and (for ``sigma > 0`` losses) its
    Laplacian (exact or a Hutchinson estimate) at a collocation point."""

    logq: jax.Array
    grad_logq: jax.Array
    lap_logq: jax.Array | None = None


log_prior = std_normal_log_prob  # the default base distribution N(0, I), in whitened coordinates


def divergence(f: Callable[[jax.Array], jax.Array], y: jax.Array, eps: jax.Array | None) -> jax.Array:
    """Divergence of ``f`` at ``y``.

    Exact (``d`` forward-mode JVPs, via ``jacfwd``) when ``eps is None``;
    otherwise Hutchinson's unbiased estimate ``eps . J eps`` with one JVP
    (``eps`` Rademacher or Gaussian, shape ``(d,)``), or ``k`` independent estimates ``(k,)``
    for probes of shape ``(k, d)`` (one linearisation of ``f``, ``k`` JVPs).
    """
    if eps is None:
        return jnp.trace(jax.jacfwd(f)(y))
    if eps.ndim == 2:
        _, f_jvp = jax.linearize(f, y)
        e = eps.astype(y.dtype)
        return jnp.sum(e * jax.vmap(f_jvp)(e), axis=-1)
    _, jv = jax.jvp(f, (y,), (eps.astype(y.dtype),))
    return jnp.dot(eps.astype(jv.dtype), jv)


def laplacian(f: Callable[[jax.Array], jax.Array], y: jax.Array, eps: jax.Array | None) -> jax.Array:
    """Laplacian of the scalar ``f`` at ``y``: exact trace of the Hessian when ``eps is None``,
    otherwise Hutchinson's ``eps . H eps`` (one forward-over-reverse product per probe; ``eps``
    ``(d,)`` or ``(k, d)`` as for :func:`divergence`)."""
    if eps is None:
        return jnp.trace(jax.hessian(f)(y))
    return divergence(jax.grad(f), y, eps)


def fp_residual(dt_v, grad_v, lap_v, mu, div_mu, sigma2) -> jax.Array:
    """Residual of the log-density Fokker-Planck equation (eq. 5) at one point.

    ``d_t v + div mu + grad v . mu - sigma2 / 2 (|grad v|^2 + Delta v)``; ``lap_v`` is ignored
    (may be ``None``) when ``sigma2 == 0``.
    """
    r = dt_v + div_mu + jnp.dot(grad_v, mu)
    if sigma2:
        r = r - 0.5 * sigma2 * (jnp.sum(grad_v**2) + lap_v)
    return r


def hjb_residual(dt_phi, grad_phi, lap_phi, sigma2) -> jax.Array:
    """Residual of the HJB equation (eq. 16) whose solution gives the OT / SB drift ``grad Phi``:
    ``d_t Phi + |grad Phi|^2 / 2 + sigma2 / 2 Delta Phi``."""
    r = dt_phi + 0.5 * jnp.sum(grad_phi**2)
    if sigma2:
        r = r + 0.5 * sigma2 * lap_phi
    return r
