"""Adapting HMC moves to a population of draws (numpyro_pinn.population)."""
import jax.numpy as jnp
import numpy as np

from numpyro_pinn.population import TARGET_ACCEPTANCE, adapt_step_size, inverse_mass


def test_inverse_mass_is_the_draws_covariance_and_stays_positive_definite():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)) @ np.array([[2.0, 0, 0], [0.5, 1.0, 0], [0, 0, 0.1]])
    np.testing.assert_allclose(np.asarray(inverse_mass(jnp.asarray(x))), np.cov(x, rowvar=False), rtol=1e-6)
    flat = np.c_[x[:, :2], np.ones(500)]  # collapsed along the third axis
    assert np.all(np.linalg.eigvalsh(np.asarray(inverse_mass(jnp.asarray(flat)))) > 0)


def test_step_size_shrinks_on_rejections_grows_on_acceptances_and_stays_bounded():
    s = jnp.asarray(0.1)
    assert float(adapt_step_size(s, TARGET_ACCEPTANCE)) == np.float32(0.1)
    assert float(adapt_step_size(s, 0.2)) < 0.1 < float(adapt_step_size(s, 1.0))
    assert float(adapt_step_size(jnp.asarray(1e-4), 0.0)) == np.float32(1e-4)
    assert float(adapt_step_size(jnp.asarray(5.0), 1.0)) == 5.0
