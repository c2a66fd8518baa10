"""The tail diagnostic (numpyro_pinn.tails): target mass beyond the proposal's particles."""
import jax.numpy as jnp
import numpy as np
import pytest

from numpyro_pinn.tails import MIN_DROP, tail_check


def _particles(n=4000, d=2, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)), np.zeros(n)


def test_heavier_tail_is_flagged_along_its_own_direction():
    """Gaussian particles; the target is Gaussian in x[0] and Cauchy in x[1]: flagged, along x[1]
    (the Cauchy drop from the extent to 4 times it is about 2 log 4 = 2.8 nats)."""
    x, lw = _particles()
    U = lambda z: 0.5 * z[0] ** 2 + jnp.log1p(z[1] ** 2)
    tc = tail_check(U, x, lw)
    assert tc.heavier and tc.drop < 3.0
    assert abs(tc.direction[1]) > 0.99


def test_matching_and_lighter_tails_are_not_flagged():
    x, lw = _particles()
    for U in (lambda z: 0.5 * jnp.sum(z**2), lambda z: 0.5 * jnp.sum(z**2) / 0.25,
              lambda z: jnp.sum(jnp.abs(z)) * 3.0):  # exponential tails, as narrow as the particles
        tc = tail_check(U, x, lw)
        assert not tc.heavier and tc.drop > MIN_DROP


def test_weights_set_the_centre_and_too_few_particles_give_none():
    x, lw = _particles(n=50)
    assert tail_check(lambda z: 0.5 * jnp.sum(z**2), x, lw) is None
    x, lw = _particles()
    lw = np.where(np.arange(len(lw)) % 2 == 0, lw, -np.inf)  # non-finite weights are ignored
    assert not tail_check(lambda z: 0.5 * jnp.sum(z**2), x, lw).heavier


@pytest.mark.slow
def test_a_heavy_tailed_posterior_is_flagged_by_the_sampler():
    """mu ~ N(0, 100), y = 0.5 ~ Cauchy(mu, 1): sd 8.91 by quadrature. The default transport's
    tails are lighter (sd 6.8 measured, ESS 0.998, k 0.59: the weights cannot see it); the tail
    check must say so, naming the site."""
    import jax
    import numpyro
    import numpyro.distributions as dist

    from numpyro_pinn import PINNSampler

    def model(y):
        mu = numpyro.sample("mu", dist.Normal(0, 100))
        numpyro.sample("y", dist.Cauchy(mu, 1), obs=y)

    with pytest.warns(RuntimeWarning, match="tail is heavier than the proposal's.*'mu'"):
        s = PINNSampler(model, num_samples=2000, progress_bar=False).run(jax.random.PRNGKey(0), jnp.array(0.5))
    assert s.diagnostics["heavier_tail"] == "'mu'" and s.diagnostics["tail_drop"] < MIN_DROP
