"""Gaussian log densities, factors and axes shared by the warm starts, base distributions,
tempering, the tail and propriety checks and the PINN losses."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from numpyro_pinn.compiling import jit_once

__all__ = ["std_normal_log_prob", "gaussian_log_pdf", "whiten", "psd_inverse_chol", "probe_directions",
           "FLAT_CURVATURE"]


def std_normal_log_prob(y: jax.Array) -> jax.Array:
    """``log N(y; 0, I)`` at one point ``y`` of shape ``(d,)`` (or over the last axis)."""
    return -0.5 * jnp.sum(y**2, axis=-1) - 0.5 * y.shape[-1] * jnp.log(2 * jnp.pi)


@jit_once
def whiten(mean: jax.Array, chol: jax.Array, x: jax.Array) -> jax.Array:
    """The rows of ``x`` ``(n, d)`` in the coordinates ``y = chol^-1 (x - mean)`` of the Gaussian
    ``N(mean, chol chol^T)`` (``chol`` lower triangular)."""
    return jax.scipy.linalg.solve_triangular(chol, (jnp.asarray(x) - mean).T, lower=True).T


def gaussian_log_pdf(means: jax.Array, chols: jax.Array, y: jax.Array, compute_dtype=None) -> jax.Array:
    """``log N(y_n; means_k, chols_k chols_k^T)`` for every point and component, shape ``(n, K)``
    (one component at a time: ``y`` ``(n, d)``, ``means`` ``(K, d)``, ``chols`` ``(K, d, d)`` lower).

    ``compute_dtype`` (e.g. ``jnp.float32``): with many points, the whitening products and the
    result are in this precision, after ``y - means_k`` and the inverse factors are formed in
    ``y``'s. On a CPU float32 products take about half the time of float64 ones; their relative
    error (about 1e-7 of each squared distance) matters only far from a component, where its density
    is negligible. For fits to draws, not for importance weights."""
    n, d = y.shape
    if n <= d:  # a few points: one triangular solve per component
        def one(mc):
            m, c = mc
            z = jax.scipy.linalg.solve_triangular(c, (y - m).T, lower=True)
            return std_normal_log_prob(z.T) - jnp.sum(jnp.log(jnp.abs(jnp.diag(c))))

        return jax.lax.map(one, (means, chols)).T

    # Many points: each component's inverse factor once, then one matrix product per component (on
    # CPU a triangular solve with many right-hand sides is several times slower than the product).
    eye = jnp.eye(d, dtype=chols.dtype)
    inv = jax.vmap(lambda c: jax.scipy.linalg.solve_triangular(c, eye, lower=True))(chols)
    cd = y.dtype if compute_dtype is None else compute_dtype

    def one_many(mc):
        m, ic, c = mc
        z = (y - m).astype(cd) @ ic.T.astype(cd)
        return std_normal_log_prob(z) - jnp.sum(jnp.log(jnp.abs(jnp.diag(c)))).astype(cd)

    return jax.lax.map(one_many, (means, inv, chols)).T


#: Curvature below which a direction of a Hessian counts as flat (a Gaussian scale above 1e3).
FLAT_CURVATURE = 1e-6


def psd_inverse_chol(h: jax.Array):
    """``(L, log|det H|)``: the Cholesky factor ``L`` of ``|H|^{-1}`` for a symmetric ``H`` (a
    Hessian), with eigenvalue magnitudes floored at :data:`FLAT_CURVATURE` (a flat direction gets
    scale 1e3)."""
    e, v = jnp.linalg.eigh(h)
    e = jnp.clip(jnp.abs(e), FLAT_CURVATURE, None)
    cov = (v / e) @ v.T
    cov = 0.5 * (cov + cov.T)
    return jnp.linalg.cholesky(cov), jnp.sum(jnp.log(e))


def probe_directions(cov) -> np.ndarray:
    """Unit directions ``(4 d, d)`` along which to probe a density's tails: the principal axes of
    ``cov`` and the coordinate axes, both ways."""
    cov = np.atleast_2d(np.asarray(cov, dtype=np.float64))
    _, vecs = np.linalg.eigh(cov)
    eye = np.eye(cov.shape[0])
    return np.concatenate([vecs.T, -vecs.T, eye, -eye])
