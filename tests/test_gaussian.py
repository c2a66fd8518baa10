"""Gaussian helpers (:mod:`numpyro_pinn.gaussian`) against SciPy."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from numpyro_pinn.gaussian import gaussian_log_pdf


@pytest.mark.parametrize("n", [1, 3, 200])  # the few-points (solve) and many-points (inverse) paths
def test_gaussian_log_pdf_matches_scipy_for_every_point_and_component(n):
    rng = np.random.default_rng(0)
    k, d = 4, 3
    means = rng.normal(size=(k, d))
    a = rng.normal(size=(k, d, d))
    covs = a @ np.swapaxes(a, 1, 2) + 0.1 * np.eye(d)
    chols = np.linalg.cholesky(covs)
    y = rng.normal(size=(n, d)) * 2.0
    with jax.enable_x64(True):
        got = np.asarray(gaussian_log_pdf(jnp.asarray(means), jnp.asarray(chols), jnp.asarray(y)))
    want = np.stack([stats.multivariate_normal(means[j], covs[j]).logpdf(y).reshape(n) for j in range(k)], axis=1)
    assert got.shape == (n, k)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_gaussian_log_pdf_in_float32_keeps_narrow_components_far_from_the_origin_exact():
    """``compute_dtype=float32``: narrow components (sd 0.01) at 1,000 from the origin, evaluated
    at points drawn from them, are as exact as float64 to float32's precision on the whitened
    distances (``y - mean`` is formed in float64 first). Mutation: subtracting the mean in float32
    (casting ``y`` before it) makes the distances wrong by about 1e-4 / 0.01 and fails it."""
    rng = np.random.default_rng(2)
    k, d, n = 3, 5, 400
    with jax.enable_x64(True):
        means = jnp.asarray(1e3 + rng.normal(size=(k, d)))
        chols = jnp.asarray(0.01 * np.linalg.cholesky(np.eye(d) + 0.3 * np.ones((d, d)))[None].repeat(k, 0))
        y = means[rng.integers(0, k, n)] + jnp.asarray(0.01 * rng.normal(size=(n, d)))
        want = np.asarray(gaussian_log_pdf(means, chols, y))
        got = gaussian_log_pdf(means, chols, y, jnp.float32)
    assert got.dtype == jnp.float32
    near = want > want.max() - 50.0  # within 10 sds of a component
    assert near.sum() >= n
    np.testing.assert_allclose(np.asarray(got)[near], want[near], rtol=1e-5, atol=1e-3)


def test_whiten_inverts_the_gaussians_affine_map():
    """``whiten(mean, chol, mean + z chol^T) == z`` row by row. Mutation: the untransposed factor
    (``chol^T`` in the solve) fails it for a non-diagonal ``chol``."""
    from numpyro_pinn.gaussian import whiten

    rng = np.random.default_rng(1)
    d = 4
    a = rng.normal(size=(d, d))
    chol = np.linalg.cholesky(a @ a.T + 0.5 * np.eye(d))
    mean, z = rng.normal(size=d), rng.normal(size=(7, d))
    with jax.enable_x64(True):
        got = np.asarray(whiten(jnp.asarray(mean), jnp.asarray(chol), jnp.asarray(mean + z @ chol.T)))
    np.testing.assert_allclose(got, z, rtol=1e-10, atol=1e-10)
