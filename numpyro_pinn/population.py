"""Adapting HMC moves to a population of draws, as the SMC warm start and rejuvenation move
theirs: the inverse mass matrix from the draws' covariance, and one step size for all, steered
towards an acceptance rate of 0.75."""
from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["inverse_mass", "adapt_step_size", "TARGET_ACCEPTANCE"]

#: The mean acceptance rate the step size is steered towards.
TARGET_ACCEPTANCE = 0.75


def inverse_mass(x: jax.Array) -> jax.Array:
    """The covariance ``(d, d)`` of the draws ``x`` ``(n, d)``, with a jitter of ``1e-10`` times
    its mean variance on the diagonal (a population collapsed along a direction keeps a positive
    definite matrix)."""
    d = x.shape[1]
    cov = jnp.atleast_2d(jnp.cov(x, rowvar=False))
    return cov + 1e-10 * jnp.trace(cov) / d * jnp.eye(d, dtype=cov.dtype)


def adapt_step_size(step_size: jax.Array, acceptance: jax.Array) -> jax.Array:
    """The next step size: ``step_size * exp(2 (acceptance - 0.75))``, clipped to ``[1e-4, 5]``
    (a multiplicative rule: too many rejections shrink it, too few grow it)."""
    new = jnp.clip(step_size * jnp.exp(2.0 * (acceptance - TARGET_ACCEPTANCE)), 1e-4, 5.0)
    return new.astype(jnp.result_type(step_size))
