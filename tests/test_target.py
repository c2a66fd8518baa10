"""The flat unconstrained target of a NumPyro model (:mod:`numpyro_pinn.target`)."""
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer import init_to_median
from numpyro.infer.util import initialize_model

from numpyro_pinn.target import from_model

KEY = jax.random.PRNGKey(3)


def test_the_compiled_initial_point_search_finds_numpyros_initial_point():
    """``from_model`` searches for the initial point as one compiled program (a batch of one key);
    the point is the one NumPyro's own eager search finds with that key, and the potential is
    NumPyro's."""

    def model(y):
        mu = numpyro.sample("mu", dist.Normal(0.0, 2.0))
        sigma = numpyro.sample("sigma", dist.HalfCauchy(1.0))
        p = numpyro.sample("p", dist.Dirichlet(jnp.ones(3)))
        numpyro.sample("y", dist.Normal(mu + p[0], sigma), obs=y)

    y = jnp.array([0.3, -1.2, 2.0])
    t = from_model(KEY, model, (y,))
    info = initialize_model(KEY, model, init_strategy=init_to_median(num_samples=15), model_args=(y,))
    expected = jax.flatten_util.ravel_pytree(info.param_info.z)[0]
    assert t.x0.shape == (4,)  # mu, sigma and the simplex's two free coordinates
    np.testing.assert_allclose(t.x0, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t.potential_fn(t.x0), info.potential_fn(info.param_info.z), rtol=1e-5)


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
