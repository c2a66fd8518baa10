"""The flat unconstrained target of a NumPyro model (:mod:`numpyro_pinn.target`)."""
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer.util import initialize_model

from numpyro_pinn.target import from_model, init_to_prior_centre

KEY = jax.random.PRNGKey(3)


def test_the_initial_point_is_each_sites_prior_mean_or_median():
    """``x0`` puts each latent site at its prior's mean, at its median where the mean is not finite
    (a half-Cauchy; a Cauchy whose location is another latent site, so that the choice is made
    inside NumPyro's compiled search), and an LKJ factor (no mean) at the identity; the point and
    the potential there are NumPyro's own eager search's with the same strategy."""
    from numpyro.distributions.transforms import biject_to

    def model(y):
        mu = numpyro.sample("mu", dist.Normal(1.5, 2.0))
        sigma = numpyro.sample("sigma", dist.HalfCauchy(2.0))
        p = numpyro.sample("p", dist.Dirichlet(jnp.array([1.0, 2.0, 3.0])))
        x = numpyro.sample("x", dist.Cauchy(mu, 1.0))
        corr = numpyro.sample("corr", dist.LKJCholesky(3, 2.0))
        numpyro.sample("y", dist.Normal(x + p[0] + corr[1, 0], sigma), obs=y)

    y = jnp.array([0.3, -1.2, 2.0])
    t = from_model(KEY, model, (y,))
    z = t.unravel_fn(t.x0)
    np.testing.assert_allclose(z["mu"], 1.5, rtol=1e-6)
    np.testing.assert_allclose(z["sigma"], np.log(2.0), rtol=1e-5)  # the median: the mean is infinite
    simplex = biject_to(dist.constraints.simplex)
    np.testing.assert_allclose(z["p"], simplex.inv(jnp.array([1.0, 2.0, 3.0]) / 6.0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z["x"], 1.5, rtol=1e-6)  # the median: the mean is nan
    np.testing.assert_allclose(z["corr"], 0.0, atol=1e-6)  # the identity factor
    info = initialize_model(jax.random.PRNGKey(1), model, init_strategy=init_to_prior_centre(), model_args=(y,))
    np.testing.assert_allclose(t.x0, jax.flatten_util.ravel_pytree(info.param_info.z)[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t.potential_fn(t.x0), info.potential_fn(info.param_info.z), rtol=1e-5)


def test_a_model_not_finite_at_its_prior_means_starts_from_numpyros_search():
    """Where the potential is not finite at the prior means, ``x0`` comes from NumPyro's search from
    prior draws (``init_to_median``), at a point where it is finite."""

    def model():
        x = numpyro.sample("x", dist.Normal(0.0, 1.0))
        numpyro.factor("hole", jnp.where(x == 0.0, -jnp.inf, 0.0))

    t = from_model(KEY, model)
    assert float(t.x0[0]) != 0.0
    assert np.isfinite(float(t.potential_fn(t.x0)))


def test_a_model_that_needs_concrete_values_gets_an_error_naming_the_site():
    """Python control flow on a sampled value cannot be traced, compiled or differentiated: the
    error names the site whose value the model branches on, not the others, and says what to write."""

    def model():
        numpyro.sample("tau", dist.HalfNormal(1.0))
        mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
        if float(mu) > 100.0:
            raise AssertionError
        numpyro.sample("y", dist.Normal(mu, 1.0), obs=0.5)

    with pytest.raises(ValueError, match=r"value of site\(s\) mu as .*jnp.where") as err:
        from_model(KEY, model)
    assert "tau" not in str(err.value)
    assert isinstance(err.value.__cause__, jax.errors.ConcretizationTypeError)
