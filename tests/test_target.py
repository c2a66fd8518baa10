"""The flat unconstrained target of a NumPyro model (:mod:`numpyro_pinn.target`)."""
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer.util import initialize_model

from numpyro_pinn.target import INIT_JITTER, from_model, init_to_prior_centre

KEY = jax.random.PRNGKey(3)


def test_the_initial_point_is_each_sites_prior_mean_or_median():
    """``x0`` puts each latent site at its prior's mean, at its median where the mean is not finite
    (a half-Cauchy; a Cauchy whose location is another latent site, so that the choice is made
    inside NumPyro's compiled search), and an LKJ factor (no mean) at the identity, each moved by
    at most ``INIT_JITTER`` in unconstrained space; the point is NumPyro's own eager search's with
    the same strategy, moved so, and the potential is NumPyro's."""
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
    tol = dict(rtol=0, atol=INIT_JITTER * 1.0001)
    np.testing.assert_allclose(z["mu"], 1.5, **tol)
    np.testing.assert_allclose(z["sigma"], np.log(2.0), **tol)  # the median: the mean is infinite
    simplex = biject_to(dist.constraints.simplex)
    np.testing.assert_allclose(z["p"], simplex.inv(jnp.array([1.0, 2.0, 3.0]) / 6.0), **tol)
    np.testing.assert_allclose(z["x"], 1.5, **tol)  # the median: the mean is nan
    np.testing.assert_allclose(z["corr"], 0.0, **tol)  # the identity factor
    info = initialize_model(jax.random.PRNGKey(1), model, init_strategy=init_to_prior_centre(), model_args=(y,))
    centre = jax.flatten_util.ravel_pytree(info.param_info.z)[0]
    np.testing.assert_allclose(t.x0, centre, **tol)
    assert float(jnp.min(jnp.abs(t.x0 - centre))) > 0.0
    np.testing.assert_allclose(t.potential_fn(centre), info.potential_fn(info.param_info.z), rtol=1e-5)


def test_the_initial_point_is_off_the_kink_of_a_binomial_at_logits_zero():
    """NumPyro's Binomial has a wrong gradient at logits exactly 0 (the prior mean of a centred
    coefficient): from there the Laplace fit's Newton steps all fail and no mode is found. From
    ``x0``, moved off the prior mean, the fit reaches the mode. Mutation: without the move, no mode."""
    from numpyro_pinn.warmstart import is_mode, laplace

    def model(n, k):
        a = numpyro.sample("a", dist.Normal(0.0, 1.0))
        numpyro.sample("k", dist.Binomial(n, logits=a), obs=k)

    n, k = jnp.full(4, 100.0), jnp.array([30.0, 25.0, 35.0, 28.0])
    f = lambda a: dist.Binomial(100.0, logits=a).log_prob(30.0)
    assert float(jax.grad(f)(0.0)) == pytest.approx(30.0)  # the kink: the right value is -20
    t = from_model(KEY, model, (n, k))
    assert 0.0 < abs(float(t.x0[0])) <= INIT_JITTER
    fit = laplace(t.potential_fn, t.x0)
    assert is_mode(fit)
    p = 118.0 / 400.0
    assert float(fit.mean[0]) == pytest.approx(np.log(p / (1 - p)), abs=0.02)


def test_a_model_not_finite_at_its_prior_means_starts_from_numpyros_search():
    """Where the potential is not finite at the prior means, ``x0`` comes from NumPyro's search from
    prior draws (``init_to_median``), at a point where it is finite."""

    def model():
        x = numpyro.sample("x", dist.Normal(0.0, 1.0))
        numpyro.factor("hole", jnp.where(x == 0.0, -jnp.inf, 0.0))

    t = from_model(KEY, model)
    assert float(t.x0[0]) != 0.0
    assert np.isfinite(float(t.potential_fn(t.x0)))


def test_a_model_not_finite_around_its_prior_means_starts_from_numpyros_search():
    """The initial search is compiled once by the package; where its point is not valid (not
    finite over a region wider than the start's jitter), NumPyro's own search from prior draws
    decides. Mutation: accepting the compiled search's point unchecked fails it (a potential not
    finite at ``x0``)."""

    def model():
        x = numpyro.sample("x", dist.Normal(0.0, 1.0))
        numpyro.factor("hole", jnp.where(jnp.abs(x) < 0.5, -jnp.inf, 0.0))

    t = from_model(KEY, model)
    assert abs(float(t.x0[0])) >= 0.5
    assert np.isfinite(float(t.potential_fn(t.x0)))


def test_a_support_that_depends_on_another_site_keeps_numpyros_potential():
    """A site whose support depends on another site's value (``Uniform(0, s)``): the potential
    and the constraining built through the compiled initial search equal NumPyro's at a point
    away from the start, so no value of the search's trace was kept in them."""

    def model(y):
        s = numpyro.sample("s", dist.LogNormal(0.0, 1.0))
        u = numpyro.sample("u", dist.Uniform(0.0, s))
        numpyro.sample("y", dist.Normal(u, 1.0), obs=y)

    with jax.enable_x64(True):
        t = from_model(KEY, model, (0.3,))
        info = initialize_model(KEY, model, model_args=(0.3,))
        z = {"s": jnp.asarray(0.7), "u": jnp.asarray(-1.2)}
        flat = jnp.stack([z["s"], z["u"]])
        assert float(t.potential_fn(flat)) == pytest.approx(float(info.potential_fn(z)), rel=1e-12)
        got, want = t.postprocess_fn(t.unravel_fn(flat)), info.postprocess_fn(z)
        assert float(got["u"]) == pytest.approx(float(want["u"]), rel=1e-12)


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
