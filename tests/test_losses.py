"""numpyro_pinn.transports.losses: the divergence estimators against exact values."""

import jax
import jax.numpy as jnp
import pytest

from numpyro_pinn.transports.losses import divergence


def test_divergence_exact_and_hutchinson_on_linear_field():
    a = jnp.array([[1.0, 2.0, 0.0], [0.5, -3.0, 1.0], [0.0, 4.0, 0.7]])
    f = lambda y: a @ y
    y = jnp.array([0.3, -1.0, 2.0])
    assert float(divergence(f, y, None)) == pytest.approx(float(jnp.trace(a)), rel=1e-6)
    eps = jax.random.rademacher(jax.random.PRNGKey(0), (20000, 3), dtype=jnp.float64)
    est = jax.vmap(lambda e: divergence(f, y, e))(eps)
    # Rademacher probes: var = 2 sum_{i != j} a_ij^2 (symmetrised); 5 standard errors.
    sym = 0.5 * (a + a.T)
    var = 2 * (jnp.sum(sym**2) - jnp.sum(jnp.diag(sym) ** 2))
    assert abs(float(jnp.mean(est)) - float(jnp.trace(a))) < 5 * float(jnp.sqrt(var / 20000))
